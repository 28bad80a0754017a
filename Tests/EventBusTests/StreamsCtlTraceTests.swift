import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Runs the built `streamsctl trace` against a private server holding one flow made by real
/// consumers: a root event, two children in another stream (published by the root's
/// handler), a grandchild in a third stream; group `workflow` handles everything, `mail`
/// leaves one child pending and has not read the other, `billing` dead-letters the
/// grandchild.
@Suite("streamsctl trace")
struct StreamsCtlTraceTests {
    private func ctl(_ arguments: [String], url: String) async throws -> (exitCode: Int32, output: String) {
        let executable = try ChildProcess.builtExecutable(named: "streamsctl")
        return try await ChildProcess.run(
            executable, arguments + ["--redis-url", url], environment: ["PATH": "/usr/bin:/bin"])
    }

    /// The flow's streams and ids.
    struct Flow {
        let correlationID: String
        let orders: String, steps: String, notices: String
        let root: StreamEntryID, grandchild: StreamEntryID
        let children: [StreamEntryID]
    }

    /// Builds the flow with real consumers and waits until every group reached its state.
    private func makeFlow(_ server: LocalRedisServer, _ client: RedisClient) async throws -> Flow {
        let redis = try RedisConfiguration(url: server.url)
        let suffix = UUID().uuidString.prefix(8)
        let (orders, steps, notices) = ("orders-\(suffix)", "steps-\(suffix)", "notices-\(suffix)")
        let correlationID = "flow-\(UUID().uuidString.lowercased())"
        let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in orders }))

        // Another flow in the same streams, and keys that are not event streams.
        try await client.send(
            RedisCommand("XADD", arguments: [steps, "*"] + envelopeFields(type: "todo.completed").map {
                $0 == "c" ? "other-flow" : $0
            }))
        try await client.send("XADD", "saga:{order}:history", "*", "saga_id", "o1", "event", "started")
        try await client.send("HSET", "not-a-stream", "correlation_id", correlationID)

        var workflow = EventHandlers()
        workflow.on(TodoCreated.self) { received in
            guard received.stream == orders else { return }  // the grandchild: nothing to do
            let children = [TodoCompleted(todoID: "step-1"), TodoCompleted(todoID: "step-2")]
            _ = try await client.entryIDs(
                try children.map { try publisher.xaddCommand(for: $0, stream: steps, context: received.context) })
        }
        workflow.on(TodoCompleted.self) { received in
            guard received.event.todoID == "step-1" else { return }
            _ = try await client.entryIDs([
                try publisher.xaddCommand(for: makeTodo(1, aggregate: "notice-1"), stream: notices, context: received.context)
            ])
        }
        var failing = EventHandlers()
        failing.on(TodoCreated.self) { _ in throw TestFailure(description: "card declined") }

        var tasks: [Task<Void, Error>] = []
        for stream in [orders, steps, notices] {
            let configuration = quickRetries(
                .init(stream: stream, group: "workflow", consumerName: "wf-1", startPosition: .beginning))
            tasks.append(start(try EventConsumer(redis: redis, configuration: configuration, handlers: workflow)))
        }
        let billing = quickRetries(
            .init(stream: notices, group: "billing", consumerName: "biller-1", startPosition: .beginning), maxDeliveries: 2)
        tasks.append(start(try EventConsumer(redis: redis, configuration: billing, handlers: failing)))

        let root = try await publisher.publish(
            makeTodo(0, aggregate: "order-1"), context: EventContext(correlationID: correlationID))
        let done = try await eventually(timeout: .seconds(20)) {
            guard try await client.xlen(notices) == 1,
                try await deadLetters(client, notices, "billing").count == 1
            else { return false }
            for stream in [orders, steps, notices] {
                guard try await pendingCount(client, stream, "workflow") == 0,
                    let last = try await client.xrange(stream).last?.id,
                    let delivered = try await StreamInspector(client: client).groups(stream: stream)
                        .first(where: { $0.name == "workflow" })?.lastDeliveredID,
                    delivered >= last
                else { return false }
            }
            return true
        }
        await stop(tasks)
        try #require(done, "the flow did not complete")

        // mail reads the first child and never acknowledges it; the second stays undelivered.
        try await client.xgroupCreate(steps, group: "mail", startAt: "0")
        let read = try await client.xreadgroup(group: "mail", consumer: "mailer-1", stream: steps, count: 2)
        let children = try await client.xrange(steps).filter { $0.string(named: "correlation_id") == correlationID }.map(\.id)
        try #require(children.count == 2 && read.map(\.id).contains(children[0]))
        if read.count == 2 { try await client.xack(steps, group: "mail", ids: [read[0].id]) }  // the other flow's entry
        let grandchild = try #require(try await client.xrange(notices).first?.id)
        return Flow(
            correlationID: correlationID, orders: orders, steps: steps, notices: notices, root: root,
            grandchild: grandchild, children: children)
    }

    @Test("the tree, the times and every group's state, as text and as JSON")
    func traceTextAndJSON() async throws {
        try await OpsFixture.withClient { server, client in
            let flow = try await makeFlow(server, client)

            let (code, text) = try await ctl(["trace", flow.correlationID], url: server.url)
            #expect(code == 0, "\(text)")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.hasPrefix("flow \(flow.correlationID): 4 event(s) in 3 stream(s), from ") == true)
            // The tree: the root, its two children (first one not last), the grandchild under the first.
            func line(_ prefix: String) -> Int? { lines.firstIndex { $0.hasPrefix(prefix) } }
            let rootLine = try #require(line("todo.created  \(flow.orders) \(flow.root)  "), "\(text)")
            let first = try #require(line("├─ todo.completed  \(flow.steps) \(flow.children[0])  "), "\(text)")
            let grand = try #require(line("│  └─ todo.created  \(flow.notices) \(flow.grandchild)  "), "\(text)")
            let second = try #require(line("└─ todo.completed  \(flow.steps) \(flow.children[1])  "), "\(text)")
            #expect(rootLine < first && first < grand && grand < second)
            #expect(lines[rootLine].hasSuffix("  +0 ms"))
            // The offset from the root: "+N ms", or "+N.NNN s" when a loaded machine took longer.
            #expect(lines[first].contains(Self.time(flow.children[0])) && lines[first].contains("  +"))
            #expect(lines[first].hasSuffix(" ms") || lines[first].hasSuffix(" s"))
            // Each event's details, under it, with the tree's bars.
            #expect(lines[rootLine + 1].hasPrefix("│  event ") && lines[rootLine + 1].hasSuffix("aggregate todo order-1"))
            #expect(lines[(rootLine + 1)..<first].contains("│  workflow  handled"))
            #expect(lines[first + 1].hasPrefix("│  │  event ") && lines[first + 1].hasSuffix("aggregate todo step-1"))
            #expect(lines[first..<grand].contains("│  │  mail      pending (consumer mailer-1, 1 deliveries)"))
            #expect(lines[first..<grand].contains("│  │  workflow  handled"))
            let grandDetails = lines[grand..<second]
            #expect(
                grandDetails.contains {
                    $0.hasPrefix("│        billing   dead-lettered: max_deliveries (consumer biller-1, 2 deliveries): ")
                        && $0.contains("card declined")
                }, "\(text)")
            #expect(grandDetails.contains("│        workflow  handled"))
            #expect(lines[second...].contains("      mail      not yet delivered"))
            #expect(lines[second...].contains("      workflow  handled"))
            #expect(!text.contains("other-flow"))

            let (jsonCode, output) = try await ctl(["trace", flow.correlationID, "--json"], url: server.url)
            #expect(jsonCode == 0, "\(output)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            #expect(document["correlation_id"] as? String == flow.correlationID)
            #expect(document["event_count"] as? Int == 4 && document["stream_count"] as? Int == 3)
            #expect(document["complete"] as? Bool == true)
            let roots = try #require(document["events"] as? [[String: Any]])
            try #require(roots.count == 1)
            let root = roots[0]
            #expect(root["stream"] as? String == flow.orders && root["entry_id"] as? String == flow.root.description)
            #expect(root["event_type"] as? String == "todo.created" && root["aggregate_id"] as? String == "order-1")
            #expect(root["causation_id"] as? String == flow.correlationID && root["offset_ms"] as? Int == 0)
            #expect(root["time"] as? String == Self.time(flow.root) && root["source"] as? String == "stream")
            #expect(Self.states(root) == ["workflow": "handled"])
            let children = try #require(root["children"] as? [[String: Any]])
            try #require(children.count == 2)
            #expect(children.map { $0["entry_id"] as? String } == flow.children.map(\.description))
            #expect(children.allSatisfy { $0["causation_id"] as? String == root["event_id"] as? String })
            #expect(Self.states(children[0]) == ["workflow": "handled", "mail": "pending"])
            let pending = try #require(Self.group("mail", of: children[0]))
            #expect(pending["consumer"] as? String == "mailer-1" && pending["deliveries"] as? Int == 1)
            #expect(Self.states(children[1]) == ["workflow": "handled", "mail": "not_yet_delivered"])
            #expect(((children[1]["offset_ms"] as? Int) ?? -1) >= 0)
            #expect((children[1]["children"] as? [[String: Any]])?.isEmpty == true)
            let grandchildren = try #require(children[0]["children"] as? [[String: Any]])
            try #require(grandchildren.count == 1)
            let grandchild = grandchildren[0]
            #expect(grandchild["stream"] as? String == flow.notices && grandchild["aggregate_id"] as? String == "notice-1")
            #expect(grandchild["causation_id"] as? String == children[0]["event_id"] as? String)
            #expect(Self.states(grandchild) == ["workflow": "handled", "billing": "dead_lettered"])
            let dead = try #require(Self.group("billing", of: grandchild))
            #expect(dead["reason"] as? String == "max_deliveries" && dead["deliveries"] as? Int == 2)
            #expect((dead["error"] as? String)?.contains("card declined") == true)

            // Only the dead letter is after --since: the grandchild is shown from it.
            let since = "\(flow.grandchild.milliseconds + 1)-0"
            let (sinceCode, sinceOutput) = try await ctl(["trace", flow.correlationID, "--since", since, "--json"], url: server.url)
            #expect(sinceCode == 0, "\(sinceOutput)")
            let late = try #require(try JSONSerialization.jsonObject(with: Data(sinceOutput.utf8)) as? [String: Any])
            let lateRoots = try #require(late["events"] as? [[String: Any]])
            #expect(lateRoots.count == 1 && lateRoots.first?["source"] as? String == "dead_letters")
            #expect(lateRoots.first?["entry_id"] as? String == flow.grandchild.description)
            #expect(lateRoots.first.map(Self.states) == ["workflow": "handled", "billing": "dead_lettered"])
        }
    }

    @Test("an unknown correlation id exits 1 with a message; a bad URL as every command")
    func unknownCorrelationID() async throws {
        try await OpsFixture.withClient { server, client in
            try await client.send(RedisCommand("XADD", arguments: ["s", "*"] + envelopeFields()))
            for arguments in [["trace", "no-such-flow"], ["trace", "no-such-flow", "--json"]] {
                let (code, output) = try await ctl(arguments, url: server.url)
                #expect(code == 1)
                #expect(output.contains("streamsctl: no events with correlation id no-such-flow (read 1 entries in 1 streams)"))
            }
            let (future, output) = try await ctl(["trace", "c", "--since", "2999-01-01T00:00:00Z"], url: server.url)
            #expect(future == 1 && output.contains("no events with correlation id c"), "\(output)")
            let (bad, badOutput) = try await ctl(["trace", "c", "--since", "yesterday"], url: server.url)
            #expect(bad != 0 && badOutput.contains("yesterday"))
        }
        let (code, output) = try await ctl(["trace", "c"], url: "http://example.com")
        #expect(code == 1 && output.contains("invalid Redis URL"))
    }

    @Test("FlowTracer: an event store copy is folded into also_in, a replay is a sibling, a causation cycle still shows")
    func copiesReplaysAndCycles() async throws {
        try await OpsFixture.withClient { _, client in
            let suffix = UUID().uuidString.prefix(8)
            let (stream, other) = ("todo-events-\(suffix)", "audit-\(suffix)")
            let history = "es:{\(stream)}:t1"
            func fields(_ eventID: String, cause: String, extra: [String] = []) -> [String] {
                [
                    "event_id", eventID, "event_type", "todo.created", "event_version", "1", "aggregate_type", "todo",
                    "aggregate_id", "t1", "timestamp", "2026-12-01T00:00:00.000000Z", "correlation_id", "flow-x",
                    "causation_id", cause, "data", "{}",
                ] + extra
            }
            func add(_ key: String, _ fields: [String], id: String = "*") async throws -> StreamEntryID {
                try await client.entryIDs([RedisCommand("XADD", arguments: [key, id] + fields)])[0]
            }
            try await client.xgroupCreate(stream, group: "g", startAt: "0")
            // Explicit ids (ms 1000 to 1004): the order does not depend on the clock.
            let root = try await add(stream, fields("e1", cause: "flow-x"), id: "1000-0")
            _ = try await add(history, fields("e1", cause: "flow-x"), id: "0-1")
            let child = try await add(stream, fields("e2", cause: "e1"), id: "1001-0")
            let replay = try await add(
                stream, fields("e2", cause: "e1", extra: [DeadLetter.replayedFromField, child.description]), id: "1002-0")
            let cycleA = try await add(other, fields("e3", cause: "e4"), id: "1003-0")
            let cycleB = try await add(other, fields("e4", cause: "e3"), id: "1004-0")
            _ = try await client.xreadgroup(group: "g", consumer: "c", stream: stream, count: 2)
            try await client.xack(stream, group: "g", ids: [root])

            let trace = try await FlowTracer(client: client, pageSize: 2).trace(correlationID: "flow-x")
            #expect(trace.complete && trace.streamsRead == 3 && trace.entriesRead == 6)
            #expect(trace.roots.map(\.ref) == [.init(stream: stream, entryID: root), .init(stream: other, entryID: cycleA)])
            let first = trace.roots[0]
            #expect(first.alsoIn == [.init(stream: history, entryID: StreamEntryID(milliseconds: 0, sequence: 1))])
            #expect(first.groups == [.init(group: "g", state: .handled)] && first.offset == .zero)
            #expect(first.children.map(\.entryID) == [child, replay])
            #expect(first.children.map(\.replayedFrom) == [nil, child])
            #expect(first.children[0].groups.first?.state == .pending && first.children[0].groups.first?.consumer == "c")
            #expect(first.children[1].groups == [.init(group: "g", state: .notYetDelivered)])
            #expect(trace.roots[1].children.map(\.entryID) == [cycleB] && trace.roots[1].groups.isEmpty)
            #expect(trace.roots[1].children.first?.offset == .milliseconds(4))
            #expect(trace.events.count == 5)

            // A window after every entry finds nothing; an unknown flow is empty, not an error.
            let later = FlowTracer.Window(since: .entryID(StreamEntryID(milliseconds: cycleB.milliseconds + 1, sequence: 0)))
            #expect(try await FlowTracer(client: client).trace(correlationID: "flow-x", window: later).isEmpty)
            #expect(try await FlowTracer(client: client).trace(correlationID: "flow-y").isEmpty)
            let capped = try await FlowTracer(client: client, maxEntries: 1).trace(correlationID: "flow-x")
            #expect(!capped.complete && capped.entriesRead == 1)
        }
    }

    // MARK: Helpers

    /// `group → state` of a JSON event.
    static func states(_ event: [String: Any]) -> [String: String] {
        var states: [String: String] = [:]
        for group in event["groups"] as? [[String: Any]] ?? [] {
            if let name = group["group"] as? String { states[name] = group["state"] as? String }
        }
        return states
    }

    static func group(_ name: String, of event: [String: Any]) -> [String: Any]? {
        (event["groups"] as? [[String: Any]])?.first { $0["group"] as? String == name }
    }

    /// An entry id's time as `trace` prints it.
    static func time(_ id: StreamEntryID) -> String {
        let text = RFC3339.string(microsecondsSinceEpoch: Int64(id.milliseconds) * 1000)
        return String(text.dropLast(4)) + "Z"
    }
}
