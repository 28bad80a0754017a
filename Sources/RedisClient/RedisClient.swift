import CHiredis
import Logging
import Synchronization

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
///
/// Redis Cluster: a client given several nodes (`redis://h1:p1,h2:p2`) routes every command to
/// the master of its key's slot from the start (`ClusterRouter`); a client given one node
/// switches to the same routing the first time that node answers `MOVED` or `ASK` (it is
/// part of a cluster), and resends what was redirected. Pipelines, ordering and the other
/// guarantees above hold per request across nodes.
public final class RedisClient: Sendable {
    /// The connection to the configured node (the first seed).
    private let loop: ConnectionTransport
    /// Set once the client routes over a cluster.
    private let clustered = Atomic<Bool>(false)
    private let router = Mutex<ClusterRouter?>(nil)
    private let logger: Logger
    public let configuration: RedisConfiguration

    /// Creates a client; the connection is made by the first command.
    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "redis")) {
        self.configuration = configuration
        self.logger = logger
        loop = ConnectionTransport.make(configuration: configuration, logger: logger)
        if configuration.cluster == .always { _ = routeOverCluster() }
    }

    /// The cluster router, made (adopting the first node's connection) on first call.
    private func routeOverCluster() -> ClusterRouter {
        let router = router.withLock { router in
            if let router { return router }
            let made = ClusterRouter(
                configuration: configuration, seeds: configuration.seeds, logger: logger, adopting: loop)
            router = made
            return made
        }
        if !clustered.exchange(true, ordering: .acquiringAndReleasing), configuration.cluster != .always {
            logger.notice(
                "Redis is a cluster node: routing every command by its key's slot from now on",
                metadata: ["redis.endpoint": "\(configuration.endpoint)"])
        }
        return router
    }

    /// The cluster router when the client routes over a cluster.
    private var activeRouter: ClusterRouter? {
        clustered.load(ordering: .acquiring) ? router.withLock { $0 } : nil
    }

    /// The masters of the cluster and their slot ranges, as last loaded (empty when the
    /// client talks to one node).
    public var clusterSlots: [(endpoint: RedisConfiguration.Endpoint, slots: [ClosedRange<Int>])] {
        activeRouter?.slotMap ?? []
    }

    /// Whether this client routes commands over a cluster.
    public var isClustered: Bool { clustered.load(ordering: .acquiring) }

    /// Sends `command` to every master of the cluster (to the one node otherwise) and returns
    /// each node's reply: for commands about a node rather than a key (`INFO`, `DBSIZE`,
    /// `SCRIPT FLUSH`). Error replies are returned, not thrown.
    public func sendToEveryMaster(_ command: RedisCommand) async throws -> [RedisReply] {
        guard let router = try await clusterRouterForNodeCommands() else { return try await pipeline([command]) }
        var replies: [RedisReply] = []
        for master in try await router.masters() {
            replies += try await router.send([command], to: master, timeoutMilliseconds: configuration.commandTimeout.wholeMilliseconds)
        }
        return replies
    }

    /// The router when the server is a cluster node: a client given one node that has not met
    /// a `MOVED` yet asks the node (`INFO cluster`) before a command meant for every node.
    private func clusterRouterForNodeCommands() async throws -> ClusterRouter? {
        if let router = activeRouter { return router }
        guard configuration.cluster == .automatic else { return nil }
        let info = try await send("INFO", "cluster").string ?? ""
        return info.contains("cluster_enabled:1") ? routeOverCluster() : nil
    }

    /// Every key matching the glob `pattern` (and of `type`, when given), with `SCAN` on the
    /// one node or on every master of the cluster. Keys written or deleted meanwhile may or may
    /// not be listed (SCAN's own guarantee); none is listed twice.
    public func scanKeys(matching pattern: String, type: String? = nil, count: Int = 1000) async throws -> [String] {
        func scan(_ send: ([RedisCommand]) async throws -> RedisReply) async throws -> Set<String> {
            var keys: Set<String> = []
            var cursor = "0"
            repeat {
                var command = RedisCommand("SCAN", cursor, "MATCH", pattern, "COUNT", "\(count)")
                if let type {
                    command.append("TYPE")
                    command.append(type)
                }
                let reply = try await send([command]).throwingError()
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let found = parts[1].array else {
                    throw RedisError(.unexpectedReply, "expected a SCAN reply, got \(reply)")
                }
                keys.formUnion(found.compactMap(\.string))
                cursor = next
            } while cursor != "0"
            return keys
        }
        guard let router = try await clusterRouterForNodeCommands() else {
            return Array(try await scan { try await pipeline($0)[0] })
        }
        var keys: Set<String> = []
        let timeout = configuration.commandTimeout.wholeMilliseconds
        for master in try await router.masters() {
            keys.formUnion(try await scan { try await router.send($0, to: master, timeoutMilliseconds: timeout)[0] })
        }
        return Array(keys)
    }

    /// Creates a client for a `redis://` or `unix://` URL.
    public convenience init(url: String, logger: Logger = Logger(label: "redis")) throws {
        self.init(configuration: try RedisConfiguration(url: url), logger: logger)
    }

    deinit {
        loop.close()
        router.withLock { $0 }?.close()
    }

    /// The connection's own thread as a task executor. Code that runs there
    /// (`withTaskExecutorPreference(client.executor) { ... }`) sends its commands and gets
    /// its replies without waiting for any thread to wake up; meant for a consumer that owns
    /// its client. Work that blocks there delays this client's I/O.
    public var executor: any TaskExecutor { loop.executor }

    /// Round trips, commands and reconnects so far (over every node, on a cluster).
    public var statistics: RedisClientStatistics { activeRouter?.statistics ?? loop.statistics }

    /// Closes the client: the commands already queued are still sent and answered, then the
    /// connection closes. Later commands fail with `.clientClosed`. Returns at once; use
    /// `shutdown()` to wait until the connection is closed.
    public func close() {
        loop.close()
        router.withLock { $0 }?.close()
    }

    /// Closes the client like `close()` and returns once the queued commands are answered
    /// and the connection is closed. Suspends the task; no thread blocks.
    public func shutdown() async {
        close()
        await loop.waitForExit()
        await router.withLock { $0 }?.waitForExit()
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
        if let router = activeRouter {
            return router.submit(commands, timeoutMilliseconds: timeoutMilliseconds, decode: decode, completion: completion)
        }
        let mayBeCluster = configuration.cluster != .never
        loop.submit(
            PendingRequest(commands: commands, timeoutMilliseconds: timeoutMilliseconds) { outcome in
                switch outcome {
                case .success(let replies):
                    // A node of a cluster answered MOVED or ASK: route over the cluster from now on,
                    // starting with what was redirected here.
                    if mayBeCluster, replies.hasRedirection(movedOrAskOnly: true) {
                        let owned = (0..<replies.count).map { OwnedReply(copying: replies[$0]) }
                        self.routeOverCluster().resolve(
                            commands, owned: owned, from: self.configuration.endpoint,
                            timeoutMilliseconds: timeoutMilliseconds, decode: decode, completion: completion)
                        return
                    }
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

/// A connection to one node: today's transport, a blocking hiredis context on a thread of its
/// own (`RedisConnectionLoop`; BENCHMARKS.md, "Transport: threads or SwiftNIO", for why).
typealias ConnectionTransport = RedisConnectionLoop

extension RedisConnectionLoop {
    /// A connection to `configuration.endpoint`.
    static func make(configuration: RedisConfiguration, logger: Logger) -> RedisConnectionLoop {
        RedisConnectionLoop(configuration: configuration, logger: logger)
    }

    var executor: any TaskExecutor { self }
}
