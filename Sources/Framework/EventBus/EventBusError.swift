/// An error from the event bus: an entry that cannot be decoded, an event type with no
/// handler, a version too new, a handler that failed or timed out, bad configuration, or (from
/// the operations API) a missing stream or group, a key that is not a stream, a bad argument.
/// Redis failures are passed through as `RedisError`.
public struct EventBusError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case undecodable, unknownType, unsupportedVersion, handlerFailed, handlerTimedOut, invalidConfiguration, encodingFailed
            case effectInProgress
            case noSuchStream, noSuchGroup, wrongType, invalidArgument, unexpectedReply
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// Envelope fields missing or invalid, or `data` not valid JSON for the type.
        public static let undecodable = Code(.undecodable)
        /// No handler is registered for the entry's `event_type`.
        public static let unknownType = Code(.unknownType)
        /// `event_version` is newer than the handler's type accepts.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The handler threw.
        public static let handlerFailed = Code(.handlerFailed)
        /// The handler ran longer than the consumer's `handlerTimeout`.
        public static let handlerTimedOut = Code(.handlerTimedOut)
        /// Another delivery holds the event's `IdempotencyGuard` lease (`running`): its effect
        /// may be under way. A handler that throws this is not counted as a failed delivery:
        /// the consumer leaves the event pending with its delivery count as it was, and it is
        /// tried again after its backoff (once the lease is over, it runs).
        public static let effectInProgress = Code(.effectInProgress)
        /// A configuration value is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The event could not be encoded (e.g. a non-finite number).
        public static let encodingFailed = Code(.encodingFailed)
        /// Operations: the stream does not exist.
        public static let noSuchStream = Code(.noSuchStream)
        /// Operations: the stream has no consumer group of that name.
        public static let noSuchGroup = Code(.noSuchGroup)
        /// Operations: the key holds something other than a stream.
        public static let wrongType = Code(.wrongType)
        /// Operations: an argument was rejected before anything was sent.
        public static let invalidArgument = Code(.invalidArgument)
        /// Operations: Redis answered with a shape this API does not know.
        public static let unexpectedReply = Code(.unexpectedReply)
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "EventBusError(\(code)): \(message)" }
}
