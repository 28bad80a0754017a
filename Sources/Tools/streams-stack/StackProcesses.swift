import Foundation
import Logging
import LocalRedisServer
import RedisClient

/// Starting and stopping the stack's processes, each in a session of its own so that it
/// keeps running after `up` returns; they are found again by the pids recorded in `.stack/`.
struct StackProcesses {
    let layout: StackLayout

    /// The private Redis port: while the stack's redis-server runs, the port it was started
    /// on (recorded in `.stack/redis.port`); otherwise `STACK_REDIS_PORT`, else the recorded
    /// port, else 6390. (A start that failed for a taken port is retried on a new one.)
    var redisPort: Int {
        let recorded = (try? String(contentsOf: layout.root.appendingPathComponent("redis.port"), encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let configured = Int(ProcessInfo.processInfo.environment["STACK_REDIS_PORT"] ?? "")
        if let recorded, layout.runningPID("redis") != nil { return recorded }
        return configured ?? recorded ?? 6390
    }

    /// A URL for the private Redis as `user` (its password from `StackSecrets`).
    func redisURL(user: String, password: String) -> String {
        "redis://\(user):\(password)@127.0.0.1:\(redisPort)/0"
    }

    /// Starts redis-server with deploy/redis/redis.conf (same ACL users, rendered with this
    /// installation's secrets into `.stack/users.acl`, and persistence as in docker compose) on
    /// a private port of 127.0.0.1, data under `.stack/redis`, and waits for it.
    func startRedis(secrets: StackSecrets) async throws {
        if layout.runningPID("redis") != nil { return }
        try layout.renderACL(secrets)
        let port = redisPort
        let executable = try Self.find("redis-server")
        let repository = layout.repository
        let child = try ChildProcess(
            executable: executable,
            arguments: [
                repository.appendingPathComponent("deploy/redis/redis.conf").path,
                "--port", "\(port)", "--bind", "127.0.0.1", "--dir", layout.redisData.path,
                "--aclfile", layout.aclFile.path,
                "--daemonize", "no", "--logfile", layout.logFile("redis").path,
            ],
            outputPath: layout.logFile("redis").path, newSession: true)
        try layout.record("redis", pid: child.pid, program: "redis-server")
        try "\(port)".write(to: layout.root.appendingPathComponent("redis.port"), atomically: true, encoding: .utf8)
        let client = RedisClient(
            configuration: try RedisConfiguration(url: redisURL(user: "healthcheck", password: secrets.password(of: "healthcheck"))),
            logger: Logger(label: "stack", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { client.close() }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if child.poll() != nil {
                throw StackError("redis-server exited at start; see \(layout.logFile("redis").path):\n\(tail(layout.logFile("redis")))")
            }
            if (try? await client.ping()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw StackError("redis-server did not answer on port \(port) within 30 s")
    }

    /// Starts one service executable with its environment; returns the child, or nil when
    /// it was running already (or has no command).
    @discardableResult
    func start(_ service: ComposeFile.Service, environment: [String: String]) throws -> ChildProcess? {
        guard let program = service.command.first else { return nil }
        if layout.runningPID(service.name) != nil { return nil }
        let executable = layout.binaries.appendingPathComponent(program).path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw StackError("\(executable) not found: build it with 'swift build --product \(program)' (scripts/stack.sh does)")
        }
        let child = try ChildProcess(
            executable: executable, arguments: Array(service.command.dropFirst()), environment: environment,
            outputPath: layout.logFile(service.name).path, newSession: true)
        try layout.record(service.name, pid: child.pid, program: program)
        return child
    }

    /// SIGTERM, then SIGKILL after `grace`; true when it stopped by itself.
    @discardableResult
    func stop(_ name: String, grace: Duration) async -> Bool {
        defer { try? FileManager.default.removeItem(at: layout.pidFile(name)) }
        guard let pid = layout.runningPID(name) else { return true }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if !Self.isAlive(pid) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(pid, SIGKILL)
        while Self.isAlive(pid) { try? await Task.sleep(for: .milliseconds(20)) }
        return false
    }

    /// Whether something listens on `port` (on 127.0.0.1 or any other address of this host).
    static func isListening(port: Int) -> Bool {
        TCPPorts.listening().contains(port)
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        // A zombie (exited, not yet reaped by init) counts as stopped.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    static func find(_ program: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
            let candidate = folder + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw StackError("\(program) not found in PATH: install it with 'apt-get install -y redis-server'")
    }

    /// The last lines of a log file.
    func tail(_ file: URL, lines: Int = 20) -> String {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
