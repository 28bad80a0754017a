import EventBus

extension SagaCoordinator {
    /// Registers a handler that starts a saga for every `Event` (the saga's id from the
    /// event, its data the event's data, its correlation id the event's). A redelivered
    /// event finds its saga started and changes nothing.
    public func startOn<Event: DomainEvent>(
        _ type: Event.Type, in handlers: inout EventHandlers, sagaID: @escaping @Sendable (Event) -> String
    ) {
        handlers.on(Event.self) { received in
            let data = try EventDataEncoder().encode(received.event)
            try await start(
                id: sagaID(received.event), data: String(decoding: data, as: UTF8.self),
                correlationID: received.envelope.correlationID, causationID: received.envelope.eventID)
        }
    }

    /// Registers handlers that feed every event of `types` to its saga as a reply.
    public func repliesOn(_ types: [any DomainEvent.Type], in handlers: inout EventHandlers) {
        for type in types { register(type, in: &handlers) }
    }

    private func register<Event: DomainEvent>(_ type: Event.Type, in handlers: inout EventHandlers) {
        handlers.on(Event.self) { received in try await reply(received.envelope) }
    }
}
