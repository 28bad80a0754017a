import EventBus
import Foundation
import Projections
import RedisClient
import TodoEvents

/// analytics-service's subscriptions: every todo event, each with the transactional
/// (exactly-once) handler form: the counters, the processed marker and the `XACK` change
/// in one script, so a redelivered event is never counted twice. The writes are pure
/// increments and set members computed from the event alone, so the events of one read are
/// committed together (`commit: .perBatch`).
///
/// Keys (see `AnalyticsKeys` for the partitioned layout; hashes): `analytics:totals` and `analytics:user:<id>` (created, completed, deleted,
/// priority_changed, title_changed, completion_seconds_sum, completion_count),
/// `analytics:priority` (`created:<p>`, `completed:<p>`, `deleted:<p>`),
/// `analytics:day:<yyyy-mm-dd>` (created, completed, deleted); sets `analytics:users`,
/// `analytics:days`.
public enum AnalyticsHandlers {
    public static let group = "analytics-service"

    /// analytics-service as a projection: group `analytics-service` on `todo-events` (each of
    /// its `partitions`), read model under `analytics:`, histories of aggregate type `todo`.
    public static func projection(partitions: StreamPartitions = .single) -> Projection {
        Projection(
            name: group, stream: TodoEvents.stream, keyPrefix: "analytics:", aggregateType: "todo", handlers: make(),
            partitions: partitions)
    }

    /// The projection with one partition.
    public static var projection: Projection { projection() }

    public static func make() -> EventHandlers {
        var handlers = EventHandlers()
        handlers.onTransactional(TodoCreated.self, commit: .perBatch) { received in
            let event = received.event
            let keys = AnalyticsKeys(stream: received.stream)
            return counts("created", user: event.userID, day: event.createdAt, keys: keys)
                + [RedisCommand("HINCRBY", keys.priority, "created:\(event.priority.rawValue)", "1")]
        }
        handlers.onTransactional(TodoCompleted.self, commit: .perBatch) { received in
            let event = received.event
            let keys = AnalyticsKeys(stream: received.stream)
            var writes = counts("completed", user: event.userID, day: event.completedAt ?? received.envelope.timestamp, keys: keys)
            if let priority = event.priority {
                writes.append(RedisCommand("HINCRBY", keys.priority, "completed:\(priority.rawValue)", "1"))
            }
            // v2 events carry both timestamps; v1 events are counted without a duration.
            if let created = event.createdAt, let completed = event.completedAt, completed >= created {
                let seconds = String(format: "%.6f", completed.timeIntervalSince(created))
                for key in [keys.totals, keys.user(event.userID)] {
                    writes.append(RedisCommand("HINCRBYFLOAT", key, "completion_seconds_sum", seconds))
                    writes.append(RedisCommand("HINCRBY", key, "completion_count", "1"))
                }
            }
            return writes
        }
        handlers.onTransactional(TodoDeleted.self, commit: .perBatch) { received in
            let event = received.event
            let keys = AnalyticsKeys(stream: received.stream)
            return counts("deleted", user: event.userID, day: event.deletedAt, keys: keys)
                + [RedisCommand("HINCRBY", keys.priority, "deleted:\(event.priority.rawValue)", "1")]
        }
        handlers.onTransactional(TodoPriorityChanged.self, commit: .perBatch) { received in
            counts("priority_changed", user: received.event.userID, day: nil, keys: AnalyticsKeys(stream: received.stream))
        }
        handlers.onTransactional(TodoTitleChanged.self, commit: .perBatch) { received in
            counts("title_changed", user: received.event.userID, day: nil, keys: AnalyticsKeys(stream: received.stream))
        }
        return handlers
    }

    /// Increments `field` in the totals and the user's counters (and the day's, when given).
    static func counts(_ field: String, user: String, day: Date?, keys: AnalyticsKeys) -> [RedisCommand] {
        var writes = [
            RedisCommand("HINCRBY", keys.totals, field, "1"),
            RedisCommand("HINCRBY", keys.user(user), field, "1"),
            RedisCommand("SADD", keys.users, user),
        ]
        if let day {
            let name = AnalyticsKeys.dayName(day)
            writes.append(RedisCommand("HINCRBY", keys.day(name), field, "1"))
            writes.append(RedisCommand("SADD", keys.days, name))
        }
        return writes
    }
}

/// The analytics keys of one partition: `analytics:<name>` for a plain stream,
/// `analytics:{<tag>}:<name>` for an event of a partition stream (in the slot of its stream,
/// so its counters, marker and `XACK` are one script on a cluster). Reads add the partitions up.
struct AnalyticsKeys: Sendable, Hashable {
    let prefix: String

    /// The keys of the events read from `stream`: a partition stream (`todo-events:{p2}`) or a
    /// history a rebuild replays from that partition (`es:todo-events:{p2}:<id>`, the tag inside
    /// the key) give the partition's keys; a plain stream and its histories
    /// (`es:{todo-events}:<id>`, tagged with the stream's name) the plain ones.
    init(stream: String) {
        let tag = StreamPartitions.partitionTag(of: stream)
            ?? StreamPartitions.hashTag(of: stream).flatMap { $0 == TodoEvents.stream ? nil : $0 }
        prefix = tag.map { "analytics:{\($0)}:" } ?? "analytics:"
    }

    /// The keys of every partition of `TodoEvents.stream`.
    static func all(_ partitions: StreamPartitions) -> [AnalyticsKeys] {
        partitions.streamKeys(TodoEvents.stream).map(AnalyticsKeys.init(stream:))
    }

    var totals: String { prefix + "totals" }
    var priority: String { prefix + "priority" }
    var users: String { prefix + "users" }
    var days: String { prefix + "days" }
    func user(_ id: String) -> String { prefix + "user:\(id)" }
    func day(_ name: String) -> String { prefix + "day:\(name)" }

    /// `yyyy-mm-dd` in UTC.
    static func dayName(_ date: Date) -> String {
        String(RFC3339.string(from: date).prefix(10))
    }
}
