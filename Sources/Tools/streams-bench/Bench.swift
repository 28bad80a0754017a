import EventBus
import Foundation
import RedisClient
import Synchronization

/// The benchmark's event: the same content as the reference payload (event id, type,
/// aggregate id, timestamp and correlation id in the envelope; send time, title and
/// description in `data`), fresh ids for every event.
struct BenchEvent: DomainEvent {
    static let eventType = "todo.created"
    static let aggregateType = "todo"
    var sentNs: UInt64
    var title: String
    var description: String
    /// Travels in the envelope's `aggregate_id`, not in `data`.
    var aggregateID: String = ""

    enum CodingKeys: String, CodingKey {
        case sentNs = "sent_ns", title, description
    }

    static func make() -> BenchEvent {
        BenchEvent(
            sentNs: monotonicNanoseconds(), title: "Buy groceries", description: "Milk, eggs and bread",
            aggregateID: EventID.generate())
    }
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

struct Bench {
    let redis: RedisConfiguration
    let stream: String
    let count: Int
    let batch: Int
    let approximateMaxLength: Int?
    let maxInFlight: Int
    /// Batches in flight at once when publishing at full speed (concurrent `publish` calls,
    /// which the client pipelines together).
    let window: Int
    let group = "g"

    private func makePublisher(_ client: RedisClient) -> EventPublisher {
        let stream = self.stream
        return EventPublisher(
            client: client,
            configuration: .init(streamName: { _ in stream }, retention: approximateMaxLength.map { .maxLength($0) } ?? .none))
    }

    // MARK: pub

    func publishOnly() async throws -> String {
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        try await client.send("DEL", stream)
        let publisher = makePublisher(client)
        let start = monotonicNanoseconds()
        try await publishAtFullSpeed(publisher)
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        let length = try await client.xlen(stream)
        return json([
            ("mode", "\"pub\""), ("n", "\(count)"), ("batch", "\(batch)"), ("secs", fmt(seconds, 4)),
            ("rate", fmt(Double(count) / seconds, 0)), ("xlen", "\(length)"),
        ])
    }

    // MARK: consume

    func consumeOnly() async throws -> String {
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        _ = try? await client.send("XGROUP", "DESTROY", stream, group)
        try await client.send("XGROUP", "CREATE", stream, group, "0")
        let tally = Tally(target: count, recordLatency: false)
        let start = monotonicNanoseconds()
        try await runConsumer(tally) {}
        let seconds = Double(tally.lastHandled - start) / 1e9
        let pending = try await client.send("XPENDING", stream, group).array?.first?.int ?? -1
        return json([
            ("mode", "\"consume\""), ("n", "\(tally.handled)"), ("secs", fmt(seconds, 4)),
            ("rate", fmt(Double(tally.handled) / seconds, 0)), ("pending_after", "\(pending)"),
        ])
    }

    // MARK: e2e

    func endToEnd(rate: Double) async throws -> String {
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        try await client.send("DEL", stream)
        try await client.send("XGROUP", "CREATE", stream, group, "$", "MKSTREAM")
        let tally = Tally(target: count, recordLatency: true)
        let publisher = makePublisher(client)
        var start: UInt64 = 0
        var publishEnd: UInt64 = 0
        try await runConsumer(tally) {
            try await Task.sleep(for: .milliseconds(200))  // let the consumer block in XREADGROUP
            start = monotonicNanoseconds()
            if rate > 0 {
                // A paced, latency-sensitive producer runs on its client's connection thread:
                // each publish completes without a thread wake-up.
                try await withTaskExecutorPreference(client.executor) {
                    try await produce(publisher, rate: rate, start: start)
                }
            } else {
                try await produce(publisher, rate: rate, start: start)
            }
            publishEnd = monotonicNanoseconds()
        }
        let latencies = tally.sortedLatencies()
        func percentile(_ p: Double) -> String {
            fmt(Double(latencies[Int(Double(latencies.count - 1) * p)]) / 1000, 1)
        }
        return json([
            ("mode", "\"e2e\""), ("n", "\(tally.handled)"), ("offered_rate", fmt(rate, 0)),
            ("pub_rate", fmt(Double(count) / (Double(publishEnd - start) / 1e9), 0)),
            ("e2e_rate", fmt(Double(count) / (Double(tally.lastHandled - start) / 1e9), 0)),
            ("p50_us", percentile(0.5)), ("p90_us", percentile(0.9)), ("p99_us", percentile(0.99)),
            ("p999_us", percentile(0.999)), ("max_us", fmt(Double(latencies.last ?? 0) / 1000, 1)),
        ])
    }

