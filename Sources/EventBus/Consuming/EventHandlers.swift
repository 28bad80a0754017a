import RedisClient

/// An event delivered to a handler, with its envelope and where it was read from.
public struct ReceivedEvent<Event: DomainEvent>: Sendable {
    public let event: Event
    public let envelope: EventEnvelope
    public let stream: String
    public let entryID: StreamEntryID

    /// The context for events published while handling this one: same correlation id,
    /// caused by this event.
    public var context: EventContext { .causedBy(envelope) }
}

/// The typed handlers of one consumer, by event type. Built before the consumer starts.
///
/// A handler is called at least once per event: only after it returns is the event
/// acknowledged; if it throws, the event stays pending and is delivered again later.
/// Handlers must therefore be idempotent (the `event_id` is the same on every delivery).
public struct EventHandlers: Sendable {
    var byType: [String: AnyEventHandler] = [:]

    public init() {}

    /// Registers the handler for `Event.eventType` (replacing any earlier one).
    public mutating func on<Event: DomainEvent>(
        _ type: Event.Type, _ handler: @escaping @Sendable (ReceivedEvent<Event>) async throws -> Void
    ) {
        byType[Event.eventType] = AnyEventHandler { raw in
            let event: Event
            do {
                event = try Event.decode(from: raw.data, version: raw.envelope.eventVersion)
            } catch let error as EventBusError {
                return .failed(error)
            } catch {
                return .failed(
                    EventBusError(.undecodable, "data of \(Event.eventType) v\(raw.envelope.eventVersion) is invalid: \(error)"))
            }
            do {
                try await handler(
                    ReceivedEvent(event: event, envelope: raw.envelope, stream: raw.stream, entryID: raw.entryID))
                return .handled
            } catch {
                return .failed(EventBusError(.handlerFailed, "\(error)"))
            }
        }
    }

    /// The event types that have a handler.
    public var eventTypes: [String] { byType.keys.sorted() }
}

/// A handler with its event type erased: decodes, calls, and reports the outcome.
struct AnyEventHandler: Sendable {
    let handle: @Sendable (RawEvent) async -> HandlingOutcome
}

enum HandlingOutcome: Sendable {
    case handled
    case failed(EventBusError)
}
