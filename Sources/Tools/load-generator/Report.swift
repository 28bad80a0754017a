import Foundation
import Histogram

/// Percentiles of a histogram of microseconds, in milliseconds.
struct LatencyFigures: Codable, Sendable {
    var count: UInt64
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    enum CodingKeys: String, CodingKey { case count, p50, p90, p99, p999 = "p99_9", max, mean }

    init(_ histogram: Histogram<UInt64>) {
        func ms(_ micros: UInt64) -> Double { (Double(micros) / 1000 * 1000).rounded() / 1000 }
        count = histogram.totalCount
        guard count > 0 else {
            p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
            return
        }
        p50 = ms(histogram.valueAtPercentile(50))
        p90 = ms(histogram.valueAtPercentile(90))
        p99 = ms(histogram.valueAtPercentile(99))
        p999 = ms(histogram.valueAtPercentile(99.9))
        max = ms(histogram.max)
        mean = (histogram.mean / 1000 * 1000).rounded() / 1000
    }
}

/// Everything the run measured: the summary table and the final JSON line.
struct Report: Encodable {
    struct GroupFigures: Encodable {
        var group: String
        var expected: Int
        var handled: Int
        var lost: Int
        var duplicates: Int
        var deadLettered: Int
        var unmatched: Int
        /// Receipts per consumer (instance) of the group.
        var consumers: [String: Int]
        var latencyMS: LatencyFigures

        enum CodingKeys: String, CodingKey {
            case group, expected, handled, lost, duplicates, unmatched, consumers
            case deadLettered = "dead_lettered", latencyMS = "handled_latency_ms"
        }
    }

    var target: TargetKind
    var rateOffered: Double
    var rateAchieved: Double
    var durationSeconds: Double
    var sendingSeconds: Double
    var drainSeconds: Double
    var concurrency: Int
    var sent: Int
    var created: Int
    var failed: Int
    var dropped: Int
    var outcomes: [String: Int]
    var requestLatencyMS: LatencyFigures
    var serviceTimeMS: LatencyFigures
    var scheduleLagMS: LatencyFigures
    var groups: [GroupFigures]
    var processes: [ProcessUsage]
    var lostTotal: Int
    var receiptReadErrors: Int

    enum CodingKeys: String, CodingKey {
        case target, concurrency, sent, created, failed, dropped, outcomes, groups, processes
        case rateOffered = "rate_offered", rateAchieved = "rate_achieved", durationSeconds = "duration_s"
        case sendingSeconds = "sending_s", drainSeconds = "drain_s"
        case requestLatencyMS = "request_latency_ms", serviceTimeMS = "service_time_ms", scheduleLagMS = "schedule_lag_ms"
        case lostTotal = "lost_total", receiptReadErrors = "receipt_read_errors"
    }

    init(
        target: TargetKind, rate: Double, duration: Double, concurrency: Int, timing: RateDriver.Timing,
        drainSeconds: Double, stats: LoadStats.Snapshot, expected: Set<String>, groups: [ReceiptBook.Summary],
        processes: [ProcessUsage], readerErrors: Int
    ) {
        func rounded(_ value: Double, _ places: Double = 100) -> Double { (value * places).rounded() / places }
        self.target = target
        rateOffered = rate
        durationSeconds = duration
        sendingSeconds = rounded(timing.sendingSeconds, 1000)
        // Created per second over the time the sends took (at least the planned duration).
        rateAchieved = rounded(Double(stats.created) / Swift.max(duration, timing.sendingSeconds), 10)
        self.drainSeconds = rounded(drainSeconds)
        self.concurrency = concurrency
        sent = stats.sent
        created = stats.created
        failed = stats.failed
        dropped = stats.dropped
        outcomes = stats.outcomes
        if stats.created > 0 { outcomes[target == .health ? "ok" : "created"] = stats.created }
        requestLatencyMS = LatencyFigures(stats.latency)
        serviceTimeMS = LatencyFigures(stats.service)
        scheduleLagMS = LatencyFigures(stats.lag)
        self.groups = groups.map {
            GroupFigures(
                group: $0.group, expected: $0.expected, handled: $0.handled, lost: $0.lost, duplicates: $0.duplicates,
                deadLettered: $0.deadLettered, unmatched: $0.unmatched, consumers: $0.byConsumer,
                latencyMS: LatencyFigures($0.latency))
        }
        self.processes = processes.map {
            var usage = $0
            usage.cpuSeconds = rounded(usage.cpuSeconds)
            usage.cpuPercent = rounded(usage.cpuPercent, 10)
            usage.rssStartMB = rounded(usage.rssStartMB, 10)
            usage.rssEndMB = rounded(usage.rssEndMB, 10)
            usage.rssPeakMB = rounded(usage.rssPeakMB, 10)
            usage.cpuMicrosPerEvent = rounded(usage.cpuMicrosPerEvent, 10)
            return usage
        }
        lostTotal = groups.reduce(0) { $0 + $1.lost }
        receiptReadErrors = readerErrors
    }

