import Histogram
import NIOCore
import NIOPosix
import Synchronization

/// What the HTTP driver sends: `POST /todos` with a body made per index (no Foundation, no
/// string formatting: fixed bytes with the index's digits spliced in), or one fixed `GET`.
struct HTTPRequestShape: Sendable {
    enum Kind: Sendable {
        /// `POST /todos`; a 201 answer's `"id"` is the created todo.
        case createTodo
        /// `POST /orders`; a 202 answer's `"id"` is the order (and its saga).
        case createOrder(skus: [ByteBuffer])
        /// `GET <path>`; any 2xx counts, nothing is kept.
        case get
    }

    let kind: Kind
    /// GET: the whole request. POST: from the request line to `X-Correlation-ID: load-<run>-`.
    let head: ByteBuffer
    /// POST: `\r\nContent-Length: ` ... the index and the body follow.
    static let contentLength = ByteBuffer(string: "\r\nContent-Length: ")
    static let headEnd = ByteBuffer(string: "\r\n\r\n")
    static let bodyUser = ByteBuffer(string: #"{"user_id":"load-user-"#)
    static let bodyTitle = ByteBuffer(string: #"","title":"load test todo "#)
    /// `","priority":"low"}` and the other priorities.
    static let bodyEnds = ["low", "medium", "high", "urgent"].map { ByteBuffer(string: #"","priority":""# + $0 + #""}"#) }

    static func createTodo(host: String, port: Int, run: String) -> HTTPRequestShape {
        HTTPRequestShape(
            kind: .createTodo,
            head: ByteBuffer(
                string: "POST /todos HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
                    + "X-Correlation-ID: load-\(run)-"))
    }

    static let orderUser = ByteBuffer(string: #"{"user_id":"load-user-"#)
    static let orderSKU = ByteBuffer(string: #"","items":[{"sku":""#)
    static let orderAmount = ByteBuffer(string: #"","quantity":1}],"amount_cents":"#)
    static let orderCard = ByteBuffer(string: #","card":"4242424242424242"}"#)

    /// `POST /orders`, order `i`: user `i % 100`, one of `skus` (in turn), amount 100 + i % 900 cents.
    static func createOrder(host: String, port: Int, run: String, skus: [String]) -> HTTPRequestShape {
        HTTPRequestShape(
            kind: .createOrder(skus: skus.map { ByteBuffer(string: $0) }),
            head: ByteBuffer(
                string: "POST /orders HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
                    + "X-Correlation-ID: load-\(run)-"))
    }

    static func get(host: String, port: Int, path: String) -> HTTPRequestShape {
        HTTPRequestShape(kind: .get, head: ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n\r\n"))
    }

    /// Request `index`: user `index % 100`, title `load test todo <index>`, priority `index % 4`.
    func write(_ index: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        switch kind {
        case .get: return head
        case .createOrder(let skus): return writeOrder(index, sku: skus[index % skus.count], allocator: allocator)
        case .createTodo: break
        }
        let user = index % 100
        let end = Self.bodyEnds[index & 3]
        let bodyLength =
            Self.bodyUser.readableBytes + decimalDigits(user) + Self.bodyTitle.readableBytes + decimalDigits(index)
            + end.readableBytes
        var buffer = allocator.buffer(capacity: head.readableBytes + 48 + bodyLength)
        buffer.writeImmutableBuffer(head)
        buffer.writeDecimal(index)
        buffer.writeImmutableBuffer(Self.contentLength)
        buffer.writeDecimal(bodyLength)
        buffer.writeImmutableBuffer(Self.headEnd)
        buffer.writeImmutableBuffer(Self.bodyUser)
        buffer.writeDecimal(user)
        buffer.writeImmutableBuffer(Self.bodyTitle)
        buffer.writeDecimal(index)
        buffer.writeImmutableBuffer(end)
        return buffer
    }
}

extension HTTPRequestShape {
    private func writeOrder(_ index: Int, sku: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let user = index % 100
        let amount = 100 + index % 900
        let bodyLength =
            Self.orderUser.readableBytes + decimalDigits(user) + Self.orderSKU.readableBytes + sku.readableBytes
            + Self.orderAmount.readableBytes + decimalDigits(amount) + Self.orderCard.readableBytes
        var buffer = allocator.buffer(capacity: head.readableBytes + 48 + bodyLength)
        buffer.writeImmutableBuffer(head)
        buffer.writeDecimal(index)
        buffer.writeImmutableBuffer(Self.contentLength)
        buffer.writeDecimal(bodyLength)
        buffer.writeImmutableBuffer(Self.headEnd)
        buffer.writeImmutableBuffer(Self.orderUser)
        buffer.writeDecimal(user)
        buffer.writeImmutableBuffer(Self.orderSKU)
        buffer.writeImmutableBuffer(sku)
        buffer.writeImmutableBuffer(Self.orderAmount)
        buffer.writeDecimal(amount)
        buffer.writeImmutableBuffer(Self.orderCard)
        return buffer
    }
}

func decimalDigits(_ value: Int) -> Int {
    var digits = 1
    var rest = value / 10
    while rest > 0 {
        digits += 1
        rest /= 10
    }
    return digits
}

extension ByteBuffer {
    /// The decimal digits of a non-negative integer.
    mutating func writeDecimal(_ value: Int) {
        var divisor = 1
        for _ in 1..<decimalDigits(value) { divisor *= 10 }
        while divisor > 0 {
            writeInteger(UInt8(truncatingIfNeeded: 48 + value / divisor % 10))
            divisor /= 10
        }
    }
}

/// The head of an HTTP/1.1 response, parsed from raw bytes (no header objects).
struct ResponseHead: Equatable {
    var length: Int
    var status: Int
    var contentLength: Int?
    var chunked = false
    var close = false

    /// The head at the start of `bytes`, or nil while its blank line has not arrived.
    static func parse(_ bytes: Span<UInt8>) -> ResponseHead? {
        let count = bytes.count
        guard count >= 16 else { return nil }
        var head = ResponseHead(length: 0, status: 0)
        var lineStart = 0
        var index = 0
        var first = true
        while index + 1 < count {
            guard bytes[index] == 13, bytes[index + 1] == 10 else {
                index += 1
                continue
            }
            if index == lineStart {
                head.length = index + 2
                return head
            }
            if first {
                // "HTTP/1.1 201 Created"
                if index - lineStart >= 12 {
                    head.status = (Int(bytes[lineStart + 9]) - 48) * 100 + (Int(bytes[lineStart + 10]) - 48) * 10
                        + Int(bytes[lineStart + 11]) - 48
                }
                first = false
            } else if matches(bytes, lineStart, index, "content-length:") {
                var value = 0
                var position = lineStart + 15
                while position < index, bytes[position] == 32 { position += 1 }
                while position < index, (48...57).contains(bytes[position]) {
                    value = value * 10 + Int(bytes[position]) - 48
                    position += 1
                }
                head.contentLength = value
            } else if matches(bytes, lineStart, index, "transfer-encoding:") {
                head.chunked = true
            } else if matches(bytes, lineStart, index, "connection:") {
                head.close = contains(bytes, lineStart + 11, index, "close")
            }
            index += 2
            lineStart = index
        }
        return nil
    }

    /// The line from `start` begins with `name` (lower case), ignoring case.
    private static func matches(_ bytes: Span<UInt8>, _ start: Int, _ end: Int, _ name: String) -> Bool {
        guard end - start >= name.utf8.count else { return false }
        var position = start
        for byte in name.utf8 {
            guard bytes[position] | 0x20 == byte | 0x20 else { return false }
            position += 1
        }
        return true
    }

    private static func contains(_ bytes: Span<UInt8>, _ start: Int, _ end: Int, _ word: String) -> Bool {
        var position = start
        while position + word.utf8.count <= end {
            if matches(bytes, position, end, word) { return true }
            position += 1
        }
        return false
    }
}

/// The todo id in a `POST /todos` answer: the value of its `"id"` member.
private let idKey: [UInt8] = Array(#""id":""#.utf8)

func todoID(in body: ByteBuffer) -> String? {
    let bytes = body.readableBytesUInt8Span
    let key = idKey
    let count = bytes.count
    var index = 0
    while index + key.count < count {
        var found = true
        for offset in 0..<key.count where bytes[index + offset] != key[offset] {
            found = false
            break
        }
        if found {
            let start = index + key.count
            var end = start
            while end < count, bytes[end] != 34 { end += 1 }
            guard end < count, end > start else { return nil }
            return body.getString(at: body.readerIndex + start, length: end - start)
        }
        index += 1
    }
    return nil
}

/// Counters the progress line reads while the driver runs (the driver's other state stays on
/// its event loop).
final class LiveCounters: Sendable {
    let sent = Atomic<Int>(0)
    let created = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)

    func read() -> (sent: Int, created: Int, failed: Int, dropped: Int, inFlight: Int) {
        (
            sent.load(ordering: .relaxed), created.load(ordering: .relaxed), failed.load(ordering: .relaxed),
            dropped.load(ordering: .relaxed), inFlight.load(ordering: .relaxed)
        )
    }
}

/// Offers HTTP requests at a fixed rate (open loop) over a pool of keep-alive connections, one
/// request in flight per connection, everything on one event loop thread.
///
/// Request `i` is due at `start + i / rate`. A due request goes out on an idle connection at
/// once; while none is idle it waits (its latency still counts from its due time, so a slow
/// target shows up as latency, not as a lower offered rate: no coordinated omission); a request
/// more than `backlog` behind the schedule is not sent and counts as dropped.
struct HTTPDriver {
    let host: String
    let port: Int
    let shape: HTTPRequestShape
    let rate: Double
    let total: Int
    let connections: Int
    let backlog: Int
    /// Most seconds to wait for the answers in flight once the schedule is done.
    var answerTimeout: Double = 30

    /// Opens the connections, runs the schedule, returns the figures; throws when no
    /// connection could be opened.
    func run(counters: LiveCounters) async throws -> (LoadStats.Snapshot, RateDriver.Timing) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let driver = self
        let figures: LoopResult
        do {
            figures = try await loop.flatSubmit { () -> EventLoopFuture<LoopResult> in
                DriverState(driver: driver, loop: loop, counters: counters).start()
            }.get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
        return (figures.snapshot, figures.timing)
    }
}

struct LoopResult: Sendable {
    var snapshot: LoadStats.Snapshot
    var timing: RateDriver.Timing
}

/// The driver's state, only ever touched on its event loop.
private final class DriverState {
    let driver: HTTPDriver
    let loop: any EventLoop
    let counters: LiveCounters
    let finished: EventLoopPromise<LoopResult>
    var stats = LoadStats.Snapshot()
    var startNanos: UInt64 = 0
    let nanosPerRequest: Double
    /// The next index to send (or drop).
    var next = 0
    var idle: [Connection] = []
    var open = 0
    var inFlight = 0
    var tickScheduled = false
    var lastIssuedNanos: UInt64 = 0
    var done = false
    var timeout: Scheduled<Void>?

    init(driver: HTTPDriver, loop: any EventLoop, counters: LiveCounters) {
        self.driver = driver
        self.loop = loop
        self.counters = counters
        finished = loop.makePromise()
        nanosPerRequest = 1e9 / driver.rate
    }

    func start() -> EventLoopFuture<LoopResult> {
        let bound = NIOLoopBound(self, eventLoop: loop)
        var futures: [EventLoopFuture<Void>] = []
        for _ in 0..<driver.connections {
            futures.append(connect(bound).map { _ in })
        }
        EventLoopFuture.whenAllComplete(futures, on: loop).assumeIsolated().whenSuccess { results in
            let failures = results.compactMap { result -> (any Error)? in
                if case .failure(let error) = result { return error }
                return nil
            }
            // On the loop's next turn: a connection's channelActive may follow its connect.
            bound.value.loop.assumeIsolated().execute {
                let state = bound.value
                if failures.count == results.count || state.idle.isEmpty {
                    state.done = true
                    for connection in state.idle { connection.close() }
                    state.finished.fail(
                        Failure(
                            "cannot connect to \(state.driver.host):\(state.driver.port): \(failures.first.map { "\($0)" } ?? "no connection")"))
                    return
                }
                if !failures.isEmpty {
                    log("warning: \(failures.count) of \(state.driver.connections) connections failed: \(failures[0])")
                }
                state.startNanos = NIODeadline.now().uptimeNanoseconds
                state.lastIssuedNanos = state.startNanos
                state.issueDue()
            }
        }
        return finished.futureResult
    }

    func connect(_ bound: NIOLoopBound<DriverState>) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let state = bound.value
                    try channel.pipeline.syncOperations.addHandler(Connection(state: state))
                }
            }
            .connect(host: driver.host, port: driver.port)
    }

    func due(_ index: Int) -> UInt64 { startNanos + UInt64(Double(index) * nanosPerRequest) }

    /// Sends every request that is due on the idle connections, drops what is too far behind,
    /// and arranges the next look.
    func issueDue() {
        guard !done else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        let dueCount = min(driver.total, Int(Double(now - startNanos) / nanosPerRequest) + 1)
        if dueCount - next > driver.backlog {
            let skipped = dueCount - driver.backlog - next
            stats.dropped += skipped
            counters.dropped.add(skipped, ordering: .relaxed)
            next += skipped
            lastIssuedNanos = now
        }
        while next < dueCount, let connection = idle.popLast() {
            let index = next
            next += 1
            inFlight += 1
            stats.sent += 1
            connection.send(index, due: due(index), now: now)
            lastIssuedNanos = now
        }
        counters.sent.store(stats.sent, ordering: .relaxed)
        counters.inFlight.store(inFlight, ordering: .relaxed)
        if next >= driver.total {
            if timeout == nil {
                let bound = NIOLoopBound(self, eventLoop: loop)
                timeout = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(driver.answerTimeout * 1000))) {
                    bound.value.finish()
                }
            }
            if inFlight == 0 { finish() }
            return
        }
        guard !tickScheduled else { return }
        // Next look: when the next request falls due (at least 100 µs from now, so a high rate
        // goes out in small batches), or in 1 ms while requests wait for a connection (to drop
        // what falls too far behind).
        let wait: UInt64 = next < dueCount ? 1_000_000 : max(due(next) &- now, 100_000)
        tickScheduled = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.assumeIsolated().scheduleTask(deadline: NIODeadline.uptimeNanoseconds(now + wait)) {
            let state = bound.value
            state.tickScheduled = false
            state.issueDue()
        }
    }

    func completed(_ connection: Connection, index: Int, sentNanos: UInt64, outcome: SendOutcome, reusable: Bool) {
        let now = NIODeadline.now().uptimeNanoseconds
        let intended = due(index)
        inFlight -= 1
        func micros(_ from: UInt64, _ to: UInt64) -> UInt64 { to > from ? (to - from) / 1000 : 0 }
        _ = stats.latency.record(micros(intended, now))
        _ = stats.service.record(micros(sentNanos, now))
        _ = stats.lag.record(micros(intended, sentNanos))
        stats.record(outcome)
        switch outcome {
        case .created, .ok: counters.created.add(1, ordering: .relaxed)
        case .status, .failed: counters.failed.add(1, ordering: .relaxed)
        }
        if reusable { idle.append(connection) }
        if done { return }
        issueDue()
    }

    func closed(_ connection: Connection, outstanding: (index: Int, sentNanos: UInt64)?) {
        open -= 1
        idle.removeAll { $0 === connection }
        if let outstanding {
            completed(connection, index: outstanding.index, sentNanos: outstanding.sentNanos, outcome: .failed("connection closed"), reusable: false)
        }
        // Keep the pool's size while the schedule runs.
        if !done, next < driver.total {
            let bound = NIOLoopBound(self, eventLoop: loop)
            connect(bound).assumeIsolated().whenFailure { error in
                log("warning: reconnecting to \(bound.value.driver.host):\(bound.value.driver.port) failed: \(error)")
            }
        }
    }

    func opened(_ connection: Connection) {
        open += 1
        idle.append(connection)
        if startNanos != 0 { issueDue() }
    }

    func finish() {
        guard !done else { return }
        done = true
        timeout?.cancel()
        let end = NIODeadline.now().uptimeNanoseconds
        if inFlight > 0 {
            stats.failed += inFlight
            stats.outcomes["no answer within \(Int(driver.answerTimeout)) s", default: 0] += inFlight
        }
        stats.inFlight = 0
        counters.inFlight.store(0, ordering: .relaxed)
        let timing = RateDriver.Timing(
            sendingSeconds: Double(lastIssuedNanos &- startNanos) / 1e9, completedSeconds: Double(end &- startNanos) / 1e9)
        for connection in idle { connection.close() }
        idle.removeAll()
        finished.succeed(LoopResult(snapshot: stats, timing: timing))
    }
}

/// One keep-alive connection: writes a request, reads its answer, tells the driver.
private final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let state: DriverState
    var context: ChannelHandlerContext?
    var received: ByteBuffer?
    var outstanding: (index: Int, sentNanos: UInt64)?

    init(state: DriverState) { self.state = state }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        state.opened(self)
    }

    func send(_ index: Int, due: UInt64, now: UInt64) {
        guard let context else { return }
        outstanding = (index, now)
        let request = state.driver.shape.write(index, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var buffer = received, buffer.readableBytes > 0 {
            received = nil  // no copy on write
            buffer.writeBuffer(&incoming)
            received = buffer
        } else {
            received = incoming
        }
        guard let outstanding, let buffer = received else {
            fail(context, "answer without a request")
            return
        }
        guard let head = ResponseHead.parse(buffer.readableBytesUInt8Span) else { return }
        guard !head.chunked, let length = head.contentLength else {
            fail(context, "answer without Content-Length")
            return
        }
        guard buffer.readableBytes >= head.length + length else { return }
        let outcome: SendOutcome
        switch (state.driver.shape.kind, head.status) {
        case (.createTodo, 201), (.createOrder, 202):
            let body = buffer.getSlice(at: buffer.readerIndex + head.length, length: length)!
            outcome = todoID(in: body).map(SendOutcome.created) ?? .failed("\(head.status) without an id")
        case (.get, 200..<300):
            outcome = .ok
        default:
            outcome = .status(head.status)
        }
        received = nil
        self.outstanding = nil
        if head.close { context.close(promise: nil) }
        state.completed(self, index: outstanding.index, sentNanos: outstanding.sentNanos, outcome: outcome, reusable: !head.close)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        if let outstanding {
            self.outstanding = nil
            state.completed(self, index: outstanding.index, sentNanos: outstanding.sentNanos, outcome: .failed(reason), reusable: false)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        let outstanding = self.outstanding
        self.outstanding = nil
        state.closed(self, outstanding: outstanding)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func close() { context?.close(promise: nil) }
}
