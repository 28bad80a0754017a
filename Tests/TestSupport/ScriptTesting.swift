import Foundation
import LocalRedisServer
import RedisClient
import Testing

/// Calls Lua scripts directly (crafted KEYS, ARGV and state) against a private redis-server,
/// and checks that a refusal wrote nothing.
public enum ScriptTesting {
    /// Every key with its `DUMP` (type, value, groups, pending entries): equal snapshots mean
    /// nothing was written.
    public struct Snapshot: Equatable, CustomStringConvertible {
        public let keys: [String: [UInt8]]
        public var description: String { keys.keys.sorted().joined(separator: ", ") }
    }

    public static func snapshot(_ client: RedisClient) async throws -> Snapshot {
        let names = (try await client.send(RedisCommand("KEYS", "*")).array ?? []).compactMap(\.string)
        var keys: [String: [UInt8]] = [:]
        for name in names {
            let dump = try await client.send(RedisCommand("DUMP", name))
            if case .bulkString(let bytes) = dump { keys[name] = bytes } else { keys[name] = [] }
        }
        return Snapshot(keys: keys)
    }

    /// Sends the command `words` (name, arguments).
    @discardableResult
    public static func send(_ client: RedisClient, _ words: [String]) async throws -> RedisReply {
        try await client.send(RedisCommand(words[0], arguments: Array(words.dropFirst())))
    }

    /// Runs `script` with `keys` and `arguments`.
    public static func run(
        _ client: RedisClient, _ script: RedisScript, keys: [String], _ arguments: [String]
    ) async throws -> RedisReply {
        try await client.run(script, keys: keys) { command in
            for argument in arguments { command.append(argument) }
        }
    }

    /// Runs `script`, expects an error reply, and that the data set is unchanged; returns the error.
    @discardableResult
    public static func expectRefusal(
        _ client: RedisClient, _ script: RedisScript, keys: [String], _ arguments: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RedisError? {
        let before = try await snapshot(client)
        var refusal: RedisError?
        do {
            let reply = try await run(client, script, keys: keys, arguments)
            Issue.record("\(script.name) answered \(reply), expected an error", sourceLocation: sourceLocation)
        } catch let error as RedisError {
            refusal = error
            #expect(error.file == script.name || error.file.hasSuffix(".lua"), "\(error)", sourceLocation: sourceLocation)
        }
        let after = try await snapshot(client)
        #expect(before == after, "\(script.name) wrote something before refusing", sourceLocation: sourceLocation)
        return refusal
    }

    /// Runs `script`, expects a reply (not an error) and that the data set is unchanged; returns the reply.
    public static func expectNoWrite(
        _ client: RedisClient, _ script: RedisScript, keys: [String], _ arguments: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RedisReply {
        let before = try await snapshot(client)
        let reply = try await run(client, script, keys: keys, arguments)
        let after = try await snapshot(client)
        #expect(before == after, "\(script.name) wrote something: \(reply)", sourceLocation: sourceLocation)
        return reply
    }

    /// A private redis-server and a client of it.
    public static func withClient(_ body: (RedisClient) async throws -> Void) async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await body(client)
        }
    }
}
