import CHiredis
import Logging

/// An asynchronous Redis client over one hiredis connection.
///
/// Guarantees:
/// - Commands from one caller are sent and answered in the order they were issued; a
///   pipeline's replies come back in the order of its commands.
/// - Concurrent callers share round trips: whatever is queued while a round trip is in
///   flight goes out together in the next one (automatic pipelining), and a request that
///   finds the connection idle is written at once, with no added delay.
/// - A command in flight when the connection breaks fails with `.connectionLost` or
///   `.timeout` and is never re-sent (an `XADD` may have been applied). The next command
///   reconnects, after a backoff that doubles from `initialReconnectDelay` up to
///   `maximumReconnectDelay` while the server stays unreachable.
/// - No caller's thread blocks: hiredis's blocking I/O runs on the connection's own thread,
///   never on Swift's cooperative pool.
///
/// Design (measured, see BENCHMARKS.md): a blocking hiredis context on a dedicated thread,
/// bridged to async/await by continuations. hiredis's C reply parser is fast and the
/// blocking calls are the cheapest way to drive it; one thread per connection costs one
/// wake-up per batch, not per command, and callers never block. A blocking command
/// (`XREADGROUP ... BLOCK`) holds its connection, so a consumer uses a client of its own.
public final class RedisClient: Sendable {
    private let loop: ConnectionTransport
    public var configuration: RedisConfiguration { loop.configuration }

    /// Creates a client; the connection is made by the first command. The configuration's
    /// `transport` chooses how the connection is driven (a thread of its own by default).
    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "redis")) {
        switch configuration.transport {
        case .thread: loop = .thread(RedisConnectionLoop(configuration: configuration, logger: logger))
        case .nio: loop = .nio(NIORedisConnectionLoop(configuration: configuration, logger: logger))
        }
    }

    /// Creates a client for a `redis://` or `unix://` URL.
    public convenience init(url: String, logger: Logger = Logger(label: "redis")) throws {
        self.init(configuration: try RedisConfiguration(url: url), logger: logger)
    }

    deinit {
        loop.close()
    }

    /// The connection's own thread (with the `.nio` transport: its channel's event loop) as a
    /// task executor. Code that runs there
    /// (`withTaskExecutorPreference(client.executor) { ... }`) sends its commands and gets
    /// its replies without waiting for any thread to wake up; meant for a consumer that owns
    /// its client. Work that blocks there delays this client's I/O.
    public var executor: any TaskExecutor { loop.executor }

    /// Round trips, commands and reconnects so far.
    public var statistics: RedisClientStatistics { loop.statistics }

    /// Closes the client: the commands already queued are still sent and answered, then the
    /// connection closes. Later commands fail with `.clientClosed`. Returns at once; use
    /// `shutdown()` to wait until the connection is closed.
    public func close() {
        loop.close()
    }

    /// Closes the client like `close()` and returns once the queued commands are answered
    /// and the connection is closed. Suspends the task; no thread blocks.
    public func shutdown() async {
        loop.close()
        await loop.waitForExit()
    }

    // MARK: Sending

    /// Sends one command; an error reply is thrown as a `RedisError`.
    @discardableResult
    public func send(_ command: RedisCommand, timeout: Duration? = nil) async throws -> RedisReply {
        try await execute([command], timeout: timeout) { replies throws(RedisError) in
            var cursor = replies[0]
            return try RedisReply(cursor: &cursor).throwingError()
        }
    }

    /// Sends one command given as strings, e.g. `send("XLEN", "todo-events")`.
    @discardableResult
    public func send(_ name: String, _ arguments: String...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends commands in one write and returns their replies in order. Error replies are
    /// returned as `.error` values, so one failing command does not hide the others' results.
    public func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        return try await execute(commands, timeout: timeout) { replies in
            (0..<replies.count).map { index in
                var cursor = replies[index]
                return RedisReply(cursor: &cursor)
            }
        }
    }

    /// Queues `commands` and decodes their replies on the connection thread.
    func execute<Result: Sendable>(
        _ commands: [RedisCommand], timeout: Duration?,
        decode: @escaping @Sendable (Replies) throws(RedisError) -> Result
    ) async throws -> Result {
        try await withUnsafeThrowingContinuation { continuation in
            submit(commands, timeout: timeout, decode: decode) { continuation.resume(with: $0) }
        }
    }

    /// Queues `commands`; `completion` gets the decoded replies on the connection thread.
    func submit<Result: Sendable>(
        _ commands: [RedisCommand], timeout: Duration?,
        decode: @escaping @Sendable (Replies) throws(RedisError) -> Result,
        completion: @escaping @Sendable (Swift.Result<Result, RedisError>) -> Void
    ) {
        let timeoutMilliseconds = (timeout ?? configuration.commandTimeout).wholeMilliseconds
        loop.submit(
            PendingRequest(commands: commands, timeoutMilliseconds: timeoutMilliseconds) { outcome in
                switch outcome {
                case .success(let replies):
                    do throws(RedisError) {
                        completion(.success(try decode(replies)))
                    } catch {
                        completion(.failure(error))
                    }
                case .failure(let error):
                    completion(.failure(error))
                }
            })
    }
}

/// The two ways of driving a connection (`RedisConfiguration.Transport`); both take the same
/// `PendingRequest`s and hand replies to them on the thread that reads them.
enum ConnectionTransport: Sendable {
    case thread(RedisConnectionLoop)
    case nio(NIORedisConnectionLoop)

    var configuration: RedisConfiguration {
        switch self {
        case .thread(let loop): loop.configuration
        case .nio(let loop): loop.configuration
        }
    }

    var executor: any TaskExecutor {
        switch self {
        case .thread(let loop): loop
        case .nio(let loop): loop
        }
    }

    var statistics: RedisClientStatistics {
        switch self {
        case .thread(let loop): loop.statistics
        case .nio(let loop): loop.statistics
        }
    }

    func submit(_ request: PendingRequest) {
        switch self {
        case .thread(let loop): loop.submit(request)
        case .nio(let loop): loop.submit(request)
        }
    }

    func close() {
        switch self {
        case .thread(let loop): loop.close()
        case .nio(let loop): loop.close()
        }
    }

    func waitForExit() async {
        switch self {
        case .thread(let loop): await loop.waitForExit()
        case .nio(let loop): await loop.waitForExit()
        }
    }
}
