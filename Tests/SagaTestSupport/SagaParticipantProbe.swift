import EventBus
import RedisClient
import SagaRuntime
import TestSupport

/// Drives a saga participant the way the coordinator does, for tests: writes command
/// envelopes with `meta.saga_*` to the participant's command stream, reads its replies back
/// from its event stream, and watches its group's pending commands.
public struct SagaParticipantProbe: Sendable {
    public let client: RedisClient
    public let commandStream: String
    public let replyStream: String
    /// The participant's consumer group on `commandStream`.
    public let group: String

    public init(client: RedisClient, commandStream: String, replyStream: String, group: String) {
        self.client = client
        self.commandStream = commandStream
        self.replyStream = replyStream
        self.group = group
    }

    /// Writes `command` to the command stream with correlation id `flow-<saga>` and the saga
    /// fields `saga_id` = `saga`, `saga_type` = `type`, `saga_step` = `step`.
    public func send(_ command: some DomainEvent, saga: String, step: Int, type: String = "order") async throws {
        let publisher = EventPublisher(client: client, configuration: .init(streamName: { [commandStream] _ in commandStream }))
        try await publisher.publish(
            command,
            context: EventContext(
                correlationID: "flow-\(saga)",
                metadata: [SagaMessageMetadata.sagaID: saga, SagaMessageMetadata.sagaType: type, SagaMessageMetadata.sagaStep: "\(step)"]))
    }

    /// The replies about `aggregateID` on the reply stream, oldest first.
    public func replies(_ aggregateID: String) async throws -> [RawEvent] {
        try await client.xrange(replyStream).map { try RawEvent(stream: replyStream, entry: $0) }
            .filter { $0.envelope.aggregateID == aggregateID }
    }

    /// Waits until there are at least `count` replies about `aggregateID` (or 10 s passed)
    /// and returns all of them.
    public func awaitReplies(_ aggregateID: String, count: Int) async throws -> [RawEvent] {
        _ = try await eventually { try await replies(aggregateID).count >= count }
        return try await replies(aggregateID)
    }

    /// Waits until the group's oldest pending command was delivered `times` times or more;
    /// returns whether it was.
    public func awaitRedelivered(times: Int) async throws -> Bool {
        try await eventually {
            // The group appears once the consumer owns the partition and reads it.
            guard let pending = try? await client.xpending(commandStream, group: group, count: 1) else { return false }
            return pending.first.map { $0.deliveries >= times } ?? false
        }
    }

    /// The reply's data as `Event`; throws when the reply is of another type.
    public static func decode<Event: DomainEvent>(_ type: Event.Type, _ raw: RawEvent) throws -> Event {
        guard raw.envelope.eventType == Event.eventType else {
            throw ProbeError(description: "expected a \(Event.eventType) reply, got \(raw.envelope.eventType): \(raw.envelope)")
        }
        return try Event.decode(from: raw.data, version: raw.envelope.eventVersion)
    }

    /// The description of the error `body` throws, or nil when it returns.
    public static func failure(of body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// A reply of an unexpected type.
public struct ProbeError: Error, CustomStringConvertible {
    public let description: String
}
