import CHiredis
import Dispatch
import Foundation
import Logging
import Synchronization

/// A request waiting for the connection thread: commands to write and a callback that
/// receives their replies (decoded on the connection thread, before they are freed).
struct PendingRequest: Sendable {
    typealias Outcome = Result<Replies, RedisError>
    let commands: [RedisCommand]
    /// How long to wait for this request's replies.
    let timeoutMilliseconds: Int
    let complete: @Sendable (Outcome) -> Void
}

/// Counters kept by a connection, readable at any time.
public struct RedisClientStatistics: Sendable, Hashable {
    /// Socket writes followed by reading their replies: one per pipelined batch.
    public var roundTrips: Int
    public var commandsSent: Int
    /// Connections made after the first one.
    public var reconnects: Int
    public var failedConnectAttempts: Int
    /// Requests waiting for the connection (not written yet) when the statistics were read.
    public var queued: Int = 0
}

/// Owns one hiredis connection and the thread that drives it.
///
/// Every request queued while the thread is busy is written in the next batch, so
/// concurrent callers share round trips (automatic pipelining) and an idle caller is sent
/// at once. Replies are read back in order and handed to each request's callback.
/// After a connection failure the connection is dropped; the requests in flight fail with
/// `.connectionLost` (never re-sent), and the next request reconnects after a backoff.
///
/// The thread is also a `TaskExecutor`: tasks that prefer it run their jobs between round
/// trips, so a consumer that awaits its reads here never waits for a thread wake-up.
final class RedisConnectionLoop: TaskExecutor, Sendable {
    private struct State {
        var queue: [PendingRequest] = []
        var jobs: [UnownedJob] = []
        var threadSleeping = false
        var threadRunning = false
        var closed = false
        /// Tasks waiting in `waitForExit` for the thread to end.
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    let configuration: RedisConfiguration
    private let logger: Logger
    private let roundTrips = Atomic<Int>(0)
    private let commandsSent = Atomic<Int>(0)
    /// Whether a request made while the connection waits out its reconnect delay fails at once
    /// (with the last connect error: nothing was sent) instead of waiting for the next attempt.
    /// Set for a cluster's node connections (the client's first one included, once it routes
    /// over a cluster): the router then reloads the slot map and sends the request where it
    /// belongs now (a promoted replica), instead of each retry waiting up to
    /// `maximumReconnectDelay` at a dead master's connection.
    let failsWhileReconnecting = Atomic<Bool>(false)
    private let reconnects = Atomic<Int>(0)
    private let failedConnects = Atomic<Int>(0)
    /// `pthread_self()` of the running connection thread (0 when none).
    private let threadID = Atomic<UInt>(0)

    init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    var statistics: RedisClientStatistics {
        RedisClientStatistics(
            roundTrips: roundTrips.load(ordering: .relaxed), commandsSent: commandsSent.load(ordering: .relaxed),
            reconnects: reconnects.load(ordering: .relaxed), failedConnectAttempts: failedConnects.load(ordering: .relaxed),
            queued: state.withLock { $0.queue.count })
    }

    // MARK: Submitting

