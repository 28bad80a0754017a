import EventBus
import Foundation
import Logging
import RedisClient

/// A configuration value from the environment that cannot be used. The message names the
/// variable, the value and what is expected; services print it and exit at start.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads typed settings from environment variables, failing with a message that names the
/// variable.
public struct EnvironmentReader: Sendable {
    public let variables: [String: String]

    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
    }

    /// The value, or nil when unset or empty.
    public func string(_ name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    public func string(_ name: String, default value: String) -> String {
        string(name) ?? value
    }

    public func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return number
    }

    /// A duration given in milliseconds.
    public func milliseconds(_ name: String, default value: Duration, in range: ClosedRange<Int> = 1...86_400_000) throws
        -> Duration
    {
        guard string(name) != nil else { return value }
        return .milliseconds(try integer(name, default: 0, in: range))
    }

    public func choice(_ name: String, default value: String, among choices: [String]) throws -> String {
        let text = string(name, default: value)
        guard choices.contains(text) else {
            throw ConfigurationError("\(name) must be one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    public func url(_ name: String) throws -> URL? {
        guard let text = string(name) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ConfigurationError("\(name) must be an http(s) URL, got '\(text)'")
        }
        return url
    }
}

/// The settings every service reads: `REDIS_URL`, `HTTP_HOST`, `HTTP_PORT`,
/// `HTTP_MAX_BODY_BYTES`, `HTTP_REQUEST_TIMEOUT_MS`, `CONSUMER_NAME`, `LOG_LEVEL`,
/// `LOG_FORMAT`, `EVENT_LOG_LEVEL`, `EVENT_LOG_SAMPLE_RATE`, `SHUTDOWN_GRACE_SECONDS`,
/// `METRICS_SAMPLE_INTERVAL_MS`, `PROCESSED_MARKER_TTL_HOURS`, `STREAM_PARTITIONS`,
/// `PARTITION_LEASE_MS`, and the consumer's retry settings.
public struct ServiceSettings: Sendable {
    public var redis: RedisConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var consumerName: String
    public var logLevel: Logger.Level
    /// `LOG_FORMAT`: `text` (default) or `json` (one JSON object per line, for log shippers).
    public var logFormat: LogFormat
    /// `EVENT_LOG_LEVEL` (default `info`) and `EVENT_LOG_SAMPLE_RATE` (0...1, default 1): the
    /// one line per published and handled event.
    public var eventLog: EventLogPolicy
    /// `STREAM_MAX_LENGTH` (default 100000; 0: never trimmed) and `STREAM_TRIM_EVERY`
    /// (default 1000): the streams a service publishes to are trimmed safely (never an entry
    /// a consumer group still needs) to about that many entries, every that many publishes.
    public var retention: RetentionPolicy
    public var trimEvery: Int
    public var shutdownGrace: Duration
    public var retry: RetryPolicy
    public var handlerTimeout: Duration
    /// `RECEIPTS_STREAM`: when set, consumers record each handled event there (load tests).
    public var receiptsStream: String?
    /// `HTTP_MAX_BODY_BYTES` (default 1 MiB): larger request bodies are refused with 413.
    public var maximumBodyBytes: Int
    /// `HTTP_REQUEST_TIMEOUT_MS` (default 10 s): a request not answered by then gets 408.
    public var requestTimeout: Duration
    /// `METRICS_SAMPLE_INTERVAL_MS` (default 5 s): how often the sampled gauges (consumer
    /// groups, sagas by status) are read from Redis.
    public var metricsSampleInterval: Duration
    /// `PROCESSED_MARKER_TTL_HOURS` (default 168, 7 days): how long a consumer remembers an
    /// event it handled transactionally (`<group>:processed:<event id>`), so a redelivery
    /// within that time changes nothing. At a steady load these markers are the largest
    /// term of Redis's memory after the event-store histories (BENCHMARKS.md, "Memory").
    public var processedMarkerTTL: Duration
    /// `STREAM_PARTITIONS` (default 1): how many partition streams each event stream has; the
    /// same in every service of a deployment (see `StreamPartitions` for the key names).
    public var partitions: StreamPartitions
    /// `PARTITION_LEASE_MS` (default 10 s): how long a consumer of an ordered group keeps a
    /// partition without renewing its lease (the longest a killed consumer's partitions
    /// wait); heartbeats every fifth of it.
    public var partitionLeases: PartitionLeases
    /// `PUBLISH_WAIT_REPLICAS` (default 0: none) and `PUBLISH_WAIT_TIMEOUT_MS` (default
    /// 1000): a publish (and the HTTP answer built on it) returns only once that many replicas
    /// have the write (`WAIT`); otherwise the request fails (503) though the master has it.
    public var replicaAcknowledgement: ReplicaAcknowledgement?

