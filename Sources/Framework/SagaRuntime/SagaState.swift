/// Where a saga instance is.
public enum SagaStatus: String, Sendable, Codable, CaseIterable {
    /// Its steps are running, one at a time.
    case running
    /// A step failed or timed out: the compensations are running, in reverse order.
    case compensating
    /// Every step succeeded.
    case completed
    /// Every compensation was acknowledged.
    case compensated
    /// A compensation failed past its limit: someone must look (it is listed, not looped).
    case failed

    /// Whether the saga has ended (no command or deadline is pending any more).
    public var isFinal: Bool { self == .completed || self == .compensated || self == .failed }
}

/// One saga instance's state, as stored; `version` grows by one with every change, so a
/// change computed from an older state is refused (optimistic concurrency).
public struct SagaState: Sendable, Equatable {
    public let id: String
    public var status: SagaStatus
    /// The running step's index while `running`.
    public var currentStep: Int
    /// Indexes of the steps that succeeded, in order.
    public var completedSteps: [Int]
    /// While `compensating`: the steps still to undo, the one being undone first.
    public var pendingCompensations: [Int]
    /// Sends of the current compensation so far.
    public var compensationAttempts: Int
    /// Why the saga left `running` (the failure reply, or the timeout), or failed.
    public var reason: String?
    public var version: Int
    /// The flow the saga belongs to: its commands carry it as their correlation id.
    public var correlationID: String
    /// The trace context (W3C `traceparent`) of the step that last changed the saga, when
    /// tracing is on: a step run by a deadline continues that trace. Empty otherwise.
    public var traceparent: String
    /// What the saga started with (the starting event's `data`, JSON): its commands are
    /// built from it.
    public var data: String
    public var startedAtMs: Int
    public var updatedAtMs: Int
    /// Each step's timeline, in step order (empty before the saga starts).
    public var steps: [SagaStepRecord]

    /// A saga that has not started yet (version 0).
    public init(id: String) {
        self.id = id
        status = .running
        currentStep = 0
        completedSteps = []
        pendingCompensations = []
        compensationAttempts = 0
        reason = nil
        version = 0
        correlationID = ""
        traceparent = ""
        data = "{}"
        startedAtMs = 0
        updatedAtMs = 0
        steps = []
    }
}
