import EventBus
import Foundation
import AsyncHTTPClient
import NIOCore
import Logging
import RedisClient

/// Delivers notifications. A thrown error is a failed delivery: the event is retried
/// through the pending-entries list and dead-lettered after the maximum deliveries.
public protocol NotificationSender: Sendable {
    func send(_ notification: Notification) async throws
}

/// Records what was sent: an entry in the `notifications` stream (readable with
/// `redis-cli XRANGE notifications - +`) and the newest 100 per user in
/// `notifications:user:<user_id>` (for `GET /notifications`), in one `MULTI`/`EXEC`, plus a
/// log line at debug.
public struct NotificationLog: Sendable {
    public static let stream = "notifications"
    let client: RedisClient
    let logger: Logger

    public init(client: RedisClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static func userKey(_ userID: String) -> String { "notifications:user:\(userID)" }

    public func record(_ notification: Notification) async throws {
        var add = RedisCommand.xadd(Self.stream, approximateMaxLength: 100_000)
        for (name, value) in [
            ("user_id", notification.userID), ("todo_id", notification.todoID), ("event_id", notification.eventID),
            ("kind", notification.kind.rawValue), ("message", notification.message), ("channel", notification.channel),
            ("sent_at", notification.sentAt),
        ] {
            add.append(name)
            add.append(value)
        }
        let json = String(decoding: try JSONEncoder().encode(notification), as: UTF8.self)
        let replies = try await client.pipeline([
            RedisCommand("MULTI"), add, RedisCommand("LPUSH", Self.userKey(notification.userID), json),
            RedisCommand("LTRIM", Self.userKey(notification.userID), "0", "99"), RedisCommand("EXEC"),
        ])
        guard replies[4].array != nil else {
            throw RedisError(.unexpectedReply, "recording the notification failed: \(replies)")
        }
        // debug: the consumer's "Handled event" line already says so at info, once per event.
        logger.debug(
            "Notified user",
            metadata: [
                "user_id": "\(notification.userID)", "todo_id": "\(notification.todoID)",
                "event.id": "\(notification.eventID)", "channel": "\(notification.channel)",
                "message": "\(notification.message)",
            ])
    }

    /// The user's newest notifications first.
    public func recent(userID: String, limit: Int = 100) async throws -> [Notification] {
        let reply = try await client.send(RedisCommand("LRANGE", Self.userKey(userID), "0", "\(limit - 1)"))
        return try (reply.array ?? []).compactMap(\.string).map {
            try JSONDecoder().decode(Notification.self, from: Data($0.utf8))
        }
    }
}

/// The default sender: the notification is the record itself.
public struct StreamNotificationSender: NotificationSender {
    let log: NotificationLog

    public init(log: NotificationLog) {
        self.log = log
    }

    public func send(_ notification: Notification) async throws {
        var notification = notification
        notification.channel = "stream"
        try await log.record(notification)
    }
}

/// POSTs each notification as JSON to a webhook (AsyncHTTPClient's shared client), then
/// records it. Any answer other than 2xx, or no complete answer within `timeout` (a
/// deadline for the whole request: connect, send, answer), is a failed delivery.
public struct WebhookNotificationSender: NotificationSender {
    let url: URL
    let timeout: Duration
    let log: NotificationLog

    public init(url: URL, timeout: Duration, log: NotificationLog) {
        self.url = url
        self.timeout = timeout
        self.log = log
    }

    /// One HTTP client for every webhook of the process (like `HTTPClient.shared`, it lives as
    /// long as the process). A refused connection fails the delivery at once instead of being
    /// retried until the deadline: retries are the pending-entries list's, with its backoff.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public func send(_ notification: Notification) async throws {
        var notification = notification
        notification.channel = "webhook"
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
        try await log.record(notification)
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

    public func send(_ notification: Notification) async throws {
        if users.isEmpty || users.contains(notification.userID) {
            try await webhook.send(notification)
        } else {
            try await others.send(notification)
        }
    }
}

/// A webhook delivery failed.
public struct WebhookError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
