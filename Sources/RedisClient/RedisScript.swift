import Synchronization

/// A Lua script run with `EVALSHA`, loaded on first use and again when Redis has lost it
/// (after a restart or `SCRIPT FLUSH`, Redis answers `NOSCRIPT`).
///
/// A script runs atomically in Redis: no other command runs between its calls. Redis does
/// not roll back the writes a script made before an error.
///
/// The project's scripts are `.lua` files embedded at build time (`LuaScripts.<name>` in each
/// module, made by the EmbedLuaScripts plugin): each knows its file and, line by line, where
/// its text came from (includes inlined). An error reply of a script names it: `file` is the
/// script's `.lua` file, `line` the line Redis reported (0 for a refusal the script returned
/// itself), and Redis's `user_script:N` in the message becomes `<file>.lua:<line>`.
public final class RedisScript: Sendable {
    /// Where a run of the script's lines came from: line `scriptLine` of the script is line
    /// `fileLine` of `file`, and so on until the next origin.
    public struct Origin: Sendable, Hashable {
        public let scriptLine: Int
        public let file: String
        public let fileLine: Int

        public init(scriptLine: Int, file: String, fileLine: Int) {
            self.scriptLine = scriptLine
            self.file = file
            self.fileLine = fileLine
        }
    }

    public let source: String
    /// The script's file (`<Module>/<path>.lua`), or "script" for one given as text.
    public let name: String
    private let origins: [Origin]
    private let sha = Mutex<String?>(nil)

    /// A script given as text (no file).
    public init(_ source: String) {
        self.source = source
        self.name = "script"
        self.origins = []
    }

    /// A script read from `name` (a `.lua` file), its lines coming from `origins`.
    public init(name: String, source: String, origins: [Origin]) {
        self.source = source
        self.name = name
        self.origins = origins
    }

    /// The file and line that line `line` of the script came from.
    public func origin(ofLine line: Int) -> (file: String, line: Int) {
        guard let origin = origins.last(where: { $0.scriptLine <= line }) else { return (name, line) }
        return (origin.file, origin.fileLine + line - origin.scriptLine)
    }

    /// `error` (a reply of this script) with `user_script:N` replaced by the file and line it
    /// came from, and this script's file (and that line) as where it was raised.
    func located(_ error: RedisError) -> RedisError {
        var message = Substring(error.message)
        var rewritten = ""
        var first: (file: String, line: Int)?
        while let range = message.range(of: "user_script:") {
            let digits = message[range.upperBound...].prefix { $0.isNumber }
            guard let number = Int(digits) else {
                rewritten += message[..<range.upperBound]
                message = message[range.upperBound...]
                continue
            }
            let found = origin(ofLine: number)
            first = first ?? found
            var before = message[..<range.lowerBound]
            if before.hasSuffix("@") { before = before.dropLast() }
            rewritten += before + "\(found.file):\(found.line)"
            message = message[digits.endIndex...]
        }
        rewritten += message
        let code = error.code
        let place = first ?? (name, 0)
        return RedisError(code, rewritten, file: place.file, line: place.line)
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

/// A script's reply read into a typed value, in one place per script: its callers get the
/// value or an `.unexpectedReply` error naming the script, never a reply to compare with strings.
public protocol RedisScriptReply: Sendable {
    /// The value of `reply`, or nil for a reply of another shape.
    init?(reply: RedisReply)
}

extension RedisClient {
    /// Runs `script` and decodes its reply as `Reply`; a reply of another shape throws
    /// `.unexpectedReply` naming the script.
    public func run<Reply: RedisScriptReply>(
        _ script: RedisScript, keys: [String], as: Reply.Type, replicated acknowledgement: ReplicaAcknowledgement? = nil,
        arguments: (inout RedisCommand) -> Void = { _ in }
    ) async throws -> Reply {
        let reply = try await run(script, keys: keys, arguments: arguments) { command in
            if let acknowledgement { try await self.send(command, replicated: acknowledgement) } else { try await self.send(command) }
        }
        guard let decoded = Reply(reply: reply) else {
            throw RedisError(.unexpectedReply, "unexpected reply of \(script.name): \(reply)", file: script.name, line: 0)
        }
        return decoded
    }

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
                } catch let error as RedisError where error.isServerError && error.code != .noScript {
                    throw script.located(error)
                }
            }
            try await script.load(with: self)
        }
        throw RedisError(.unexpectedReply, "script could not be loaded into Redis")
    }
}
