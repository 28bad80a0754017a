import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import NotificationService
import RedisClient
import ServiceKit
import TestSupport
import Testing
import TodoEvents

/// What an operator sees at `/metrics` of notification-service after one event failed,
/// waited pending for its retry, failed again and was dead-lettered, while another was
/// handled. The process's registry is shared by every test in it, so the group has a name of
/// its own and every value asserted is this test's alone.
@Suite("notification-service metrics")
struct NotificationMetricsTests {
    @Test func aDeadLetterAPendingRetryAndHandlerTimesShowInTheScrape() async throws {
        let closed = TestPorts.free()[0]
        let group = "notification-metrics-\(UUID().uuidString.prefix(8).lowercased())"
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            var configuration = try NotificationServiceConfiguration(
                environment: EnvironmentReader([
                    // The retry waits an hour, so the failed entry stays pending however long a
                    // loaded run stalls this process; the test brings the retry forward itself once
                    // the scrape has shown it pending.
                    "RETRY_INITIAL_BACKOFF_MS": "3600000", "RETRY_MAX_BACKOFF_MS": "3600000", "MAX_DELIVERIES": "2",
                    "METRICS_SAMPLE_INTERVAL_MS": "20",
                    "NOTIFICATION_WEBHOOK_URL": "http://127.0.0.1:\(closed)/hook", "NOTIFICATION_WEBHOOK_USERS": "dave",
                ]))
            configuration.consumer.group = group
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "notification-metrics-test"))
            try await app.test(.router) { http in
                func scrape() async throws -> PrometheusText {
                    let response = try await http.execute(uri: "/metrics", method: .get)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                    return PrometheusText(String(buffer: response.body))
                }
                let byGroup = ["stream": TodoEvents.stream, "group": group]
                let created = byGroup.merging(["event_type": TodoCreated.eventType]) { $1 }
                let publisher = EventPublisher(client: client)
                // dave's webhook is down: fails, stays pending, fails again, is dead-lettered.
                try await publisher.publish(TodoCreated(todoID: "d1", userID: "dave", title: "Call the bank"))
                try await publisher.publish(TodoCreated(todoID: "a1", userID: "alice", title: "Buy milk"))

                var metrics = try await scrape()
                #expect(
                    try await eventually(timeout: .seconds(60)) {
                        metrics = try await scrape()
                        return metrics.value("consumer_group_pending", byGroup) == 1
                            && (metrics.value("consumer_group_oldest_pending_age_seconds", byGroup) ?? 0) > 0
                    }, "the failed event was never seen pending: \(metrics.samples("consumer_group_pending", byGroup))")
                #expect(metrics.value("consumer_group_dead_letters", byGroup) == 0)

                // The retry is due: the entry's idle time set past the backoff (XCLAIM to its own
                // consumer with IDLE and JUSTID: no delivery counted).
                let pending = try await client.send("XPENDING", TodoEvents.stream, group, "-", "+", "10").array ?? []
                #expect(pending.count == 1)
                for entry in pending {
                    let fields = entry.array ?? []
                    guard fields.count >= 2, let id = fields[0].string, let owner = fields[1].string else { continue }
                    _ = try await client.send("XCLAIM", TodoEvents.stream, group, owner, "0", id, "IDLE", "7200000", "JUSTID")
                }

                #expect(
                    try await eventually(timeout: .seconds(60)) {
                        metrics = try await scrape()
                        return metrics.value("consumer_group_dead_letters", byGroup) == 1
                            && metrics.value("consumer_group_pending", byGroup) == 0
                    }, "no dead letter: \(metrics.samples("consumer_group_dead_letters", byGroup))")
                #expect(metrics.value("consumer_group_oldest_pending_age_seconds", byGroup) == 0)
                #expect(metrics.value("consumer_group_lag", byGroup) == 0)
                #expect(metrics.value("events_dead_lettered_total", byGroup) == 1)
                #expect(metrics.value("events_failed_total", created) == 2)
                #expect(metrics.value("events_handled_total", created) == 1)
                #expect(metrics.value("event_redeliveries_total", byGroup) == 1)
                #expect(metrics.value("events_reclaimed_total", byGroup) == 1)

                // Every handler run is in the histogram, in buckets from 0.5 ms to 10 s.
                #expect(metrics.types["event_handler_duration_seconds"] == "histogram")
                #expect(metrics.value("event_handler_duration_seconds_count", created) == 3)
                let buckets = metrics.samples("event_handler_duration_seconds_bucket", created)
                #expect(buckets.compactMap { $0.labels["le"] }.first == "0.0005")
                #expect(buckets.first { $0.labels["le"] == "10.0" } != nil)
                #expect(buckets.first { $0.labels["le"] == "+Inf" }?.value == 3)
                #expect((metrics.value("event_handler_duration_seconds_sum", created) ?? 0) > 0)

                // Hummingbird's HTTP metrics, under Prometheus names (the scrapes above are requests).
                #expect((metrics.value("http_requests_total", ["http_route": "/metrics", "http_request_method": "GET"]) ?? 0) >= 1)
                #expect(metrics.types["http_request_duration_seconds"] == "histogram")

                #expect(
                    ExportedMetrics.consumer.isSubset(of: metrics.families),
                    "not exported: \(ExportedMetrics.consumer.subtracting(metrics.families))")
            }
        }
    }
}
