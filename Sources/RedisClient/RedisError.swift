/// An error from the Redis client: a failed connection, a lost connection, a timeout, a
/// malformed URL, an unexpected reply, or an error reply from the server.
///
/// Server errors keep the server's text in `message`; the well-known prefixes
/// (`WRONGTYPE`, `NOGROUP`, `BUSYGROUP`, `NOAUTH`, `WRONGPASS`, `NOPERM`, `OOM`, ...)
/// are recognisable through `code`. New codes may be added without breaking users.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidURL, connectionFailed, connectionLost, timeout, protocolError
            case unexpectedReply, clientClosed, invalidArgument
            case serverError, wrongType, noGroup, busyGroup, noAuth, wrongPass, noPerm
            case outOfMemory, noScript, busy, readOnly, loading, notReplicated
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// The connection URL or configuration is malformed.
        public static let invalidURL = Code(.invalidURL)
        /// Connecting, authenticating or selecting the database failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while the command was in flight: it may or may not have been applied.
        public static let connectionLost = Code(.connectionLost)
        /// No reply came within the command timeout; the connection was discarded.
        public static let timeout = Code(.timeout)
        /// The server sent something hiredis could not parse.
        public static let protocolError = Code(.protocolError)
        /// The reply had a shape the caller did not expect.
        public static let unexpectedReply = Code(.unexpectedReply)
        /// The client was closed before the command could be sent.
        public static let clientClosed = Code(.clientClosed)
        /// A command argument was rejected before sending.
        public static let invalidArgument = Code(.invalidArgument)
        /// An error reply with no better-known prefix.
        public static let serverError = Code(.serverError)
        public static let wrongType = Code(.wrongType)
        public static let noGroup = Code(.noGroup)
        public static let busyGroup = Code(.busyGroup)
        public static let noAuth = Code(.noAuth)
        public static let wrongPass = Code(.wrongPass)
        public static let noPerm = Code(.noPerm)
        public static let outOfMemory = Code(.outOfMemory)
        public static let noScript = Code(.noScript)
        public static let busy = Code(.busy)
        public static let readOnly = Code(.readOnly)
        public static let loading = Code(.loading)
        /// The write was applied on its master, but fewer replicas than asked acknowledged it
        /// in time (`WAIT`): it may be lost if that master fails now.
        public static let notReplicated = Code(.notReplicated)

        /// Maps the first word of a server error reply to a code.
        static func forServerPrefix(_ prefix: Substring) -> Code {
            switch prefix {
            case "WRONGTYPE": .wrongType
            case "NOGROUP": .noGroup
            case "BUSYGROUP": .busyGroup
            case "NOAUTH": .noAuth
            case "WRONGPASS": .wrongPass
            case "NOPERM": .noPerm
            case "OOM": .outOfMemory
            case "NOSCRIPT": .noScript
            case "BUSY": .busy
            case "READONLY": .readOnly
            case "LOADING": .loading
            default: .serverError
            }
        }
    }

    public let code: Code
    /// The human-readable text; for server errors, the server's own message.
    public let message: String
    /// Where the error was raised (`#fileID`).
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// An error built from a server error reply such as `WRONGTYPE Operation against a key...`.
    public static func server(_ text: String, file: String = #fileID, line: Int = #line) -> RedisError {
        let prefix = text.prefix { $0 != " " }
        return RedisError(.forServerPrefix(prefix), text, file: file, line: line)
    }

    /// True when the server answered with an error reply (as opposed to a client-side failure).
    public var isServerError: Bool {
        switch code {
        case .invalidURL, .connectionFailed, .connectionLost, .timeout, .protocolError,
            .unexpectedReply, .clientClosed, .invalidArgument:
            false
        default: true
        }
    }

    /// True when the connection is the problem (the server may be down or restarting).
    public var isConnectionError: Bool {
        code == .connectionFailed || code == .connectionLost || code == .timeout || code == .protocolError
    }

    /// The code and message; for an error of a Lua script, also the script's file (and line).
    public var description: String {
        file.hasSuffix(".lua")
            ? "RedisError(\(code)): \(message) (\(file)\(line > 0 ? ":\(line)" : ""))"
            : "RedisError(\(code)): \(message)"
    }

    public static func == (lhs: RedisError, rhs: RedisError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
