import Foundation

/// Where the local stack keeps its state: `.stack/` at the repository root (git-ignored):
/// `pids/<name>.pid`, `logs/<name>.log`, `redis/` (AOF data), `redis.port`.
struct StackLayout {
    let root: URL
    let repository: URL
    /// The folder holding our built executables (next to this one).
    let binaries: URL

    init() {
        let environment = ProcessInfo.processInfo.environment
        repository = URL(fileURLWithPath: environment["STACK_REPOSITORY"] ?? FileManager.default.currentDirectoryPath)
        root = URL(fileURLWithPath: environment["STACK_DIR"] ?? repository.appendingPathComponent(".stack").path)
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        binaries = URL(fileURLWithPath: me).deletingLastPathComponent()
    }

    var composeFile: String { repository.appendingPathComponent("docker-compose.yml").path }
    var pids: URL { root.appendingPathComponent("pids") }
    var logs: URL { root.appendingPathComponent("logs") }
    var redisData: URL { root.appendingPathComponent("redis") }

    func pidFile(_ name: String) -> URL { pids.appendingPathComponent("\(name).pid") }
    func logFile(_ name: String) -> URL { logs.appendingPathComponent("\(name).log") }

    func create() throws {
        for folder in [pids, logs, redisData] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    /// The pid recorded for `name`, if its process still runs the program recorded with it.
    func runningPID(_ name: String) -> pid_t? {
        guard let text = try? String(contentsOf: pidFile(name), encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard let pid = pid_t(parts[0]) else { return nil }
        // A pid can be reused: check it still runs the program we started.
        guard let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return nil }
        if parts.count > 1, !commandLine.contains(parts[1]) { return nil }
        return pid
    }

    func record(_ name: String, pid: pid_t, program: String) throws {
        try "\(pid) \(program)".write(to: pidFile(name), atomically: true, encoding: .utf8)
    }

    /// Names with a pid file, services first and redis last.
    func recordedNames() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: pids.path)) ?? []
        let names = files.filter { $0.hasSuffix(".pid") }.map { String($0.dropLast(4)) }
        return names.filter { $0 != "redis" }.sorted() + (names.contains("redis") ? ["redis"] : [])
    }
}
