import CHiredis

#if canImport(Glibc)
import Glibc
#endif

/// One blocking hiredis connection. Not thread-safe: it is owned and used by exactly one
/// `ConnectionLoop` thread. After any I/O or protocol error it must be discarded (hiredis
/// cannot reuse a context after an error), which `RedisConnectionLoop` does.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// Where hiredis's reader builds replies (see `shim.h`); reset before each batch.
    let arena: UnsafeMutablePointer<chiredis_arena>
    private var currentTimeoutMilliseconds: Int
    let configuration: RedisConfiguration

    /// Connects, authenticates, selects the database and names the client.
    init(configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        let connectTimeout = chiredis_timeval_ms(configuration.connectTimeout.wholeMilliseconds)
        let made: UnsafeMutablePointer<redisContext>? =
            switch configuration.endpoint {
            case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeout)
            case .unixSocket(let path): redisConnectUnixWithTimeout(path, connectTimeout)
            }
        guard let made else {
            throw RedisError(.connectionFailed, "cannot allocate a hiredis context for \(configuration.endpoint)")
        }
        if made.pointee.err != 0 {
            let reason = Self.errorText(made)
            redisFree(made)
            throw RedisError(.connectionFailed, "cannot connect to Redis at \(configuration.endpoint): \(reason)")
        }
        // Not inherited by processes this one starts: a child holding a copy of the socket
        // would keep the connection open after this client closed it (hiredis 0.14 makes its
        // sockets without SOCK_CLOEXEC).
        let fd = made.pointee.fd
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        context = made
        arena = .allocate(capacity: 1)
        arena.initialize(to: chiredis_arena())
        chiredis_use_arena(context, arena)
        currentTimeoutMilliseconds = configuration.connectTimeout.wholeMilliseconds
        redisSetTimeout(context, connectTimeout)
        try handshake()
    }

    deinit {
        redisFree(context)
        chiredis_arena_release(arena)
        arena.deallocate()
    }

    private func handshake() throws(RedisError) {
        var commands: [RedisCommand] = []
        if let password = configuration.password {
            if let username = configuration.username {
                commands.append(RedisCommand("AUTH", username, password))
            } else {
                commands.append(RedisCommand("AUTH", password))
            }
        }
        if configuration.database != 0 {
            commands.append(RedisCommand("SELECT", arguments: [String(configuration.database)]))
        }
        if let name = configuration.clientName {
            commands.append(RedisCommand("CLIENT", "SETNAME", name))
        }
        guard !commands.isEmpty else { return }
        do throws(RedisError) {
            try write(commands)
            resetReplies()
            for command in commands {
                let cursor = ReplyCursor(arena: arena, position: try readReply())
                if cursor.type == REDIS_REPLY_ERROR {
                    let text = cursor.text
                    let step = command.body.starts(with: Array("$4\r\nAUTH".utf8)) ? "authentication" : "connection setup"
                    let cause = RedisError.server(text)
                    throw RedisError(cause.code, "\(step) failed at \(configuration.endpoint): \(text)")
                }
            }
        } catch {
            guard error.code == .connectionLost || error.code == .timeout else { throw error }
            throw RedisError(.connectionFailed, "connection setup with \(configuration.endpoint) failed: \(error.message)")
        }
    }

    // MARK: I/O

    /// Sets the socket's read/write timeout when it differs from the current one.
    func setTimeout(milliseconds: Int) {
        guard milliseconds != currentTimeoutMilliseconds else { return }
        redisSetTimeout(context, chiredis_timeval_ms(milliseconds))
        currentTimeoutMilliseconds = milliseconds
    }

    /// Queues commands in hiredis's output buffer; they are written by the next `readReply`.
    func write<Commands: Collection<RedisCommand>>(_ commands: Commands) throws(RedisError) {
        var header: [UInt8] = []
        header.reserveCapacity(16)
        for command in commands {
            header.removeAll(keepingCapacity: true)
            command.appendHeader(to: &header)
            try append(header)
            try append(command.body)
        }
    }

    private func append(_ bytes: [UInt8]) throws(RedisError) {
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                redisAppendFormattedCommand(context, chars.baseAddress, chars.count)
            }
        }
        if status != REDIS_OK {
            throw RedisError(.connectionLost, "cannot queue a command: \(Self.errorText(context))")
        }
    }

    /// Writes everything queued by `write` to the socket.
    func flush() throws(RedisError) {
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK { throw classifyFailure() }
        }
    }

    /// Forgets the replies read so far (their nodes and bytes are reused).
    func resetReplies() {
        chiredis_arena_reset(arena)
    }

    /// Flushes pending output if needed and reads the next reply into the arena; returns
    /// the index of its first node.
    func readReply() throws(RedisError) -> Int {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
            if arena.pointee.failed != 0 {
                return try failAllocation()
            }
            throw classifyFailure()
        }
        return chiredis_arena_index(raw)
    }

    private func failAllocation() throws(RedisError) -> Int {
        throw RedisError(.connectionLost, "out of memory while reading a reply from \(configuration.endpoint)")
    }

    private func classifyFailure() -> RedisError {
        let text = Self.errorText(context)
        let code = context.pointee.err
        if code == REDIS_ERR_IO && (text.contains("temporarily unavailable") || text.contains("timed out")) {
            return RedisError(
                .timeout,
                "no reply from Redis at \(configuration.endpoint) within \(currentTimeoutMilliseconds) ms; the command may or may not have been applied")
        }
        if code == REDIS_ERR_PROTOCOL {
            return RedisError(.protocolError, "protocol error from Redis at \(configuration.endpoint): \(text)")
        }
        return RedisError(
            .connectionLost,
            "connection to Redis at \(configuration.endpoint) lost (\(text)); the command may or may not have been applied")
    }

    // MARK: Helpers

    static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            let text = String(decoding: bytes, as: UTF8.self)
            return text.isEmpty ? "error \(context.pointee.err)" : text
        }
    }
}
