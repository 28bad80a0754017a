import EventBus

/// How a saga's commands and replies find each other: the coordinator writes these
/// `meta.*` fields on every command, and a participant copies them onto its reply
/// (`EventContext.replying(to:)`), so the reply is matched to its saga instance and step.
public enum SagaMessageMetadata {
    /// `meta.saga_id`: the saga instance.
    public static let sagaID = "saga_id"
    /// `meta.saga_type`: the saga definition's name (`order`).
    public static let sagaType = "saga_type"
    /// `meta.saga_step`: the step index the command belongs to (a compensation names the
    /// step it undoes).
    public static let sagaStep = "saga_step"

    static let keys = [sagaID, sagaType, sagaStep]

    /// The saga fields of an event, or nil when it is not part of a saga.
    public static func correlation(of envelope: EventEnvelope) -> (type: String, id: String, step: Int)? {
        guard let id = envelope.metadata[sagaID], let type = envelope.metadata[sagaType],
            let step = envelope.metadata[sagaStep].flatMap(Int.init)
        else { return nil }
        return (type, id, step)
    }
}

extension EventContext {
    /// The context of a participant's reply to a saga command: the command's correlation
    /// id, caused by the command, with its `meta.saga_*` fields so the coordinator can
    /// match the reply.
    public static func replying(to command: EventEnvelope) -> EventContext {
        .causedBy(command, metadata: command.metadata.filter { SagaMessageMetadata.keys.contains($0.key) })
    }
}
