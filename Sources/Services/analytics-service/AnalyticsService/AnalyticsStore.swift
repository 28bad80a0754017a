import EventBus
import Foundation
import Projections
import RedisClient
import TodoEvents

/// Counters of one scope (all users, or one).
public struct TodoCounters: Codable, Sendable, Equatable {
    public var created = 0
    public var completed = 0
    public var deleted = 0
    public var priorityChanged = 0
    public var titleChanged = 0
    /// Mean time from creation to completion, over completions that carried both times.
    public var meanCompletionSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case created, completed, deleted, priorityChanged = "priority_changed", titleChanged = "title_changed"
        case meanCompletionSeconds = "mean_completion_seconds"
    }

    init(hash: [String: String]) {
        created = Int(hash["created"] ?? "") ?? 0
        completed = Int(hash["completed"] ?? "") ?? 0
        deleted = Int(hash["deleted"] ?? "") ?? 0
        priorityChanged = Int(hash["priority_changed"] ?? "") ?? 0
        titleChanged = Int(hash["title_changed"] ?? "") ?? 0
        if let sum = Double(hash["completion_seconds_sum"] ?? ""), let count = Int(hash["completion_count"] ?? ""), count > 0 {
            meanCompletionSeconds = sum / Double(count)
        }
    }
}

/// `GET /stats`. `rebuilding` is true while the projection is being rebuilt
/// (`streamsctl projections rebuild analytics-service`): the counts are then partial.
public struct Statistics: Codable, Sendable, Equatable {
    public var totals: TodoCounters
    public var users: Int
    /// `created:<priority>` etc.
    public var byPriority: [String: Int]
    /// Per UTC day: created, completed, deleted.
    public var byDay: [String: [String: Int]]
    public var rebuilding: Bool

    enum CodingKeys: String, CodingKey {
        case totals, users, byPriority = "by_priority", byDay = "by_day", rebuilding
    }
}

/// `GET /stats/users/{id}` (`rebuilding` as in `Statistics`).
public struct UserStatistics: Codable, Sendable, Equatable {
    public var userID: String
    public var counters: TodoCounters
    public var rebuilding: Bool

    enum CodingKeys: String, CodingKey { case userID = "user_id", counters, rebuilding }
}

/// Reads the counters the handlers keep, adding up the partitions' (one pipelined round
/// trip per read).
public struct AnalyticsStore: Sendable {
    let client: RedisClient
    let keys: [AnalyticsKeys]

    public init(client: RedisClient, partitions: StreamPartitions = .single) {
        self.client = client
        self.keys = AnalyticsKeys.all(partitions)
    }

    public func statistics() async throws -> Statistics {
        let totals = try await hash(keys.map(\.totals))
        let priority = try await hash(keys.map(\.priority))
        let users = try await members(keys.map(\.users)).count
        let days = try await members(keys.map(\.days)).sorted().suffix(90)
        var byDay: [String: [String: Int]] = [:]
        for day in days {
            byDay[day] = try await hash(keys.map { $0.day(day) }).compactMapValues { Int($0) }
        }
        return Statistics(
            totals: TodoCounters(hash: totals), users: users, byPriority: priority.compactMapValues { Int($0) }, byDay: byDay,
            rebuilding: try await rebuilding())
    }

    /// Whether `projection:analytics-service:state` says `rebuilding`.
    public func rebuilding() async throws -> Bool {
        try await client.hgetall(ProjectionKeys.state(AnalyticsHandlers.group))["status"] == "rebuilding"
    }

    /// The user's counters, or nil for a user no event mentioned.
    public func statistics(userID: String) async throws -> UserStatistics? {
        let counters = try await hash(keys.map { $0.user(userID) })
        guard !counters.isEmpty else { return nil }
        return UserStatistics(userID: userID, counters: TodoCounters(hash: counters), rebuilding: try await rebuilding())
    }

    /// The hashes `names` (one per partition) with their numbers added up.
    private func hash(_ names: [String]) async throws -> [String: String] {
        let replies = try await client.pipeline(names.map { RedisCommand("HGETALL", $0) })
        if replies.count == 1, let only = try replies[0].throwingError().array {
            var hash: [String: String] = [:]
            for index in stride(from: 0, to: only.count - 1, by: 2) {
                if let name = only[index].string, let value = only[index + 1].string { hash[name] = value }
            }
            return hash
        }
        var sums: [String: Double] = [:]
        for reply in replies {
            let values = try reply.throwingError().array ?? []
            for index in stride(from: 0, to: values.count - 1, by: 2) {
                guard let name = values[index].string, let value = values[index + 1].string.flatMap(Double.init) else { continue }
                sums[name, default: 0] += value
            }
        }
        return sums.mapValues { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }
    }

    /// The union of the sets `names` (one per partition).
    private func members(_ names: [String]) async throws -> Set<String> {
        var union: Set<String> = []
        for reply in try await client.pipeline(names.map { RedisCommand("SMEMBERS", $0) }) {
            union.formUnion((try reply.throwingError().array ?? []).compactMap(\.string))
        }
        return union
    }
}