    /// Publishes `count` events in batches of `batch`, with `window` batches in flight.
    private func publishAtFullSpeed(_ publisher: EventPublisher) async throws {
        let batches = (count + batch - 1) / batch
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<window {
                group.addTask {
                    for index in stride(from: worker, to: batches, by: window) {
                        let size = min(batch, count - index * batch)
                        try await publisher.publish((0..<size).map { _ in BenchEvent.make() })
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Sends `count` events: as fast as possible in batches, or at `rate` events/s, sending
    /// whatever is due (one event per round trip while it keeps up, up to a batch if behind).
    private func produce(_ publisher: EventPublisher, rate: Double, start: UInt64) async throws {
        if rate <= 0 {
            try await publishAtFullSpeed(publisher)
            return
        }
        var sent = 0
        let clock = ContinuousClock()
        let startInstant = clock.now
        while sent < count {
            var size = min(batch, count - sent)
            if rate > 0 {
                let elapsed = Double(monotonicNanoseconds() - start)
                let due = min(count, Int(elapsed * rate / 1e9) + 1)
                size = min(batch, due - sent)
                if size <= 0 {
                    let next = startInstant + .nanoseconds(Int64(Double(sent) * 1e9 / rate))
                    try await Task.sleep(until: next, tolerance: .nanoseconds(1), clock: clock)
                    continue
                }
            }
            if size == 1 {
                try await publisher.publish(BenchEvent.make())
            } else {
                try await publisher.publish((0..<size).map { _ in BenchEvent.make() })
            }
            sent += size
        }
    }

    /// Runs an `EventConsumer` until `tally` has seen `count` events, while `work` runs.
    private func runConsumer(_ tally: Tally, _ work: () async throws -> Void) async throws {
        var handlers = EventHandlers()
        handlers.on(BenchEvent.self) { received in
            tally.record(received.event)
        }
        let consumer = try EventConsumer(
            redis: redis,
            configuration: .init(
                stream: stream, group: group, consumerName: "c", startPosition: .beginning, batchSize: 100,
                blockTimeout: .milliseconds(100), maxInFlight: maxInFlight),
            handlers: handlers)
        let running = Task { try await consumer.run() }
        try await work()
        await tally.waitUntilDone()
        running.cancel()  // a graceful stop: acknowledges the last batch, then returns
        try await running.value
    }
}

/// Counts handled events and their latencies; wakes the waiter at the target.
final class Tally: Sendable {
    private struct State {
        var handled = 0
        var lastHandled: UInt64 = 0
        var latencies: [UInt64] = []
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state: Mutex<State>
    private let target: Int
    private let recordLatency: Bool

    init(target: Int, recordLatency: Bool) {
        self.target = target
        self.recordLatency = recordLatency
        var initial = State()
        if recordLatency { initial.latencies.reserveCapacity(target) }
        state = Mutex(initial)
    }

    func record(_ event: BenchEvent) {
        let now = monotonicNanoseconds()
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.handled += 1
            state.lastHandled = now
            if recordLatency { state.latencies.append(now &- event.sentNs) }
            guard state.handled >= target else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func waitUntilDone() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.handled >= target { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    var handled: Int { state.withLock { $0.handled } }
    var lastHandled: UInt64 { state.withLock { $0.lastHandled } }
    func sortedLatencies() -> [UInt64] { state.withLock { $0.latencies.sorted() } }
}

func fmt(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

func json(_ pairs: [(String, String)]) -> String {
    "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}
