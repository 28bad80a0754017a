import EventBus

/// A saga instance as the HTTP APIs and the CLI show it (JSON, snake_case, RFC 3339 times):
/// its status, reason, and each step's timeline.
public struct SagaView: Sendable, Codable, Equatable {
    public struct Step: Sendable, Codable, Equatable {
        public var name: String
        public var status: String
        public var command: String?
        public var sentAt: String?
        public var reply: String?
        public var repliedAt: String?
        public var compensation: String?
        public var compensationSentAt: String?
        public var compensationSends: Int
        public var compensationReply: String?
        public var compensatedAt: String?

        enum CodingKeys: String, CodingKey {
            case name, status, command, sentAt = "sent_at", reply, repliedAt = "replied_at", compensation
            case compensationSentAt = "compensation_sent_at", compensationSends = "compensation_sends"
            case compensationReply = "compensation_reply", compensatedAt = "compensated_at"
        }
    }

    public var id: String
    public var type: String
    /// `running`, `compensating`, `completed`, `compensated` or `failed`.
    public var state: String
    public var reason: String?
    public var version: Int
    public var correlationID: String
    public var startedAt: String
    public var updatedAt: String
    public var steps: [Step]

    public init(_ saga: SagaState, type: String) {
        func time(_ milliseconds: Int?) -> String? {
            milliseconds.map { RFC3339.string(microsecondsSinceEpoch: Int64($0) * 1000) }
        }
        id = saga.id
        self.type = type
        state = saga.status.rawValue
        reason = saga.reason
        version = saga.version
        correlationID = saga.correlationID
        startedAt = time(saga.startedAtMs) ?? ""
        updatedAt = time(saga.updatedAtMs) ?? ""
        steps = saga.steps.map { step in
            Step(
                name: step.name, status: step.status.rawValue, command: step.command, sentAt: time(step.sentAtMs), reply: step.reply,
                repliedAt: time(step.repliedAtMs), compensation: step.compensation, compensationSentAt: time(step.compensationSentAtMs),
                compensationSends: step.compensationSends, compensationReply: step.compensationReply,
                compensatedAt: time(step.compensatedAtMs))
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, type, state, reason, version, correlationID = "correlation_id", startedAt = "started_at"
        case updatedAt = "updated_at", steps
    }
}
