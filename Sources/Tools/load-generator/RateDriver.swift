import Histogram
import Synchronization

/// Offers `rate` sends per second for `duration` seconds, open loop: send `i` is due at
/// `start + i / rate` by the clock, whatever the earlier ones are doing. A send that falls due
/// while `concurrency` are in flight is not made and is counted as dropped, so a slow
/// target shows up as drops and latency rather than as a lower offered rate. Latency counts
/// from the due time. (The bus target's driver; HTTP goes through `HTTPDriver`.)
struct RateDriver {
    let rate: Double
    let duration: Double
    let concurrency: Int

    struct Timing: Sendable {
        /// From the first send's due time to the last send actually started (or dropped).
        var sendingSeconds: Double
        /// From the first send's due time to the last answer.
        var completedSeconds: Double
    }

    func run(target: any LoadTarget, stats: LoadStats) async -> Timing {
        let total = max(1, Int((rate * duration).rounded()))
        let clock = ContinuousClock()
        let start = clock.now
        func due(_ index: Int) -> ContinuousClock.Instant { start + .nanoseconds(Int64(Double(index) * 1e9 / rate)) }
        var lastIssued = start
        await withDiscardingTaskGroup { group in
            var next = 0
            while next < total {
                let now = clock.now
                while next < total, due(next) <= now {
                    let intended = due(next)
                    if stats.acquire(limit: concurrency) {
                        let index = next
                        group.addTask {
                            let began = clock.now
                            let outcome = await target.send(index)
                            let now = clock.now
                            stats.complete(outcome, latency: now - intended, service: now - began, lag: began - intended)
                        }
                    } else {
                        stats.drop()
                    }
                    next += 1
                }
                lastIssued = now
                if next < total { try? await clock.sleep(until: due(next), tolerance: .microseconds(50)) }
            }
        }
        return Timing(sendingSeconds: (lastIssued - start).seconds, completedSeconds: (clock.now - start).seconds)
    }
}

/// Counts and latencies of the sends, shared by the driver and its send tasks.
final class LoadStats: Sendable {
    struct Snapshot: Sendable {
        var sent = 0
        var created = 0
        var failed = 0
        var dropped = 0
        var inFlight = 0
        /// "HTTP 500", or an error kind: the failures (the successes are `created`).
        var outcomes: [String: Int] = [:]
        /// Due time to answer (open loop: includes any wait for a connection), in microseconds.
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        /// Send to answer, in microseconds.
        var service = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        /// Due time to the send's start (the driver's and the task pool's delay), in microseconds.
        var lag = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        /// The todo ids whose creation succeeded: the events every group must handle.
        var createdIDs: [String] = []

        mutating func record(_ outcome: SendOutcome) {
            switch outcome {
            case .created(let id):
                created += 1
                createdIDs.append(id)
            case .ok:
                created += 1
            case .status(let code):
                failed += 1
                outcomes["HTTP \(code)", default: 0] += 1
            case .failed(let kind):
                failed += 1
                outcomes[kind, default: 0] += 1
            }
        }
    }

    private let state = Mutex(Snapshot())

    /// Takes a place in flight, or false when `limit` are in flight.
    func acquire(limit: Int) -> Bool {
        state.withLock { state in
            guard state.inFlight < limit else { return false }
            state.inFlight += 1
            state.sent += 1
            return true
        }
    }

    func drop() { state.withLock { $0.dropped += 1 } }

    func complete(_ outcome: SendOutcome, latency: Duration, service: Duration, lag: Duration) {
        state.withLock { state in
            state.inFlight -= 1
            _ = state.latency.record(UInt64(clamping: max(0, latency.microseconds)))
            _ = state.service.record(UInt64(clamping: max(0, service.microseconds)))
            _ = state.lag.record(UInt64(clamping: max(0, lag.microseconds)))
            state.record(outcome)
        }
    }

    func snapshot() -> Snapshot { state.withLock { $0 } }

    /// Counters only (no copy of the ids or histograms), for the progress line.
    func counters() -> (sent: Int, created: Int, failed: Int, dropped: Int, inFlight: Int) {
        state.withLock { ($0.sent, $0.created, $0.failed, $0.dropped, $0.inFlight) }
    }
}
