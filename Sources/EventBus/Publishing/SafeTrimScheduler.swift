import Logging
import RedisClient
import Synchronization

/// Runs `StreamRetention.trimSafely` for a publisher's streams every `interval` publishes,
/// in the background and at most once at a time per stream. A failed trim is logged and
/// tried again at the next interval; it never fails a publish.
final class SafeTrimScheduler: Sendable {
    private struct StreamState {
        var publishedSinceTrim = 0
        var trimming = false
    }

    private let retention: StreamRetention
    private let maxLength: Int?
    private let interval: Int
    private let logger: Logger
    private let streams = Mutex<[String: StreamState]>([:])

    init(client: RedisClient, maxLength: Int?, interval: Int, logger: Logger) {
        self.retention = StreamRetention(client: client)
        self.maxLength = maxLength
        self.interval = max(1, interval)
        self.logger = logger
    }

    func published(_ count: Int, to stream: String) {
        let due = streams.withLock { streams -> Bool in
            var state = streams[stream, default: StreamState()]
            state.publishedSinceTrim += count
            let due = state.publishedSinceTrim >= interval && !state.trimming
            if due {
                state.publishedSinceTrim = 0
                state.trimming = true
            }
            streams[stream] = state
            return due
        }
        guard due else { return }
        Task {
            defer { self.streams.withLock { $0[stream]?.trimming = false } }
            do {
                let result = try await self.retention.trimSafely(stream: stream, maxLength: self.maxLength, approximate: true)
                self.logger.debug(
                    "Trimmed stream safely",
                    metadata: [
                        "redis.stream": "\(stream)", "removed": "\(result.removed)",
                        "limiting_group": "\(result.limitingGroup ?? "-")",
                    ])
            } catch {
                self.logger.warning(
                    "Safe trim failed; trying again later", metadata: ["redis.stream": "\(stream)", "error": "\(error)"])
            }
        }
    }
}
