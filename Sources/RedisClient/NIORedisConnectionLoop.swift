import CHiredis
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The SwiftNIO transport (`RedisConfiguration.Transport.nio`): the same contract as
/// `RedisConnectionLoop`, driven by a channel on one event loop of
/// `MultiThreadedEventLoopGroup.singleton` instead of a blocking hiredis context on a thread
/// of its own.
///
/// - Requests are queued from any thread (one lock, one array append) and written by a drain
///   task on the event loop: everything queued since the last drain goes out in one write
///   (automatic pipelining); a drain is scheduled once per batch, not per request. Unlike the
///   thread transport, a batch does not wait for the previous one's replies (true pipelining).
/// - Commands are already RESP (`RedisCommand`); a batch is copied into one `ByteBuffer`.
/// - The bytes of each `channelRead` are fed to a hiredis reader that builds replies in the
///   same arena as the thread transport (`shim.h`), so `Replies` and every decoder are shared.
///   A request completes on the event loop, as soon as its last reply is parsed.
/// - Timeouts: each request written gets a deadline; one timer (re-armed only when it fires
///   or a shorter deadline appears) checks them. A timeout or a broken connection fails
///   every request in flight (never re-sent) and drops the channel; the next request
///   reconnects, with the same backoff as the thread transport after a failed attempt.
/// - The loop is a `TaskExecutor`: its jobs are queued like requests and run by the same
///   drain, on the event loop, before the requests they produced are written.
final class NIORedisConnectionLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `shared` is guarded by its mutex and the counters are atomic;
    // every other stored property is used on `eventLoop` only.

    private struct Shared {
        var queue: [PendingRequest] = []
        var jobs: [UnownedJob] = []
        /// A drain task is scheduled on the event loop (and has not yet taken the queue).
        var drainScheduled = false
        /// A request was accepted and the connection is not finished yet.
        var running = false
        var closed = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let shared = Mutex(Shared())
    let configuration: RedisConfiguration
    let eventLoop: any EventLoop
    private let logger: Logger
    private let roundTrips = Atomic<Int>(0)
    private let commandsSent = Atomic<Int>(0)
    private let reconnects = Atomic<Int>(0)
    private let failedConnects = Atomic<Int>(0)
    private let waitingCount = Atomic<Int>(0)

    // MARK: Event-loop state

    private var batch: [PendingRequest] = []
    private var jobBatch: [UnownedJob] = []
    /// Requests taken from the queue while no connection is ready (connecting, handshaking,
    /// or waiting out the backoff).
    private var waiting: [PendingRequest] = []
    /// The current connection: connecting, handshaking (`ready == false`) or ready.
    private var connection: NIORedisConnection?
    private var ready = false
    private var backoffScheduled = false
    private var everConnected = false
    private var reconnectDelay: Duration
    private var nextAttempt: NIODeadline?
    /// `close()` was seen by a drain.
    private var closing = false
    private var finishing = false

    init(configuration: RedisConfiguration, logger: Logger, group: MultiThreadedEventLoopGroup = .singleton) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoop = group.next()
        self.reconnectDelay = configuration.initialReconnectDelay
    }

    var statistics: RedisClientStatistics {
        RedisClientStatistics(
            roundTrips: roundTrips.load(ordering: .relaxed), commandsSent: commandsSent.load(ordering: .relaxed),
            reconnects: reconnects.load(ordering: .relaxed), failedConnectAttempts: failedConnects.load(ordering: .relaxed),
            queued: shared.withLock { $0.queue.count } + waitingCount.load(ordering: .relaxed))
    }

    // MARK: Submitting (any thread)

    func submit(_ request: PendingRequest) {
        let (accepted, schedule) = shared.withLock { state -> (Bool, Bool) in
            if state.closed { return (false, false) }
            state.queue.append(request)
            state.running = true
            return (true, Self.claimDrain(&state))
        }
        guard accepted else {
            request.complete(.failure(RedisError(.clientClosed, "the Redis client was closed")))
            return
        }
        if schedule { scheduleDrain() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Jobs run even after close: a task that prefers this executor must never hang.
        let schedule = shared.withLock { state -> Bool in
            state.jobs.append(job)
            return Self.claimDrain(&state)
        }
        if schedule { scheduleDrain() }
    }

    private static func claimDrain(_ state: inout Shared) -> Bool {
        if state.drainScheduled { return false }
        state.drainScheduled = true
        return true
    }

    private func scheduleDrain() {
        eventLoop.execute { self.drain() }
    }

    /// Stops accepting requests; what is queued is still sent and answered, then the channel
    /// closes. Returns at once.
    func close() {
        let schedule = shared.withLock { state -> Bool in
            if state.closed { return false }
            state.closed = true
            return state.running && Self.claimDrain(&state)
        }
        if schedule { scheduleDrain() }
    }

    /// Returns once the connection is closed and nothing is queued (at once when no request
    /// was ever sent). Suspends the calling task; no thread blocks.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = shared.withLock { state -> Bool in
                guard state.running else { return false }
                state.exitWaiters.append(continuation)
                return true
            }
            if !running { continuation.resume() }
        }
    }

    // MARK: The event loop

    /// Runs the queued jobs, then writes every queued request (those the jobs just sent
    /// included) in one batch.
    private func drain() {
        shared.withLock { state in swap(&state.jobs, &jobBatch) }
        if !jobBatch.isEmpty {
            let executor = asUnownedTaskExecutor()
            for job in jobBatch { job.runSynchronously(on: executor) }
            jobBatch.removeAll(keepingCapacity: true)
        }
        let again = shared.withLock { state -> Bool in
            swap(&state.queue, &batch)
            if state.closed { closing = true }
            state.drainScheduled = !state.jobs.isEmpty
            return state.drainScheduled
        }
        if !batch.isEmpty { dispatch() }
        if again { scheduleDrain() }
        if closing { finishIfIdle() }
    }

    private func dispatch() {
        if ready, let connection {
            write(batch[...], on: connection)
        } else {
            waiting.append(contentsOf: batch)
            waitingCount.store(waiting.count, ordering: .relaxed)
            if connection == nil && !backoffScheduled { connect() }
        }
        batch.removeAll(keepingCapacity: true)
    }

    private func write(_ requests: ArraySlice<PendingRequest>, on connection: NIORedisConnection) {
        let commands = connection.send(requests)
        roundTrips.add(1, ordering: .relaxed)
        commandsSent.add(commands, ordering: .relaxed)
    }

    private func connect() {
        if let nextAttempt, nextAttempt > .now() {
            backoffScheduled = true
            eventLoop.assumeIsolated().scheduleTask(deadline: nextAttempt) {
                self.backoffScheduled = false
                if self.connection == nil && !self.waiting.isEmpty { self.connectNow() }
            }
            return
        }
        connectNow()
    }

    /// Read buffers: a batch of stream entries is tens of KiB; NIO's default starts at 2 KiB.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 65536, maximum: 1 << 20)

    private func connectNow() {
        guard let handler = NIORedisConnection(owner: self, configuration: configuration) else {
            connectFailed(RedisError(.connectionFailed, "cannot allocate a hiredis reader for \(configuration.endpoint)"))
            return
        }
        connection = handler
        ready = false
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(configuration.connectTimeout.wholeMilliseconds)))
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        let future: EventLoopFuture<Channel> =
            switch configuration.endpoint {
            case .tcp(let host, let port): bootstrap.connect(host: host, port: port)
            case .unixSocket(let path): bootstrap.connect(unixDomainSocketPath: path)
            }
        let endpoint = configuration.endpoint
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.connected(handler)
            case .failure(let error):
                guard self.connection === handler else { return }
                self.connectFailed(RedisError(.connectionFailed, "cannot connect to Redis at \(endpoint): \(error)"))
            }
        }
    }

    /// The channel is up: authenticate, select the database and name the client (as the
    /// thread transport's connect does), then send what waits.
    private func connected(_ handler: NIORedisConnection) {
        guard connection === handler else { return }
        let commands = RedisConnection.handshakeCommands(configuration)
        guard !commands.isEmpty else {
            becomeReady()
            return
        }
        let endpoint = configuration.endpoint
        let handshake = PendingRequest(commands: commands, timeoutMilliseconds: configuration.connectTimeout.wholeMilliseconds) {
            outcome in
            // Runs on the event loop (a reply or a failure of this connection).
            switch outcome {
            case .success(let replies):
                for index in 0..<replies.count {
                    let cursor = replies[index]
                    if cursor.type == REDIS_REPLY_ERROR {
                        let text = cursor.text
                        let step = commands[index].body.starts(with: Array("$4\r\nAUTH".utf8)) ? "authentication" : "connection setup"
                        let cause = RedisError.server(text)
                        self.handshakeFailed(handler, RedisError(cause.code, "\(step) failed at \(endpoint): \(text)"))
                        return
                    }
                }
                self.handshakeSucceeded(handler)
            case .failure(let error):
                let failure =
                    error.code == .connectionLost || error.code == .timeout
                    ? RedisError(.connectionFailed, "connection setup with \(endpoint) failed: \(error.message)") : error
                self.handshakeFailed(handler, failure)
            }
        }
        _ = handler.send([handshake][...])
    }

    private func handshakeSucceeded(_ handler: NIORedisConnection) {
        guard connection === handler else { return }
        becomeReady()
    }

    private func handshakeFailed(_ handler: NIORedisConnection, _ error: RedisError) {
        guard connection === handler else { return }
        connectFailed(error)
    }

    private func becomeReady() {
        guard let connection else { return }
        ready = true
        if everConnected {
            reconnects.add(1, ordering: .relaxed)
            logger.info("Reconnected to Redis", metadata: ["redis.endpoint": "\(configuration.endpoint)"])
        }
        everConnected = true
        reconnectDelay = configuration.initialReconnectDelay
        nextAttempt = nil
        if !waiting.isEmpty {
            write(waiting[...], on: connection)
            waiting.removeAll(keepingCapacity: true)
            waitingCount.store(0, ordering: .relaxed)
        }
        if closing { finishIfIdle() }
    }

    /// Connecting (or its handshake) failed: what waits fails with `error`; the next request
    /// tries again after the backoff.
    private func connectFailed(_ error: RedisError) {
        let failed = connection
        connection = nil
        ready = false
        failed?.abandon()
        failedConnects.add(1, ordering: .relaxed)
        logger.warning(
            "Cannot connect to Redis; will retry",
            metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)",
                       "retry.delay_ms": "\(reconnectDelay.wholeMilliseconds)"])
        nextAttempt = .now() + .nanoseconds(Int64(reconnectDelay.wholeMilliseconds) * 1_000_000)
        reconnectDelay = min(reconnectDelay * 2, configuration.maximumReconnectDelay)
        let requests = waiting
        waiting.removeAll(keepingCapacity: true)
        waitingCount.store(0, ordering: .relaxed)
        for request in requests { request.complete(.failure(error)) }
        if closing { finishIfIdle() }
    }

    /// Called by a connection that failed or closed (its requests in flight already failed).
    fileprivate func connectionEnded(_ handler: NIORedisConnection, error: RedisError?, hadRequests: Bool) {
        guard connection === handler else { return }
        if !ready {
            // Lost during connect or handshake (the handshake request reports it too).
            connectFailed(error ?? RedisError(.connectionFailed, "connection setup with \(configuration.endpoint) failed"))
            return
        }
        if let error, hadRequests {
            logger.warning(
                "Redis connection failed; in-flight commands fail and are not re-sent",
                metadata: ["redis.endpoint": "\(configuration.endpoint)", "error": "\(error.message)"])
        }
        connection = nil
        ready = false
        nextAttempt = nil  // first reconnect attempt right away, then back off
        if closing { finishIfIdle() }
    }

    /// Called after a read completed requests: closes the channel once closing and idle.
    fileprivate func repliesDelivered() {
        if closing { finishIfIdle() }
    }

    private func finishIfIdle() {
        guard !finishing, waiting.isEmpty else { return }
        if let connection {
            guard ready, connection.isIdle else { return }
        }
        let empty = shared.withLock { $0.queue.isEmpty && $0.closed }
        guard empty else { return }
        finishing = true
        let last = connection
        connection = nil
        ready = false
        guard let last else {
            finish()
            return
        }
        last.closeChannel { self.finish() }
    }

    private func finish() {
        let waiters = shared.withLock { state in
            state.running = false
            defer { state.exitWaiters = [] }
            return state.exitWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// One channel's handler: writes batches, feeds what it reads to a hiredis reader, completes
/// the requests in flight in order. Used on its event loop only.
final class NIORedisConnection: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: created, used and freed on the owner's event loop only (it is
    // captured by the channel initializer and the handshake's completion, both run there).
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlight {
        let request: PendingRequest
        let deadline: NIODeadline
    }

    private let owner: NIORedisConnectionLoop
    private let configuration: RedisConfiguration
    private let reader: UnsafeMutablePointer<redisReader>
    private let arena: UnsafeMutablePointer<chiredis_arena>
    private var context: ChannelHandlerContext?
    private var inFlight = CircularBuffer<InFlight>(initialCapacity: 16)
    /// Reply nodes of the request at the head, read so far.
    private var roots: [Int] = []
    /// Failed or closed: nothing more is read or completed.
    private var done = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init?(owner: NIORedisConnectionLoop, configuration: RedisConfiguration) {
        let arena = UnsafeMutablePointer<chiredis_arena>.allocate(capacity: 1)
        arena.initialize(to: chiredis_arena())
        guard let reader = chiredis_reader_create(arena) else {
            arena.deallocate()
            return nil
        }
        self.owner = owner
        self.configuration = configuration
        self.reader = reader
        self.arena = arena
        roots.reserveCapacity(16)
    }

    deinit {
        redisReaderFree(reader)
        chiredis_arena_release(arena)
        arena.deallocate()
    }

    var isIdle: Bool { inFlight.isEmpty }

    // MARK: Writing

    /// Writes the requests' commands in one buffer and one flush; returns how many commands.
    /// Requests handed to a connection that already failed fail at once.
    func send(_ requests: ArraySlice<PendingRequest>) -> Int {
        guard !done, let context else {
            let error = RedisError(
                .connectionLost,
                "connection to Redis at \(configuration.endpoint) lost; the command may or may not have been applied")
            for request in requests { request.complete(.failure(error)) }
            return 0
        }
        var size = 0
        var commandCount = 0
        var shortest = Int.max
        for request in requests {
            for command in request.commands { size += command.encodedCount }
            commandCount += request.commands.count
            shortest = min(shortest, request.timeoutMilliseconds)
        }
        var buffer = context.channel.allocator.buffer(capacity: size)
        let now = NIODeadline.now()
        for request in requests {
            for command in request.commands { buffer.writeRedisCommand(command) }
            inFlight.append(InFlight(request: request, deadline: now + .milliseconds(Int64(request.timeoutMilliseconds))))
        }
        if shortest != .max { armTimer(now + .milliseconds(Int64(shortest))) }
        completeEmptyHeads()
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        return commandCount
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(lost("the channel was closed"))
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let buffer = unwrapInboundIn(data)
        let fed = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return REDIS_OK }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if fed != REDIS_OK {
            fail(RedisError(.connectionLost, "out of memory while reading a reply from \(configuration.endpoint)"))
            return
        }
        var completed = false
        while !done {
            var raw: UnsafeMutableRawPointer?
            if redisReaderGetReply(reader, &raw) != REDIS_OK {
                if arena.pointee.failed != 0 {
                    fail(RedisError(.connectionLost, "out of memory while reading a reply from \(configuration.endpoint)"))
                } else {
                    fail(RedisError(.protocolError, "protocol error from Redis at \(configuration.endpoint): \(readerError)"))
                }
                return
            }
            guard let raw else { break }
            guard let head = inFlight.first else {
                fail(RedisError(.protocolError, "protocol error from Redis at \(configuration.endpoint): a reply with no command in flight"))
                return
            }
            roots.append(chiredis_arena_index(raw))
            if roots.count >= head.request.commands.count {
                inFlight.removeFirst()
                // Moved out while the completion runs (it may fail this connection, which
                // clears `roots`); moved back to keep its capacity.
                var current: [Int] = []
                swap(&current, &roots)
                current.withUnsafeBufferPointer { head.request.complete(.success(Replies(arena: arena, roots: $0))) }
                current.removeAll(keepingCapacity: true)
                swap(&current, &roots)
                // The reader holds no partial reply right after returning a whole one, so the
                // arena can be reused for the next request's replies.
                chiredis_arena_reset(arena)
                completeEmptyHeads()
                completed = true
            }
        }
        if completed { owner.repliesDelivered() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(lost("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(lost("\(error)"))
    }

    // MARK: Failing and closing

    private func lost(_ reason: String) -> RedisError {
        RedisError(
            .connectionLost,
            "connection to Redis at \(configuration.endpoint) lost (\(reason)); the command may or may not have been applied")
    }

    private var readerError: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "error \(reader.pointee.err)" : text
        }
    }

    /// Fails every request in flight with `error` (none is re-sent), closes the channel and
    /// tells the owner. Later events of this channel are ignored.
    private func fail(_ error: RedisError) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        let requests = inFlight
        inFlight.removeAll()
        roots.removeAll()
        for entry in requests { entry.request.complete(.failure(error)) }
        context?.close(promise: nil)
        owner.connectionEnded(self, error: error, hadRequests: !requests.isEmpty)
    }

    /// Closes the channel without reporting anything (a failed handshake: its request failed).
    func abandon() {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        let requests = inFlight
        inFlight.removeAll()
        let error = RedisError(.connectionFailed, "connection setup with \(configuration.endpoint) failed")
        for entry in requests { entry.request.complete(.failure(error)) }
        context?.close(promise: nil)
    }

    /// Closes an idle channel (the client was closed); `then` runs once it is closed.
    func closeChannel(then: @escaping () -> Void) {
        done = true
        timer?.cancel()
        timer = nil
        guard let context else {
            then()
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in then() }
        context.close(promise: promise)
    }

    /// Completes requests with no commands that reached the head (nothing to wait for).
    private func completeEmptyHeads() {
        while let head = inFlight.first, head.request.commands.isEmpty, roots.isEmpty {
            inFlight.removeFirst()
            [Int]().withUnsafeBufferPointer { head.request.complete(.success(Replies(arena: arena, roots: $0))) }
        }
    }

    // MARK: Timeouts

    /// Makes sure the timer fires no later than `deadline`.
    private func armTimer(_ deadline: NIODeadline) {
        if let timerDeadline, timerDeadline <= deadline { return }
        guard let context else { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard !done, !inFlight.isEmpty else { return }
        let now = NIODeadline.now()
        var earliest = NIODeadline.distantFuture
        for entry in inFlight {
            if entry.deadline <= now {
                fail(
                    RedisError(
                        .timeout,
                        "no reply from Redis at \(configuration.endpoint) within \(entry.request.timeoutMilliseconds) ms; the command may or may not have been applied"
                    ))
                return
            }
            earliest = min(earliest, entry.deadline)
        }
        armTimer(earliest)
    }
}

extension ByteBuffer {
    /// Appends `command` as RESP: the `*N` header, then its already encoded arguments.
    mutating func writeRedisCommand(_ command: RedisCommand) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: 24) { out in
            out[0] = UInt8(ascii: "*")
            let digits = DecimalFormatting.write(command.argumentCount, into: UnsafeMutableRawBufferPointer(rebasing: out[1...]))
            out[digits + 1] = 13
            out[digits + 2] = 10
            return digits + 3
        }
        writeBytes(command.body)
    }
}
