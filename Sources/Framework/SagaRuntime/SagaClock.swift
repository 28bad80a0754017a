import Foundation

/// Wall-clock time in milliseconds since the epoch: deadlines and timelines are shared by
/// every coordinator instance and stored in Redis, so they use the wall clock, not a
/// process's monotonic clock.
enum SagaClock {
    static func nowMilliseconds() -> Int { Int(Date().timeIntervalSince1970 * 1000) }
}