    /// A reason to look further, when the figures suggest a setup problem.
    var hint: String? {
        if groups.contains(where: { $0.handled == 0 && $0.expected > 0 }) {
            return "hint: a group handled nothing this run: are the consumers running with RECEIPTS_STREAM=receipts?"
        }
        return nil
    }

    func table() -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        func left(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        func ms(_ value: Double) -> String { String(format: "%.2f", value) }
        var lines: [String] = []
        let sendLabel = ["http": "POST /todos", "bus": "publish", "health": "GET /health"][target.rawValue] ?? "send"
        lines.append(
            "load: \(target.rawValue), offered \(format(rateOffered)) /s for \(format(durationSeconds)) s, achieved \(format(rateAchieved)) /s "
                + "(sent \(sent), created \(created), failed \(failed), dropped at concurrency \(concurrency): \(dropped))")
        lines.append(
            "outcomes: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("")
        lines.append(
            left("latency (ms)", 34) + ["p50", "p90", "p99", "p99.9", "max", "count"].map { pad($0, 9) }.joined())
        func latencyRow(_ label: String, _ figures: LatencyFigures) -> String {
            left(label, 34) + [figures.p50, figures.p90, figures.p99, figures.p999, figures.max].map { pad(ms($0), 9) }.joined()
                + pad("\(figures.count)", 9)
        }
        lines.append(latencyRow(sendLabel + " (due → answer)", requestLatencyMS))
        lines.append(latencyRow("  service time (sent → answer)", serviceTimeMS))
        lines.append(latencyRow("  schedule lag (due → sent)", scheduleLagMS))
        for group in groups { lines.append(latencyRow("handled: \(group.group)", group.latencyMS)) }
        lines.append("")
        if !groups.isEmpty {
            lines.append(
                left("group", 24) + ["expected", "handled", "lost", "dupes", "dlq", "unmatched"].map { pad($0, 10) }.joined())
        }
        for group in groups {
            lines.append(
                left(group.group, 24)
                    + [group.expected, group.handled, group.lost, group.duplicates, group.deadLettered, group.unmatched]
                    .map { pad("\($0)", 10) }.joined())
            if group.consumers.count > 1 {
                lines.append(
                    "  receipts by consumer: "
                        + group.consumers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
        }
        if !processes.isEmpty {
            lines.append("")
            lines.append(
                left("process", 24)
                    + ["pid", "cpu s", "cpu %", "µs/event", "rss MB", "(start)", "peak MB"].map { pad($0, 10) }.joined())
            for process in processes {
                lines.append(
                    left(process.name, 24)
                        + [
                            "\(process.pid)", String(format: "%.2f", process.cpuSeconds), String(format: "%.1f", process.cpuPercent),
                            String(format: "%.1f", process.cpuMicrosPerEvent),
                            String(format: "%.1f", process.rssEndMB), String(format: "%.1f", process.rssStartMB),
                            String(format: "%.1f", process.rssPeakMB),
                        ].map { pad($0, 10) }.joined())
            }
        }
        lines.append("")
        if target != .health {
            lines.append(lostTotal == 0 ? "result: no event lost" : "result: \(lostTotal) events LOST")
        }
        return lines.joined(separator: "\n")
    }

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// One line on stderr every second while the run lasts (and its drain: no `counters`).
enum Progress {
    static func print(
        every interval: Duration, started: ContinuousClock.Instant,
        counters: (@Sendable () -> (sent: Int, created: Int, failed: Int, dropped: Int, inFlight: Int))?,
        book: ReceiptBook?
    ) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            var line = String(format: "%6.1fs", (ContinuousClock.now - started).seconds)
            if let counters = counters?() {
                line += " sent \(counters.sent) ok \(counters.created) errors \(counters.failed) dropped \(counters.dropped)"
                    + " in-flight \(counters.inFlight)"
            } else {
                line += " draining"
            }
            if let book {
                line += " | handled " + book.receiptCounts().sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: " ")
            }
            log(line)
        }
    }
}
