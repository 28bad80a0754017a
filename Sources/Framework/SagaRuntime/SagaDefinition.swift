/// A saga type: an ordered list of steps, run one after another; when a step fails or
/// times out, the steps already done (and the failed one, whose effect is unknown) are
/// undone by their compensations, in reverse order.
public struct SagaDefinition: Sendable {
    /// The saga type's name (`order`): its keys and history stream are named after it.
    public let name: String
    public let steps: [SagaStep]
    /// Sends of one compensation (the first included) before the saga is given up as
    /// `failed` instead of being retried forever.
    public let maxCompensationAttempts: Int

    public init(name: String, steps: [SagaStep], maxCompensationAttempts: Int = 5) {
        precondition(!steps.isEmpty, "a saga has at least one step")
        precondition(maxCompensationAttempts >= 1, "a compensation is sent at least once")
        let firstSent = steps.firstIndex { !$0.isDoneAtStart } ?? steps.count
        precondition(steps[firstSent...].allSatisfy { !$0.isDoneAtStart }, "steps done at the start come first")
        self.name = name
        self.steps = steps
        self.maxCompensationAttempts = maxCompensationAttempts
    }
}

/// One step: the command it sends to a participant, the replies that end it, how long it
/// may take, and how it is undone.
public struct SagaStep: Sendable {
    public let name: String
    /// The command event sent to the participant (`inventory.reserve`).
    public let command: String
    /// The participant's command stream (`inventory-commands`).
    public let commandStream: String
    /// Reply event types that mean the step succeeded (`inventory.reserved`).
    public let successReplies: Set<String>
    /// Reply event types that mean it failed for good (`inventory.out_of_stock`).
    public let failureReplies: Set<String>
    /// With no reply by then, the step counts as failed and is compensated.
    public let timeout: Duration
    /// The compensation, or nil for a step with nothing to undo (the last one, often).
    public let compensation: SagaCompensation?
    /// Whether the step was done by what started the saga (the order's creation): it sends
    /// nothing and counts as succeeded from the start, but it is compensated like the others.
    public let isDoneAtStart: Bool

    public init(
        name: String, command: String, commandStream: String, successReplies: Set<String>, failureReplies: Set<String>,
        timeout: Duration, compensation: SagaCompensation?
    ) {
        self.name = name
        self.command = command
        self.commandStream = commandStream
        self.successReplies = successReplies
        self.failureReplies = failureReplies
        self.timeout = timeout
        self.compensation = compensation
        isDoneAtStart = false
    }

    /// A step done by what started the saga (e.g. `create-order`, done by the request that
    /// created the order and published the event starting the saga), undone by
    /// `compensation` when the saga fails.
    public init(doneAtStart name: String, compensation: SagaCompensation) {
        precondition(compensation.stream != nil, "a step done at the start names its compensation's stream")
        self.name = name
        command = ""
        commandStream = compensation.stream ?? ""
        successReplies = []
        failureReplies = []
        timeout = .zero
        self.compensation = compensation
        isDoneAtStart = true
    }
}

/// How a step is undone: a command to the step's participant (or to `stream`),
/// acknowledged by a reply.
/// Participants must make it idempotent and harmless when the step never took effect.
public struct SagaCompensation: Sendable {
    /// The compensating command (`inventory.release`).
    public let command: String
    /// Replies that acknowledge it (`inventory.released`).
    public let acknowledgements: Set<String>
    /// Without an acknowledgement by then, it is sent again (up to the saga's limit).
    public let timeout: Duration
    /// Where it is sent: nil for the step's command stream.
    public let stream: String?

    public init(command: String, acknowledgements: Set<String>, timeout: Duration, stream: String? = nil) {
        self.command = command
        self.acknowledgements = acknowledgements
        self.timeout = timeout
        self.stream = stream
    }
}
