import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of one process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.
struct ProcessSample: Sendable {
    var name: String
    var pid: Int
    /// utime + stime, in clock ticks.
    var cpuTicks: Int
    var rssKB: Int
    /// Peak resident set size (VmHWM).
    var peakRSSKB: Int
    var taken: ContinuousClock.Instant

    /// One sample per `<name>.pid` file ("<pid> <program>") whose process runs.
    static func readAll(pidsDirectory: String) -> [ProcessSample] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: pidsDirectory)) ?? []
        return files.filter { $0.hasSuffix(".pid") }.sorted().compactMap { file in
            guard let text = try? String(contentsOfFile: pidsDirectory + "/" + file, encoding: .utf8),
                let pid = text.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) })
            else { return nil }
            return read(name: String(file.dropLast(4)), pid: pid)
        }
    }

    /// This process, as `load-generator`.
    static func generator() -> [ProcessSample] { read(name: "load-generator", pid: Int(getpid())).map { [$0] } ?? [] }

    static func read(name: String, pid: Int) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        func kilobytes(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                return Int(line.dropFirst(key.count + 1).split(whereSeparator: \.isWhitespace).first ?? "") ?? 0
            }
            return 0
        }
        return ProcessSample(
            name: name, pid: pid, cpuTicks: user + system, rssKB: kilobytes("VmRSS"), peakRSSKB: kilobytes("VmHWM"),
            taken: .now)
    }
}

/// What a process used between two samples.
struct ProcessUsage: Sendable, Codable {
    var name: String
    var pid: Int
    var cpuSeconds: Double
    /// CPU seconds per wall-clock second × 100 (above 100 when it used several cores).
    var cpuPercent: Double
    var rssStartMB: Double
    var rssEndMB: Double
    var rssPeakMB: Double
    /// CPU microseconds per event (or request) of the run.
    var cpuMicrosPerEvent: Double

    enum CodingKeys: String, CodingKey {
        case name, pid
        case cpuSeconds = "cpu_seconds", cpuPercent = "cpu_percent", cpuMicrosPerEvent = "cpu_us_per_event"
        case rssStartMB = "rss_start_mb", rssEndMB = "rss_end_mb", rssPeakMB = "rss_peak_mb"
    }

    /// Processes sampled at both ends (same name and pid); `events`: what the run made, for
    /// the CPU per event.
    static func between(_ start: [ProcessSample], _ end: [ProcessSample], per events: Int) -> [ProcessUsage] {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return end.compactMap { last in
            guard let first = start.first(where: { $0.name == last.name && $0.pid == last.pid }) else { return nil }
            let cpu = Double(last.cpuTicks - first.cpuTicks) / ticksPerSecond
            let wall = max((last.taken - first.taken).seconds, 0.001)
            return ProcessUsage(
                name: last.name, pid: last.pid, cpuSeconds: cpu, cpuPercent: cpu / wall * 100,
                rssStartMB: Double(first.rssKB) / 1024, rssEndMB: Double(last.rssKB) / 1024,
                rssPeakMB: Double(last.peakRSSKB) / 1024, cpuMicrosPerEvent: events > 0 ? cpu * 1e6 / Double(events) : 0)
        }
    }
}
