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
        /// A trim fell due while one was running: run once more when it ends (its view of
        /// the groups may predate the publishes and acknowledgements that made this one due).
        var trimAgain = false
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
        let start = streams.withLock { streams -> Bool in
            var state = streams[stream, default: StreamState()]
            state.publishedSinceTrim += count
            var start = false
            if state.publishedSinceTrim >= interval {
                state.publishedSinceTrim = 0
                if state.trimming {
                    state.trimAgain = true
                } else {
                    state.trimming = true
                    start = true
                }
            }
            streams[stream] = state
            return start
        }
        guard start else { return }
        Task {
            repeat {
                await self.trim(stream)
            } while self.streams.withLock { streams -> Bool in
                if streams[stream]?.trimAgain == true {
                    streams[stream]?.trimAgain = false
                    return true
                }
                streams[stream]?.trimming = false
                return false
            }
        }
    }

    private func trim(_ stream: String) async {
        do {
            let result = try await retention.trimSafely(stream: stream, maxLength: maxLength, approximate: true)
            logger.debug(
                "Trimmed stream safely",
                metadata: [
                    "redis.stream": "\(stream)", "removed": "\(result.removed)", "limiting_group": "\(result.limitingGroup ?? "-")",
                ])
        } catch {
            logger.warning("Safe trim failed; trying again later", metadata: ["redis.stream": "\(stream)", "error": "\(error)"])
        }
    }
}
