import EventBus
import Logging
import RedisClient

/// How a saga participant answers a command: it publishes its reply with the command's
/// correlation id and `meta.saga_*` fields (`EventContext.replying(to:)`), so the
/// coordinator matches it to its saga and step, and logs the command's outcome with the
/// order of things a reader needs (command type, aggregate, saga id, correlation id, reply
/// type).
///
/// Participants call it after their change is recorded and on every delivery of the
/// command: the reply may be published twice (a redelivery after a crash between the
/// change and the reply), never lost; the coordinator ignores duplicates.
public struct SagaReplyPublisher: Sendable {
    let publisher: EventPublisher
    let logger: Logger

    /// `publisher` decides the reply's stream (usually the participant's `<name>-events`).
    public init(publisher: EventPublisher, logger: Logger) {
        self.publisher = publisher
        self.logger = logger
    }

    /// Publishes every reply to `stream` (the participant's `<name>-events`) through `client`;
    /// `publishing`: retention and the line per published reply (its stream name is replaced).
    public init(client: RedisClient, stream: String, logger: Logger, publishing: EventPublisher.Configuration = .init()) {
        var configuration = publishing
        configuration.streamName = { _ in stream }
        self.init(publisher: EventPublisher(client: client, configuration: configuration, logger: logger), logger: logger)
    }

    /// Publishes `reply` to `command` and logs `outcome` at info.
    public func reply(_ reply: some DomainEvent, to command: EventEnvelope, outcome: String) async throws {
        try await publisher.publish(reply, context: .replying(to: command))
        logger.info(
            "Saga command handled",
            metadata: [
                "command.type": "\(command.eventType)", "command.aggregate_id": "\(command.aggregateID)",
                "saga_id": "\(command.metadata[SagaMessageMetadata.sagaID] ?? "")",
                "saga_step": "\(command.metadata[SagaMessageMetadata.sagaStep] ?? "")",
                "correlation_id": "\(command.correlationID)", "reply.type": "\(type(of: reply).eventType)",
                "outcome": "\(outcome)",
            ])
    }
}
