import EventBus
import Foundation
import LocalRedisServer
import Logging
import RedisClient
import ServiceKit
import TestSupport
import Testing

/// The group sampler's gauges against a real group: lag, pending entries, the age of the
/// oldest, dead letters. Stream and group names are this test's own (the registry is the
/// process's), and it waits for the sampler, never for a fixed time.
@Suite("GroupMetricsSampler")
struct GroupMetricsSamplerTests {
    static func scrape() -> PrometheusText {
        var buffer: [UInt8] = []
        ServiceMetrics.registry.emit(into: &buffer)
        return PrometheusText(String(decoding: buffer, as: UTF8.self))
    }

    @Test func itReportsLagPendingOldestPendingAgeAndDeadLetters() async throws {
        let stream = "sampler-\(UUID().uuidString.prefix(8).lowercased())"
        let missing = "\(stream)-missing"
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            #expect(try await client.xgroupCreate(stream, group: "g", startAt: "0"))
            let first = try await client.xadd(stream, fields: [("n", "1")])
            for n in 2...3 { try await client.xadd(stream, fields: [("n", "\(n)")]) }
            #expect(try await client.xreadgroup(group: "g", consumer: "c", stream: stream, count: 1).count == 1)
            for n in 1...2 { try await client.xadd(DeadLetter.streamKey(stream: stream, group: "g"), fields: [("n", "\(n)")]) }

            let sampler = GroupMetricsSampler(
                client: client, groups: [(stream, "g"), (missing, "g")], interval: .milliseconds(20), logger: Logger(label: "sampler-test"))
            let running = Task { try await sampler.run() }
            defer { running.cancel() }
            let group = ["stream": stream, "group": "g"]
            var metrics = Self.scrape()
            #expect(
                try await eventually {
                    metrics = Self.scrape()
                    return metrics.value("consumer_group_lag", group) == 2 && metrics.value("consumer_group_pending", group) == 1
                        && metrics.value("consumer_group_dead_letters", group) == 2
                        && (metrics.value("consumer_group_oldest_pending_age_seconds", group) ?? 0) > 0
                }, "\(metrics.samples.filter { $0.labels["stream"] == stream })")
            // The age is the oldest pending entry's, from its id's time.
            let age = try #require(metrics.value("consumer_group_oldest_pending_age_seconds", group))
            let sinceFirst = Date().timeIntervalSince1970 - Double(first.milliseconds) / 1000
            #expect(age <= sinceFirst + 0.001)
            #expect(metrics.types["consumer_group_oldest_pending_age_seconds"] == "gauge")

            // Acknowledged: nothing pending, age 0; a group on a stream that does not exist
            // yet reports nothing and does not stop the others.
            #expect(try await client.xack(stream, group: "g", ids: [first]) == 1)
            #expect(
                try await eventually {
                    metrics = Self.scrape()
                    return metrics.value("consumer_group_pending", group) == 0
                        && metrics.value("consumer_group_oldest_pending_age_seconds", group) == 0
                })
            #expect(metrics.value("consumer_group_dead_letters", ["stream": missing, "group": "g"]) == 0)
        }
    }

    @Test func aRefusedCommandIsLoggedOnceAndTheOtherGaugesAreStillSampled() async throws {
        let stream = "sampler-\(UUID().uuidString.prefix(8).lowercased())"
        try await withLocalRedisServer { server in
            let admin = try RedisClient(url: server.url)
            defer { admin.close() }
            #expect(try await admin.xgroupCreate(stream, group: "g", startAt: "0"))
            try await admin.xadd(stream, fields: [("n", "1")])
            // A user that may not XLEN (as a Redis user without it on its dead letters).
            _ = try await admin.send("ACL", "SETUSER", "limited", "on", ">limited-password", "~*", "&*", "+@all", "-xlen")
            var configuration = try RedisConfiguration(url: server.url)
            configuration.username = "limited"
            configuration.password = "limited-password"
            let client = RedisClient(configuration: configuration)
            defer { client.close() }
            let messages = LogCapture()
            let sampler = GroupMetricsSampler(
                client: client, groups: [(stream, "g")], interval: .milliseconds(20),
                logger: Logger(label: "sampler-test") { _ in messages })
            let running = Task { try await sampler.run() }
            defer { running.cancel() }
            let group = ["stream": stream, "group": "g"]
            #expect(try await eventually { Self.scrape().value("consumer_group_lag", group) == 1 && messages.lines.count >= 1 })
            // Several samples later, still said once.
            try await admin.xadd(stream, fields: [("n", "2")])
            #expect(try await eventually { Self.scrape().value("consumer_group_lag", group) == 2 })
            #expect(messages.lines.count == 1)
            #expect(messages.lines.first?.contains("NOPERM") == true, "\(messages.lines)")
        }
    }

    @Test func processedMarkersAreKeptSevenDaysUnlessConfiguredOtherwise() throws {
        let defaults = try ServiceSettings(environment: EnvironmentReader([:]), defaultPort: 8081)
        #expect(defaults.processedMarkerTTL == .seconds(7 * 24 * 3600))
        #expect(defaults.consumer(stream: "s", group: "g").processedMarkerTTL == .seconds(7 * 24 * 3600))
        let day = try ServiceSettings(environment: EnvironmentReader(["PROCESSED_MARKER_TTL_HOURS": "24"]), defaultPort: 8081)
        #expect(day.consumer(stream: "s", group: "g").processedMarkerTTL == .seconds(24 * 3600))
        #expect(throws: ConfigurationError.self) {
            _ = try ServiceSettings(environment: EnvironmentReader(["PROCESSED_MARKER_TTL_HOURS": "0"]), defaultPort: 8081)
        }
    }

    @Test func theSampleIntervalComesFromTheEnvironment() throws {
        #expect(try ServiceSettings(environment: EnvironmentReader([:]), defaultPort: 8081).metricsSampleInterval == .seconds(5))
        let quick = try ServiceSettings(environment: EnvironmentReader(["METRICS_SAMPLE_INTERVAL_MS": "250"]), defaultPort: 8081)
        #expect(quick.metricsSampleInterval == .milliseconds(250))
        #expect {
            _ = try ServiceSettings(environment: EnvironmentReader(["METRICS_SAMPLE_INTERVAL_MS": "0"]), defaultPort: 8081)
        } throws: { error in
            "\(error)".contains("METRICS_SAMPLE_INTERVAL_MS")
        }
    }
}

/// Keeps the warnings logged to it (a log handler for tests).
final class LogCapture: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var captured: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    var lines: [String] { lock.withLock { captured } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = "\(event.message) \(event.metadata ?? [:])"
        lock.withLock { captured.append(line) }
    }
}
