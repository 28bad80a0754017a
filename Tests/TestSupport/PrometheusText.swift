/// A scrape of `GET /metrics` (Prometheus text format 0.0.4), for tests: each sample line
/// `name{label="value",...} number` as a name, its labels and its value.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable {
        public let name: String
        public let labels: [String: String]
        public let value: Double
    }

    public let samples: [Sample]
    /// The `# TYPE` of each metric family.
    public let types: [String: String]

    public init(_ text: String) {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let valueStart = line.lastIndex(of: " "), let value = Double(line[line.index(after: valueStart)...]) else { continue }
            let series = line[..<valueStart]
            guard let open = series.firstIndex(of: "{") else {
                samples.append(Sample(name: String(series), labels: [:], value: value))
                continue
            }
            let labels = Self.labels(series[series.index(after: open)...].dropLast())
            samples.append(Sample(name: String(series[..<open]), labels: labels, value: value))
        }
        self.samples = samples
        self.types = types
    }

    /// `a="x",b="y \" z"` as a dictionary.
    static func labels(_ text: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].trimmingPrefix(",")
            var value = ""
            var index = rest.index(equals, offsetBy: 2)  // past `="`
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                    index = rest.index(after: index)
                    value.append(rest[index] == "n" ? "\n" : rest[index])
                } else {
                    value.append(rest[index])
                }
                index = rest.index(after: index)
            }
            labels[String(name)] = value
            rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
        }
        return labels
    }

    /// The samples named `name` whose labels include `labels`.
    public func samples(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// The value of the one sample named `name` with `labels` (nil when there is none; the sum
    /// when `labels` match several, e.g. every event type).
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples(name, labels)
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// The metric family names (histograms by their family name, not `_bucket`/`_sum`/`_count`).
    public var families: Set<String> { Set(types.keys) }
}

/// The metrics the services export that deploy/prometheus/alerts.yml may use: the tests
/// that run the services check each one is in their scrape, and the alert rules' test checks
/// the rules use no other (besides Prometheus's own `up`).
public enum ExportedMetrics {
    /// Every consuming service's (EventConsumer and GroupMetricsSampler).
    public static let consumer: Set<String> = [
        "events_handled_total", "events_failed_total", "event_handler_duration_seconds", "events_dead_lettered_total",
        "events_reclaimed_total", "event_redeliveries_total", "consumer_group_lag", "consumer_group_pending",
        "consumer_group_dead_letters", "consumer_group_oldest_pending_age_seconds",
    ]
    /// saga-coordinator's (SagaMetrics and SagaStatusSampler).
    public static let saga: Set<String> = ["sagas_started_total", "sagas_ended_total", "saga_duration_seconds", "sagas_by_status"]
}
