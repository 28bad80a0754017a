import Foundation
import Projections
import RedisClient

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

/// Reads the counters the handlers keep.
public struct AnalyticsStore: Sendable {
    let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    public func statistics() async throws -> Statistics {
        let totals = try await hash(AnalyticsKeys.totals)
        let priority = try await hash(AnalyticsKeys.priority)
        let users = try await client.send("SCARD", AnalyticsKeys.users).int ?? 0
        let days = (try await client.send("SMEMBERS", AnalyticsKeys.days).array ?? []).compactMap(\.string).sorted().suffix(90)
        var byDay: [String: [String: Int]] = [:]
        for day in days {
            byDay[day] = try await hash(AnalyticsKeys.day(day)).compactMapValues { Int($0) }
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
        let counters = try await hash(AnalyticsKeys.user(userID))
        guard !counters.isEmpty else { return nil }
        return UserStatistics(userID: userID, counters: TodoCounters(hash: counters), rebuilding: try await rebuilding())
    }

    private func hash(_ key: String) async throws -> [String: String] {
        try await client.hgetall(key)
    }
}
