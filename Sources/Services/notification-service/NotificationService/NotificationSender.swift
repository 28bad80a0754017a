import EventBus
import Foundation
import AsyncHTTPClient
import NIOCore
import Logging
import RedisClient

/// Delivers notifications outside Redis, where there is an outside (a webhook). The record
/// in Redis (`NotificationLog`) is not the sender's: the handler writes it together with the
/// event's processed marker, exactly once per event.
public protocol NotificationSender: Sendable {
    /// The channel `notification` goes through; `stream` when the record is the delivery.
    func channel(for notification: Notification) -> String
    /// Delivers `notification` through its channel (nothing to do for `stream`). A thrown
    /// error is a failed delivery: the event is retried through the pending-entries list and
    /// dead-lettered after the maximum deliveries.
    func deliver(_ notification: Notification) async throws
}

/// What was sent: an entry in the `notifications` stream (readable with `redis-cli XRANGE
/// notifications - +`, about the newest 100,000 kept) and the newest 100 per user in
/// `notifications:user:<user_id>` (for `GET /notifications`). With partitioned streams both
/// are per partition of the event that caused them, in its slot (`notifications:{<tag>}`,
/// `notifications:{<tag>}:user:<user_id>`), written in the event's commit; reading a user's
/// merges the partitions.
public struct NotificationLog: Sendable {
    public static let stream = "notifications"
    let client: RedisClient
    let partitions: StreamPartitions

    public init(client: RedisClient, partitions: StreamPartitions = .single) {
        self.client = client
        self.partitions = partitions
    }

    /// The log of events read from `eventStream`: `notifications`, or `notifications:{<tag>}`.
    static func stream(for eventStream: String) -> String {
        StreamPartitions.partitionTag(of: eventStream).map { "\(stream):{\($0)}" } ?? stream
    }

    static func userKey(_ userID: String, log: String = NotificationLog.stream) -> String { "\(log):user:\(userID)" }

    /// The writes that record `notification` (caused by an event read from `eventStream`),
    /// for a transactional handler to commit.
    static func writes(recording notification: Notification, eventStream: String = "") throws -> [RedisCommand] {
        let log = stream(for: eventStream)
        var add = RedisCommand.xadd(log, approximateMaxLength: 100_000)
        for (name, value) in [
            ("user_id", notification.userID), ("todo_id", notification.todoID), ("event_id", notification.eventID),
            ("kind", notification.kind.rawValue), ("message", notification.message), ("channel", notification.channel),
            ("sent_at", notification.sentAt),
        ] {
            add.append(name)
            add.append(value)
        }
        let json = String(decoding: try JSONEncoder().encode(notification), as: UTF8.self)
        let userKey = Self.userKey(notification.userID, log: log)
        return [add, RedisCommand("LPUSH", userKey, json), RedisCommand("LTRIM", userKey, "0", "99")]
    }

    /// The user's newest notifications first (over every partition).
    public func recent(userID: String, limit: Int = 100) async throws -> [Notification] {
        let logs = partitions.streamKeys("todo-events").map(Self.stream(for:))
        let replies = try await client.pipeline(logs.map { RedisCommand("LRANGE", Self.userKey(userID, log: $0), "0", "\(limit - 1)") })
        var notifications: [Notification] = []
        for reply in replies {
            notifications += try (try reply.throwingError().array ?? []).compactMap(\.string).map {
                try JSONDecoder().decode(Notification.self, from: Data($0.utf8))
            }
        }
        if logs.count > 1 { notifications.sort { $0.sentAt > $1.sentAt } }
        return Array(notifications.prefix(limit))
    }
}

/// The default sender: the record in Redis is the notification.
public struct StreamNotificationSender: NotificationSender {
    public static let channel = "stream"

    public init() {}

    public func channel(for notification: Notification) -> String { Self.channel }

    public func deliver(_ notification: Notification) async throws {}
}

/// POSTs each notification as JSON to a webhook (AsyncHTTPClient's shared client). Any answer other than 2xx, or no complete answer within `timeout` (a
/// deadline for the whole request: connect, send, answer), is a failed delivery.
public struct WebhookNotificationSender: NotificationSender {
    public static let channel = "webhook"
    let url: URL
    let timeout: Duration

    public init(url: URL, timeout: Duration) {
        self.url = url
        self.timeout = timeout
    }

    public func channel(for notification: Notification) -> String { Self.channel }

    /// One HTTP client for every webhook of the process (like `HTTPClient.shared`, it lives as
    /// long as the process). A refused connection fails the delivery at once instead of being
    /// retried until the deadline: retries are the pending-entries list's, with its backoff.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public func deliver(_ notification: Notification) async throws {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: notification.eventID)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(notification)))
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let status: UInt
        do {
            let response = try await Self.client.execute(request, deadline: .now() + .nanoseconds(nanoseconds))
            status = response.status.code
            _ = try? await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw WebhookError("webhook \(url.absoluteString) failed: \(error)")
        }
        guard (200..<300).contains(status) else {
            throw WebhookError("webhook \(url.absoluteString) answered HTTP \(status)")
        }
    }
}

/// Sends the notifications of `users` (all when empty) by webhook, the others by `others`.
public struct RoutingNotificationSender: NotificationSender {
    let webhook: WebhookNotificationSender
    let users: Set<String>
    let others: any NotificationSender

    public init(webhook: WebhookNotificationSender, users: Set<String>, others: any NotificationSender) {
        self.webhook = webhook
        self.users = users
        self.others = others
    }

    public func channel(for notification: Notification) -> String {
        usesWebhook(notification) ? webhook.channel(for: notification) : others.channel(for: notification)
    }

    public func deliver(_ notification: Notification) async throws {
        if usesWebhook(notification) {
            try await webhook.deliver(notification)
        } else {
            try await others.deliver(notification)
        }
    }

    private func usesWebhook(_ notification: Notification) -> Bool {
        users.isEmpty || users.contains(notification.userID)
    }
}

/// A webhook delivery failed.
public struct WebhookError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
