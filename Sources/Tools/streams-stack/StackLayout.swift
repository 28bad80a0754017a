import Foundation

/// Where the local stack keeps its state: `.stack/` at the repository root (git-ignored;
/// made with mode 700): `pids/<name>.pid`, `logs/<name>.log`, `redis/` (AOF data), `redis.port`,
/// `secrets.env` (the Redis users' passwords, mode 600) and `users.acl` (the ACL file made
/// from them, mode 600). A stack started with `up --cluster` also has `cluster/` (one folder per
/// node, see `StackCluster`) and the marker `mode` (`cluster`) while it is up.
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
    var secretsFile: URL { root.appendingPathComponent("secrets.env") }
    var aclFile: URL { root.appendingPathComponent("users.acl") }
    var aclTemplate: URL { repository.appendingPathComponent("deploy/redis/users.acl.template") }
    /// The cluster's nodes (`up --cluster`): `node1/` ... `node6/`.
    var cluster: URL { root.appendingPathComponent("cluster") }
    /// Says `cluster` while a stack started with `up --cluster` is up (from that `up` until a
    /// `down` has stopped everything): `status`, `down`, `flow` and `redis-url` read it.
    var modeFile: URL { root.appendingPathComponent("mode") }

    /// Whether the stack in `root` was started with `up --cluster` (and not stopped since).
    var isClusterStack: Bool {
        ((try? String(contentsOf: modeFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) == "cluster"
    }

    /// Remembers (`true`) or forgets that the stack is a cluster stack.
    func markCluster(_ cluster: Bool) throws {
        if cluster {
            try "cluster\n".write(to: modeFile, atomically: true, encoding: .utf8)
        } else {
            try? FileManager.default.removeItem(at: modeFile)
        }
    }

    /// Whether `name` is one of the stack's redis-servers (`redis`, `redis-node<i>`).
    static func isRedis(_ name: String) -> Bool { name == "redis" || name.hasPrefix("redis-node") }

    func pidFile(_ name: String) -> URL { pids.appendingPathComponent("\(name).pid") }
    func logFile(_ name: String) -> URL { logs.appendingPathComponent("\(name).log") }

    func create() throws {
        if !FileManager.default.fileExists(atPath: root.path) {
            try FileManager.default.createDirectory(
                at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for folder in [pids, logs, redisData] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    /// This installation's Redis secrets, created on first use.
    func secrets() throws -> StackSecrets {
        try create()
        return try StackSecrets.loadOrCreate(secretsFile, users: try users())
    }

    /// The Redis users with a password, as the ACL template names them.
    func users() throws -> [String] {
        try StackSecrets.users(inTemplate: try String(contentsOf: aclTemplate, encoding: .utf8))
    }

    /// Renders deploy/redis/users.acl.template with `secrets` into `users.acl` (mode 600).
    func renderACL(_ secrets: StackSecrets) throws {
        let template = try String(contentsOf: aclTemplate, encoding: .utf8)
        try PrivateFile.write(try secrets.renderACL(template: template), to: aclFile)
    }

    /// The pid recorded for `name`, if its process still runs the program recorded with it.
    func runningPID(_ name: String) -> pid_t? {
        guard let text = try? String(contentsOf: pidFile(name), encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        guard let pid = pid_t(parts[0]) else { return nil }
        // A pid can be reused: check it still runs the program we started.
        guard let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return nil }
        if parts.count > 1, !commandLine.contains(parts[1]) {
            // An empty command line is a process still in exec (its arguments not yet set up)
            // or a zombie: running in the first case only.
            guard commandLine.isEmpty, StackProcesses.isAlive(pid) else { return nil }
        }
        return pid
    }

    func record(_ name: String, pid: pid_t, program: String) throws {
        try "\(pid) \(program)".write(to: pidFile(name), atomically: true, encoding: .utf8)
    }

    /// Names with a pid file, services first and the redis-servers last.
    func recordedNames() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: pids.path)) ?? []
        let names = files.filter { $0.hasSuffix(".pid") }.map { String($0.dropLast(4)) }
        return names.filter { !Self.isRedis($0) }.sorted() + names.filter(Self.isRedis).sorted()
    }

    /// The recorded names whose process still runs.
    func runningNames() -> [String] { recordedNames().filter { runningPID($0) != nil } }
}
