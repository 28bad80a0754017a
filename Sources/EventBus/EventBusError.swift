/// An error from the event bus: an entry that cannot be decoded, an event type with no
/// handler, a version too new, a handler that failed or timed out, or bad configuration.
/// Redis failures are passed through as `RedisError`.
public struct EventBusError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case undecodable, unknownType, unsupportedVersion, handlerFailed, handlerTimedOut, invalidConfiguration, encodingFailed
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
        /// A configuration value is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The event could not be encoded (e.g. a non-finite number).
        public static let encodingFailed = Code(.encodingFailed)
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