    /// Reads the settings; `defaultPort` is the service's own (todo 8081, notification 8082,
    /// analytics 8083).
    public init(environment: EnvironmentReader = EnvironmentReader(), defaultPort: Int) throws {
        let url = environment.string("REDIS_URL", default: "redis://127.0.0.1:6379/0")
        do {
            redis = try RedisConfiguration(url: url)
        } catch {
            throw ConfigurationError("REDIS_URL is not a usable Redis URL: \(error)")
        }
        httpHost = environment.string("HTTP_HOST", default: "0.0.0.0")
        httpPort = try environment.integer("HTTP_PORT", default: defaultPort, in: 1...65535)
        consumerName = environment.string("CONSUMER_NAME", default: EventConsumer.Configuration.defaultConsumerName())
        let level = environment.string("LOG_LEVEL", default: "info")
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError(
                "LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(level)'")
        }
        self.logLevel = logLevel
        logFormat = LogFormat(rawValue: try environment.choice("LOG_FORMAT", default: "text", among: LogFormat.allCases.map(\.rawValue)))!
        let eventLevel = environment.string("EVENT_LOG_LEVEL", default: "info")
        guard let eventLogLevel = Logger.Level(rawValue: eventLevel) else {
            throw ConfigurationError(
                "EVENT_LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(eventLevel)'")
        }
        let sampleText = environment.string("EVENT_LOG_SAMPLE_RATE", default: "1")
        guard let sampleRate = Double(sampleText), (0...1).contains(sampleRate) else {
            throw ConfigurationError("EVENT_LOG_SAMPLE_RATE must be a number from 0 to 1, got '\(sampleText)'")
        }
        eventLog = EventLogPolicy(level: eventLogLevel, sampleRate: sampleRate)
        let maxLength = try environment.integer("STREAM_MAX_LENGTH", default: 100_000, in: 0...1_000_000_000)
        retention = maxLength == 0 ? .none : .safe(maxLength: maxLength)
        trimEvery = try environment.integer("STREAM_TRIM_EVERY", default: 1000, in: 1...10_000_000)
        shutdownGrace = .seconds(try environment.integer("SHUTDOWN_GRACE_SECONDS", default: 10, in: 1...600))
        retry = RetryPolicy(
            initialBackoff: try environment.milliseconds("RETRY_INITIAL_BACKOFF_MS", default: .seconds(1), in: 10...3_600_000),
            multiplier: 2,
            maximumBackoff: try environment.milliseconds("RETRY_MAX_BACKOFF_MS", default: .seconds(300), in: 10...86_400_000),
            maxDeliveries: try environment.integer("MAX_DELIVERIES", default: 5, in: 1...1000))
        handlerTimeout = try environment.milliseconds("HANDLER_TIMEOUT_MS", default: .seconds(30))
        receiptsStream = environment.string("RECEIPTS_STREAM")
        maximumBodyBytes = try environment.integer("HTTP_MAX_BODY_BYTES", default: 1 << 20, in: 1024...(64 << 20))
        requestTimeout = try environment.milliseconds("HTTP_REQUEST_TIMEOUT_MS", default: .seconds(10), in: 10...600_000)
        metricsSampleInterval = try environment.milliseconds("METRICS_SAMPLE_INTERVAL_MS", default: .seconds(5), in: 10...3_600_000)
        processedMarkerTTL = .seconds(3600 * (try environment.integer("PROCESSED_MARKER_TTL_HOURS", default: 168, in: 1...87_600)))
        partitions = try StreamPartitions(count: try environment.integer("STREAM_PARTITIONS", default: 1, in: 1...1024))
        let lease = try environment.milliseconds("PARTITION_LEASE_MS", default: .seconds(10), in: 150...600_000)
        partitionLeases = PartitionLeases(leaseDuration: lease, heartbeatInterval: lease / 5)
        let replicas = try environment.integer("PUBLISH_WAIT_REPLICAS", default: 0, in: 0...16)
        let waitTimeout = try environment.milliseconds("PUBLISH_WAIT_TIMEOUT_MS", default: .seconds(1), in: 1...60_000)
        replicaAcknowledgement = replicas == 0 ? nil : ReplicaAcknowledgement(replicas: replicas, timeout: waitTimeout)
    }

    /// A publisher configuration with these settings' retention and event log policy.
    public func publisher(streamName: @escaping @Sendable (String) -> String = { "\($0)-events" }) -> EventPublisher.Configuration {
        var configuration = EventPublisher.Configuration(
            streamName: streamName, partitions: partitions, retention: retention, safeTrimInterval: trimEvery, eventLog: eventLog)
        configuration.replicaAcknowledgement = replicaAcknowledgement
        return configuration
    }

    /// A consumer configuration for `group` on `stream` with these settings; `ordered`: the
    /// group's consumers own partitions (per-aggregate order across replicas).
    public func consumer(stream: String, group: String, ordered: Bool = false) -> EventConsumer.Configuration {
        var configuration = EventConsumer.Configuration(
            stream: stream, group: group, consumerName: consumerName, startPosition: .beginning)
        configuration.partitions = partitions
        configuration.ordering = ordered ? .partitionOwnership(partitionLeases) : .shared
        configuration.retry = retry
        configuration.reclaimInterval = min(.milliseconds(250), retry.initialBackoff / 4)
        configuration.handlerTimeout = handlerTimeout
        configuration.receiptsStream = receiptsStream
        configuration.eventLog = eventLog
        configuration.processedMarkerTTL = processedMarkerTTL
        return configuration
    }
}
