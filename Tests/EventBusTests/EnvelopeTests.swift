import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Testing

@Suite("Event envelope on the stream")
struct EnvelopeTests {
    @Test func typedRoundTripKeepsEveryFieldReadable() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in "todo-events-rt" }))
            let event = TodoCreated(todoID: "t-1", userID: "u-7", title: "Buy milk \"now\" ✓", priority: 3)
            let context = EventContext(
                correlationID: "corr-1", causationID: "req-9",
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", metadata: ["tenant": "acme"])
            let before = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let id = try await publisher.publish(event, context: context)

            // What an operator sees with `redis-cli XRANGE todo-events-rt - +`: plain text fields.
            let entries = try await client.xrange("todo-events-rt")
            #expect(entries.count == 1)
            let entry = entries[0]
            #expect(entry.id == id)
            #expect(
                entry.fields.map(\.name) == [
                    "event_id", "event_type", "event_version", "aggregate_type", "aggregate_id", "timestamp",
                    "correlation_id", "causation_id", "traceparent", "meta.tenant", "data",
                ])
            #expect(entry.string(named: "event_type") == "todo.created")
            #expect(entry.string(named: "event_version") == "1")
            #expect(entry.string(named: "aggregate_type") == "todo")
            #expect(entry.string(named: "aggregate_id") == "t-1")
            #expect(entry.string(named: "correlation_id") == "corr-1")
            #expect(entry.string(named: "causation_id") == "req-9")
            #expect(entry.string(named: "meta.tenant") == "acme")
            let eventID = try #require(entry.string(named: "event_id"))
            #expect(UUID(uuidString: eventID) != nil)
            #expect(eventID == eventID.lowercased())
            let timestamp = try #require(entry.string(named: "timestamp"))
            #expect(timestamp.count == 27 && timestamp.hasSuffix("Z"), "\(timestamp)")
            let json = try #require(entry.value(named: "data"))
            let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
            #expect(object?["title"] as? String == "Buy milk \"now\" ✓")
            #expect(object?["user_id"] as? String == "u-7")
            #expect(object?["priority"] as? Int == 3)

            // And the typed view decodes every field back.
            let raw = try RawEvent(stream: "todo-events-rt", entry: entry)
            #expect(raw.envelope.eventID == eventID)
            #expect(raw.envelope.eventType == "todo.created")
            #expect(raw.envelope.eventVersion == 1)
            #expect(raw.envelope.aggregateType == "todo")
            #expect(raw.envelope.aggregateID == "t-1")
            #expect(raw.envelope.correlationID == "corr-1")
            #expect(raw.envelope.causationID == "req-9")
            #expect(raw.envelope.traceparent == context.traceparent)
            #expect(raw.envelope.metadata == ["tenant": "acme"])
            #expect(abs(raw.envelope.timestampMicroseconds - before) < 5_000_000)
            #expect(raw.envelope.timestampText == timestamp)
            #expect(try TodoCreated.decode(from: raw.data, version: 1) == event)
        }
    }

    @Test func newFlowGetsACorrelationIDAndCausationDefaultsToIt() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let publisher = EventPublisher(client: client)
            try await publisher.publish(makeTodo(1))
            try await publisher.publish(makeTodo(2))
            let entries = try await client.xrange("todo-events")
            let correlations = entries.compactMap { $0.string(named: "correlation_id") }
            #expect(correlations.count == 2 && Set(correlations).count == 2)
            #expect(entries.map { $0.string(named: "causation_id") } == correlations)
        }
    }

    @Test func missingOrInvalidEnvelopeFieldsAreNamed() throws {
        let id = StreamEntryID(milliseconds: 1, sequence: 0)
        let complete: [(String, String)] = [
            ("event_id", "e"), ("event_type", "todo.created"), ("event_version", "1"), ("aggregate_type", "todo"),
            ("aggregate_id", "a"), ("timestamp", "2026-11-25T01:02:38.523845Z"), ("correlation_id", "c"),
            ("causation_id", "c"), ("data", "{}"),
        ]
        #expect(throws: Never.self) { try RawEvent(stream: "s", entry: StreamEntry(id: id, fields: complete)) }
        for (index, field) in complete.enumerated() {
            var fields = complete
            fields.remove(at: index)
            do {
                _ = try RawEvent(stream: "s", entry: StreamEntry(id: id, fields: fields))
                Issue.record("accepted an entry without \(field.0)")
            } catch let error as EventBusError {
                #expect(error.code == .undecodable)
                #expect(error.message.contains(field.0))
            }
        }
        for (name, bad) in [("event_version", "0"), ("event_version", "x"), ("timestamp", "yesterday")] {
            let fields = complete.map { $0.0 == name ? (name, bad) : $0 }
            #expect(throws: EventBusError.self) { try RawEvent(stream: "s", entry: StreamEntry(id: id, fields: fields)) }
        }
    }

    @Test func newerVersionThanKnownIsRejected() throws {
        do {
            _ = try TodoCompleted.decode(from: ArraySlice(#"{"todo_id":"x"}"#.utf8), version: 2)
            Issue.record("accepted v2")
        } catch let error as EventBusError {
            #expect(error.code == .unsupportedVersion)
        }
    }

    @Test func eventIDsAreRandomVersion4UUIDs() {
        let ids = (0..<2000).map { _ in EventID.generate() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(50) {
            let uuid = UUID(uuidString: id)
            #expect(uuid != nil)
            #expect(Array(id)[14] == "4")
            #expect("89ab".contains(Array(id)[19]))
        }
    }
}
