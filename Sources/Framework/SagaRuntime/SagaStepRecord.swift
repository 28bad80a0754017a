/// What happened to one step of a saga instance, with times (milliseconds since the
/// epoch): kept with the saga's state so that `GET /sagas/{id}` and `streamsctl sagas
/// show` can show its timeline without reading the history stream.
public struct SagaStepRecord: Sendable, Equatable, Codable {
    /// Where the step is.
    public enum Status: String, Sendable, Codable {
        /// Not reached (yet, or ever: the saga ended before it).
        case pending
        /// Its command is sent; no reply yet.
        case running
        case succeeded
        case failed
        case timedOut = "timed_out"
        /// Its compensation is sent; no acknowledgement yet.
        case compensating
        case compensated
        /// Its compensation was never acknowledged (the saga is `failed`).
        case compensationFailed = "compensation_failed"
    }

    public var name: String
    public var status: Status
    /// The step's command type, when sent.
    public var command: String?
    public var sentAtMs: Int?
    /// The reply that ended it (`inventory.reserved`), or `timeout`.
    public var reply: String?
    public var repliedAtMs: Int?
    /// The compensation's command type, when sent.
    public var compensation: String?
    public var compensationSentAtMs: Int?
    /// Sends of the compensation so far (resent at each of its deadlines).
    public var compensationSends: Int
    /// The reply that acknowledged the compensation.
    public var compensationReply: String?
    public var compensatedAtMs: Int?

    public init(name: String) {
        self.name = name
        status = .pending
        compensationSends = 0
    }

    enum CodingKeys: String, CodingKey {
        case name, status, command, sentAtMs = "sent_at_ms", reply, repliedAtMs = "replied_at_ms", compensation
        case compensationSentAtMs = "compensation_sent_at_ms", compensationSends = "compensation_sends"
        case compensationReply = "compensation_reply", compensatedAtMs = "compensated_at_ms"
    }
}
