import Synchronization

/// A Lua script run with `EVALSHA`, loaded on first use and again when Redis has lost it
/// (after a restart or `SCRIPT FLUSH`, Redis answers `NOSCRIPT`).
///
/// A script runs atomically in Redis: no other command runs between its calls. Redis does
/// not roll back the writes a script made before an error.
public final class RedisScript: Sendable {
    public let source: String
    private let sha = Mutex<String?>(nil)

    public init(_ source: String) {
        self.source = source
    }

    /// The `EVALSHA` command for the loaded script, or nil before it is loaded.
    func command(keys: [String], arguments: (inout RedisCommand) -> Void) -> RedisCommand? {
        guard let sha = sha.withLock({ $0 }) else { return nil }
        var command = RedisCommand("EVALSHA", capacity: 128)
        command.append(sha)
        command.append(keys.count)
        for key in keys { command.append(key) }
        arguments(&command)
        return command
    }

    func load(with client: RedisClient) async throws {
        let reply = try await client.send(RedisCommand("SCRIPT", "LOAD", source))
        guard let loaded = reply.string else {
            throw RedisError(.unexpectedReply, "SCRIPT LOAD replied \(reply)")
        }
        sha.withLock { $0 = loaded }
    }
}

extension RedisClient {
    /// Runs `script` with `keys` and the arguments `arguments` appends, and returns its reply.
    public func run(
        _ script: RedisScript, keys: [String], arguments: (inout RedisCommand) -> Void = { _ in }
    ) async throws -> RedisReply {
        try await run(script, keys: keys, arguments: arguments) { try await self.send($0) }
    }

    /// Runs a script whose reply is `{header, entries}`: any reply, then an array of stream
    /// entries shaped like `XRANGE`'s, decoded straight into `StreamEntry`s (no reply tree
    /// and no strings per field: the way reads of many entries stay cheap).
    public func runEntriesScript(
        _ script: RedisScript, keys: [String], arguments: (inout RedisCommand) -> Void
    ) async throws -> (header: RedisReply, entries: [StreamEntry]) {
        try await run(script, keys: keys, arguments: arguments) { try await self.headerAndEntries(to: $0) }
    }

    /// Runs a script whose reply has the shape of `XAUTOCLAIM`'s (`[next id, entries,
    /// deleted ids]`), decoded like `xautoclaim`'s.
    public func runClaimScript(
        _ script: RedisScript, keys: [String], arguments: (inout RedisCommand) -> Void
    ) async throws -> AutoClaimResult {
        try await run(script, keys: keys, arguments: arguments) { try await self.claimReply(to: $0) }
    }

    private func run<Result>(
        _ script: RedisScript, keys: [String], arguments: (inout RedisCommand) -> Void,
        send: (RedisCommand) async throws -> Result
    ) async throws -> Result {
        for attempt in 0..<2 {
            if let command = script.command(keys: keys, arguments: arguments) {
                do {
                    return try await send(command)
                } catch let error as RedisError where error.code == .noScript && attempt == 0 {
                    // Redis lost its script cache (restart, SCRIPT FLUSH): load it again.
                }
            }
            try await script.load(with: self)
        }
        throw RedisError(.unexpectedReply, "script could not be loaded into Redis")
    }
}
