import RedisClient
import Testing

/// One call of a script in a table of cases: the state it meets (commands run first), its
/// KEYS and ARGV, and the start of the error it must answer (nil: a reply, no error).
public struct ScriptCase: Sendable, CustomTestStringConvertible {
    public let name: String
    public let setup: [[String]]
    public let keys: [String]
    public let arguments: [String]
    public let error: String?

    public init(_ name: String, setup: [[String]] = [], keys: [String], _ arguments: [String], error: String? = nil) {
        self.name = name
        self.setup = setup
        self.keys = keys
        self.arguments = arguments
        self.error = error
    }

    public var testDescription: String { name }

    /// Runs the setup, then `script`: expects `error` (or a reply), and nothing written.
    /// Returns the reply when no error is expected.
    @discardableResult
    public func expectNoWrite(
        _ client: RedisClient, _ script: RedisScript, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RedisReply? {
        for command in setup { try await ScriptTesting.send(client, command) }
        guard let error else {
            return try await ScriptTesting.expectNoWrite(client, script, keys: keys, arguments, sourceLocation: sourceLocation)
        }
        let refusal = try await ScriptTesting.expectRefusal(client, script, keys: keys, arguments, sourceLocation: sourceLocation)
        #expect(refusal?.message.hasPrefix(error) == true, "\(String(describing: refusal))", sourceLocation: sourceLocation)
        #expect(refusal?.file == script.name || refusal?.file.hasSuffix(".lua") == true, sourceLocation: sourceLocation)
        return nil
    }
}
