import Foundation

extension EventConsumer {
    /// Where a new consumer group starts reading.
    public enum StartPosition: Sendable, Hashable {
        /// Only events published after the group is created (`$`).
        case newEvents
        /// Every event still in the stream (`0`).
        case beginning

        var streamID: String { self == .newEvents ? "$" : "0" }
    }

    /// What happens to an event whose type has no handler in this consumer.
    public enum UnhandledTypePolicy: Sendable, Hashable {
        /// Log it and leave it pending (nothing is lost; an operator must act). The default.
        case leavePending
        /// Acknowledge it without handling: for groups that want only some of a stream's types.
        case acknowledge
    }

    /// How one consumer reads its group.
    public struct Configuration: Sendable {
        /// The stream to read, e.g. `todo-events`.
        public var stream: String
        /// The consumer group: the service's name, e.g. `notification-service`.
        public var group: String
        /// This instance's name within the group; default `<host name>-<pid>`. A restarted
        /// instance that keeps its name first re-reads the events it had not acknowledged.
        public var consumerName: String
        /// Where the group starts when it does not exist yet.
        public var startPosition: StartPosition
        /// Entries read per `XREADGROUP` (`COUNT`).
        public var batchSize: Int
        /// How long one `XREADGROUP` waits for new entries (`BLOCK`); also the longest a
        /// graceful stop waits for a read in progress.
        public var blockTimeout: Duration
        /// How many handlers run at once. Events of one aggregate always run one at a time,
        /// in stream order.
        public var maxInFlight: Int
        /// What to do with event types that have no handler.
        public var unhandledTypes: UnhandledTypePolicy
        /// First and longest wait after a Redis error before reading again.
        public var initialErrorBackoff: Duration
        public var maximumErrorBackoff: Duration

        public init(
            stream: String, group: String, consumerName: String = Configuration.defaultConsumerName(),
            startPosition: StartPosition = .newEvents, batchSize: Int = 100, blockTimeout: Duration = .milliseconds(500),
            maxInFlight: Int = 16, unhandledTypes: UnhandledTypePolicy = .leavePending, initialErrorBackoff: Duration = .milliseconds(100),
            maximumErrorBackoff: Duration = .seconds(5)
        ) {
            self.stream = stream
            self.group = group
            self.consumerName = consumerName
            self.startPosition = startPosition
            self.batchSize = batchSize
            self.blockTimeout = blockTimeout
            self.maxInFlight = maxInFlight
            self.unhandledTypes = unhandledTypes
            self.initialErrorBackoff = initialErrorBackoff
            self.maximumErrorBackoff = maximumErrorBackoff
        }

        /// `<host name>-<pid>`.
        public static func defaultConsumerName() -> String {
            "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        }

        /// Checks the values, naming the first invalid one.
        public func validate() throws {
            func fail(_ message: String) throws -> Never { throw EventBusError(.invalidConfiguration, message) }
            if stream.isEmpty { try fail("stream must not be empty") }
            if group.isEmpty { try fail("group must not be empty") }
            if consumerName.isEmpty { try fail("consumerName must not be empty") }
            if batchSize < 1 { try fail("batchSize must be at least 1, got \(batchSize)") }
            if maxInFlight < 1 { try fail("maxInFlight must be at least 1, got \(maxInFlight)") }
            if blockTimeout < .milliseconds(1) { try fail("blockTimeout must be at least 1 ms") }
        }
    }
}