    func submit(_ request: PendingRequest) {
        let (accepted, wake, start) = state.withLock { state -> (Bool, Bool, Bool) in
            if state.closed { return (false, false, false) }
            state.queue.append(request)
            return (true, Self.claimWakeUp(&state), Self.claimStart(&state))
        }
        guard accepted else {
            request.complete(.failure(RedisError(.clientClosed, "the Redis client was closed")))
            return
        }
        if start { startThread() }
        if wake { wakeUp.signal() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Jobs run even after close: a task that prefers this executor must never hang.
        let (wake, start) = state.withLock { state -> (Bool, Bool) in
            state.jobs.append(job)
            return (Self.claimWakeUp(&state), Self.claimStart(&state))
        }
        if start { startThread() }
        if wake { wakeUp.signal() }
    }

    private static func claimWakeUp(_ state: inout State) -> Bool {
        let wake = state.threadSleeping
        state.threadSleeping = false
        return wake
    }

    private static func claimStart(_ state: inout State) -> Bool {
        let start = !state.threadRunning
        state.threadRunning = true
        return start
    }

    /// Stops accepting requests; the thread finishes what is queued and exits. Returns at
    /// once.
    func close() {
        let wake = state.withLock { state -> Bool in
            if state.closed { return false }
            state.closed = true
            return Self.claimWakeUp(&state)
        }
        if wake { wakeUp.signal() }
    }

    /// Returns once the connection thread is not running (at once when it never started).
    /// Suspends the calling task; no thread blocks.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = state.withLock { state -> Bool in
                guard state.threadRunning else { return false }
                state.exitWaiters.append(continuation)
                return true
            }
            if !running { continuation.resume() }
        }
    }

    private func startThread() {
        let thread = Thread { [self] in run() }
        thread.name = "redis-io"
        thread.start()
    }

    // MARK: The connection thread

    private func run() {
        var connection: RedisConnection?
        var everConnected = false
        var reconnectDelay = configuration.initialReconnectDelay
        var nextAttempt: ContinuousClock.Instant?
        var lastConnectError: RedisError?
        var batch: [PendingRequest] = []
        var replies: [Int] = []
        var jobs: [UnownedJob] = []
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        defer {
            threadID.store(0, ordering: .relaxed)
            let waiters = state.withLock { state in
                defer { state.exitWaiters = [] }
                return state.exitWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
        Self.blockSIGPIPEOnThisThread()

        while true {
            let (exit, sleep) = state.withLock { state -> (Bool, Bool) in
                swap(&state.queue, &batch)
                swap(&state.jobs, &jobs)
                guard batch.isEmpty && jobs.isEmpty else { return (false, false) }
                if state.closed {
                    state.threadRunning = false
                    return (true, false)
                }
                state.threadSleeping = true
                return (false, true)
            }
            if exit { return }
            if sleep {
                wakeUp.wait()
                continue
            }
            if batch.isEmpty {
                runJobs(&jobs)
                continue
            }
            if connection == nil {
                if let nextAttempt, nextAttempt > .now {
                    if failsWhileReconnecting.load(ordering: .relaxed), let lastConnectError {
                        for request in batch { request.complete(.failure(lastConnectError)) }
                        batch.removeAll(keepingCapacity: true)
                        runJobs(&jobs)
                        continue
                    }
                    Thread.sleep(forTimeInterval: (nextAttempt - .now).seconds)
                }
                do {
                    connection = try RedisConnection(configuration: configuration)
                    if everConnected {
                        reconnects.add(1, ordering: .relaxed)
                        logger.info("Reconnected to Redis", metadata: ["redis.endpoint": "\(configuration.endpoint)"])
                    }
                    everConnected = true
                    reconnectDelay = configuration.initialReconnectDelay
                    nextAttempt = nil
                    lastConnectError = nil
                } catch {
                    lastConnectError = error
                    failedConnects.add(1, ordering: .relaxed)
                    logger.warning(
                        "Cannot connect to Redis; will retry",
                        metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)",
                                   "retry.delay_ms": "\(reconnectDelay.wholeMilliseconds)"])
                    nextAttempt = .now + reconnectDelay
                    reconnectDelay = min(reconnectDelay * 2, configuration.maximumReconnectDelay)
                    for request in batch { request.complete(.failure(error)) }
                    batch.removeAll(keepingCapacity: true)
                    runJobs(&jobs)
                    continue
                }
            }
            // Write first, run the waiting jobs while Redis works on the batch, then read.
            let waits = CoalescedWaits(batch)
            var healthy = send(batch, waits: waits, on: connection!)
            runJobs(&jobs)
            if healthy {
                healthy = waits.command == nil
                    ? receive(batch, on: connection!, replies: &replies)
                    : receive(batch, waits: waits, on: connection!, replies: &replies)
            }
            if !healthy {
                connection = nil
                nextAttempt = nil  // first reconnect attempt right away, then back off
            }
            batch.removeAll(keepingCapacity: true)
        }
    }

    private func runJobs(_ jobs: inout [UnownedJob]) {
        for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
        jobs.removeAll(keepingCapacity: true)
    }

    /// Writes the whole batch to the socket. Returns false (after failing the batch) when
    /// the connection failed and must be discarded.
    private func send(_ batch: [PendingRequest], waits: CoalescedWaits, on connection: RedisConnection) -> Bool {
        var timeout = 0
        var commandCount = 0
        for request in batch {
            timeout = max(timeout, request.timeoutMilliseconds)
            commandCount += request.commands.count
        }
        connection.setTimeout(milliseconds: timeout)
        do {
            if let wait = waits.command {
                for (index, request) in batch.enumerated() {
                    if waits.isMember(index) {
                        try connection.write(request.commands.dropLast())
                        commandCount -= 1
                    } else {
                        try connection.write(request.commands)
                    }
                }
                try connection.write(CollectionOfOne(wait))
                commandCount += 1
            } else {
                for request in batch { try connection.write(request.commands) }
            }
            try connection.flush()
        } catch {
            logger.warning(
                "Redis connection failed; in-flight commands fail and are not re-sent",
                metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)"])
            fail(batch[...], error)
            return false
        }
        roundTrips.add(1, ordering: .relaxed)
        commandsSent.add(commandCount, ordering: .relaxed)
        return true
    }

    /// Reads each request's replies in order and completes it. Returns false when the
    /// connection failed and must be discarded (the requests not completed fail).
    private func receive(_ batch: [PendingRequest], on connection: RedisConnection, replies: inout [Int]) -> Bool {
        for (index, request) in batch.enumerated() {
            replies.removeAll(keepingCapacity: true)
            connection.resetReplies()
            do {
                for _ in 0..<request.commands.count { replies.append(try connection.readReply()) }
            } catch {
                logger.warning(
                    "Redis connection failed; in-flight commands fail and are not re-sent",
                    metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)"])
                fail(batch[index...], error)
                return false
            }
            replies.withUnsafeBufferPointer { request.complete(.success(Replies(arena: connection.arena, roots: $0))) }
        }
        return true
    }

    /// Like `receive(_:on:replies:)` for a batch with coalesced `WAIT`s: the other requests
    /// complete as their replies come; the coalesced ones once the final `WAIT` answered, each
    /// with its own replies and that `WAIT`'s. The replies of the whole batch stay in the arena
    /// until then.
    private func receive(
        _ batch: [PendingRequest], waits: CoalescedWaits, on connection: RedisConnection, replies: inout [Int]
    ) -> Bool {
        var held: [(request: PendingRequest, roots: [Int])] = []
        connection.resetReplies()
        for (index, request) in batch.enumerated() {
            let member = waits.isMember(index)
            replies.removeAll(keepingCapacity: true)
            do {
                for _ in 0..<(request.commands.count - (member ? 1 : 0)) { replies.append(try connection.readReply()) }
            } catch {
                logger.warning(
                    "Redis connection failed; in-flight commands fail and are not re-sent",
                    metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)"])
                fail(held.map(\.request)[...], error)
                fail(batch[index...], error)
                return false
            }
            if member {
                held.append((request, replies))
            } else {
                replies.withUnsafeBufferPointer { request.complete(.success(Replies(arena: connection.arena, roots: $0))) }
            }
        }
        let waitReply: Int
        do {
            waitReply = try connection.readReply()
        } catch {
            logger.warning(
                "Redis connection failed; in-flight commands fail and are not re-sent",
                metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)"])
            fail(held.map(\.request)[...], error)
            return false
        }
        for (request, roots) in held {
            (roots + [waitReply]).withUnsafeBufferPointer {
                request.complete(.success(Replies(arena: connection.arena, roots: $0)))
            }
        }
        return true
    }

    /// hiredis writes with plain `write(2)`: a write to a socket the server closed would raise
    /// SIGPIPE and kill the process. Blocked on this thread only, the write fails with EPIPE
    /// and the connection is reported lost; the rest of the process keeps its own handling.
    private static func blockSIGPIPEOnThisThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private func fail(_ requests: ArraySlice<PendingRequest>, _ error: RedisError) {
        for request in requests { request.complete(.failure(error)) }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
