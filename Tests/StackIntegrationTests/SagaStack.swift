import EventBus
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// A local stack (streams-stack up) for the order saga tests: its ports, folder, operator
/// client, and ways to stop, kill and restart its processes.
final class SagaStack: Sendable {
    let directory: String
    let ports: StackPorts
    let settings: [String: String]
    let operatorClient: RedisClient
    let operatorURL: String

    /// Starts the stack with `settings` (SAGA_*, INVENTORY_SEED, ...) added to the environment;
    /// with `cluster`, on a local Redis Cluster (`up --cluster`; STREAM_PARTITIONS 6 unless set).
    static func start(_ settings: [String: String], cluster: Bool = false) async throws -> SagaStack {
        var settings = settings
        if cluster && settings["STREAM_PARTITIONS"] == nil { settings["STREAM_PARTITIONS"] = "6" }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("saga-\(UUID().uuidString.prefix(8))").path
        let upArguments = cluster ? ["up", "--cluster", "--timeout", "120"] : ["up", "--timeout", "120"]
        // Six more redis-servers: one cluster at a time in this process (released by `down`).
        if cluster { await LocalClusterGate.shared.enter() }
        let (ports, up) = try await StackPorts.withFreshPorts { [settings] ports in
            let up = try await run(upArguments, directory: directory, ports: ports, settings: settings)
            if up.exitCode != 0 { _ = try? await run(["down"], directory: directory, ports: ports, settings: settings) }
            return (up, up.exitCode != 0 && StackPorts.portWasTaken(up.output))
        }
        guard up.exitCode == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            if cluster { LocalClusterGate.shared.leave() }
            throw StackTestError("stack up failed: \(up.output)")
        }
        do {
            let operatorURL = try await stackRedisURL(user: "operator", directory: directory, ports: ports, settings: settings)
            return SagaStack(
                directory: directory, ports: ports, settings: settings, upArguments: upArguments, operatorURL: operatorURL,
                operatorClient: RedisClient(configuration: try RedisConfiguration(url: operatorURL)))
        } catch {
            _ = try? await run(["down"], directory: directory, ports: ports, settings: settings)
            try? FileManager.default.removeItem(atPath: directory)
            if cluster { LocalClusterGate.shared.leave() }
            throw error
        }
    }

    /// `up`'s arguments (`--cluster` for a cluster stack), for restarting what was stopped.
    let upArguments: [String]

    private init(
        directory: String, ports: StackPorts, settings: [String: String], upArguments: [String], operatorURL: String,
        operatorClient: RedisClient
    ) {
        self.directory = directory
        self.ports = ports
        self.settings = settings
        self.upArguments = upArguments
        self.operatorURL = operatorURL
        self.operatorClient = operatorClient
    }

    /// `streams-stack redis-url <user>`: one node's URL, or every node's on a cluster stack.
    private static func stackRedisURL(user: String, directory: String, ports: StackPorts, settings: [String: String]) async throws
        -> String
    {
        let printed = try await run(["redis-url", user], directory: directory, ports: ports, settings: settings)
        guard printed.exitCode == 0, let url = printed.output.split(separator: "\n").last(where: { $0.hasPrefix("redis://") }) else {
            throw StackTestError("streams-stack redis-url \(user) failed: \(printed.output)")
        }
        return String(url)
    }

    static func secret(_ user: String, in secrets: String) -> String {
        let name = "REDIS_\(user.uppercased().replacingOccurrences(of: "-", with: "_"))_PASSWORD="
        return secrets.split(separator: "\n").first { $0.hasPrefix(name) }.map { String($0.dropFirst(name.count)) } ?? ""
    }

    /// The URL of one of the stack's Redis users (every node's on a cluster stack).
    func redisURL(user: String) throws -> String {
        let secrets = try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8)
        let password = Self.secret(user, in: secrets)
        guard upArguments.contains("--cluster") else { return "redis://\(user):\(password)@127.0.0.1:\(ports.redis)/0" }
        // The operator's URL names every node; the same with this user's credentials.
        let nodes = operatorURL.split(separator: "@", maxSplits: 1).last.map(String.init) ?? ""
        return "redis://\(user):\(password)@\(nodes)"
    }

    /// The keys of the order sagas of every partition (`SagaStore`'s layout).
    var sagaPrefixes: [String] {
        partitions.count == 1 ? ["saga:{order}"] : partitions.tags.map { "saga:order:{\($0)}" }
    }

    /// The hash of order `id` (`OrderStore`'s layout).
    func orderKey(_ id: String) -> String {
        partitions.count == 1 ? "order:\(id)" : "order:{\(partitions.tags[partitions.partition(of: id)])}:\(id)"
    }

    static func run(_ arguments: [String], directory: String, ports: StackPorts, settings: [String: String]) async throws
        -> (exitCode: Int32, output: String)
    {
        var environment = ports.environment(directory: directory).merging(settings) { $1 }
        environment["STACK_REPOSITORY"] = StackTests.repository.path
        return try await ChildProcess.run(try ChildProcess.builtExecutable(named: "streams-stack"), arguments, environment: environment)
    }

    /// `streams-stack up` again: starts what is not running.
    func up() async throws {
        let result = try await Self.run(upArguments, directory: directory, ports: ports, settings: settings)
        guard result.exitCode == 0 else { throw StackTestError("stack up failed: \(result.output)") }
    }

    func down() async {
        operatorClient.close()
        _ = try? await Self.run(["down"], directory: directory, ports: ports, settings: settings)
        try? FileManager.default.removeItem(atPath: directory)
        if upArguments.contains("--cluster") { LocalClusterGate.shared.leave() }
    }

    /// The pid `up` recorded for `service`.
    func pid(of service: String) throws -> pid_t {
        let text = try String(contentsOfFile: directory + "/pids/\(service).pid", encoding: .utf8)
        guard let pid = text.split(separator: " ").first.flatMap({ pid_t($0) }) else { throw StackTestError("no pid for \(service)") }
        return pid
    }

    /// Sends `signal` to `service` and waits until it is gone.
    func stop(_ service: String, signal: Int32) async throws {
        let pid = try pid(of: service)
        kill(pid, signal)
        let gone = try await eventually(timeout: .seconds(30)) { kill(pid, 0) != 0 }
        guard gone else { throw StackTestError("\(service) (pid \(pid)) did not stop") }
    }

    func url(_ port: Int, _ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// A JSON request; the status and the decoded body.
    func json(_ method: String, _ url: String, _ body: [String: Any]? = nil) async throws -> (Int, [String: Any]) {
        let (status, value) = try await StackTests.json(method, url, body)
        return (status, value as? [String: Any] ?? [:])
    }

    /// Posts an order; its id.
    func order(user: String = "ann", items: [(String, Int)], amount: Int, card: String = "4242424242424242") async throws -> String {
        let (status, body) = try await json(
            "POST", url(ports.order, "/orders"),
            [
                "user_id": user, "items": items.map { ["sku": $0.0, "quantity": $0.1] as [String: Any] }, "amount_cents": amount,
                "card": card,
            ])
        guard status == 202, let id = body["id"] as? String else { throw StackTestError("POST /orders: \(status) \(body)") }
        return id
    }

    /// The saga's state field in Redis (`saga:{order}:<id>`), or nil.
    func sagaField(_ id: String, _ field: String) async throws -> String? {
        try await operatorClient.send("HGET", sagaKey(id), field).string
    }

    /// Waits until the saga is in `status`; false if it never gets there.
    func waitForSaga(_ id: String, _ status: String, timeout: Duration = .seconds(60)) async throws -> Bool {
        try await eventually(timeout: timeout) { try await self.sagaField(id, "status") == status }
    }

    func stock(_ sku: String) async throws -> (available: Int, reserved: Int, sold: Int) {
        let (_, body) = try await json("GET", url(ports.inventory, "/inventory/\(sku)"))
        return (body["available"] as? Int ?? -1, body["reserved"] as? Int ?? -1, body["sold"] as? Int ?? -1)
    }

    /// The stack's `STREAM_PARTITIONS`.
    var partitions: StreamPartitions {
        (try? StreamPartitions(count: Int(settings["STREAM_PARTITIONS"] ?? "1") ?? 1)) ?? .single
    }

    /// The state hash of order saga `id` (`SagaStore`'s layout).
    func sagaKey(_ id: String) -> String {
        partitions.count == 1 ? "saga:{order}:\(id)" : "saga:order:{\(partitions.tags[partitions.partition(of: id)])}:\(id)"
    }

    /// The partition stream of `stream` that events of `aggregate` go to.
    func streamKey(_ stream: String, for aggregate: String) -> String {
        partitions.streamKey(stream, partitionKey: aggregate)
    }

    /// Every entry of `stream` (of each partition, by entry id).
    func entries(_ stream: String) async throws -> [StreamEntry] {
        var entries: [StreamEntry] = []
        for key in partitions.streamKeys(stream) { entries += try await operatorClient.xrange(key) }
        return entries.sorted { $0.id < $1.id }
    }

    /// The length of `stream` (summed over its partitions).
    func length(_ stream: String) async throws -> Int {
        var length = 0
        for key in partitions.streamKeys(stream) { length += try await operatorClient.xlen(key) }
        return length
    }

    /// Unread plus pending entries of the coordinator's group on `stream` (each partition).
    func coordinatorBacklog(_ stream: String) async throws -> Int {
        var backlog = 0
        for key in partitions.streamKeys(stream) { backlog += try await coordinatorBacklog(partition: key) }
        return backlog
    }

    private func coordinatorBacklog(partition stream: String) async throws -> Int {
        for group in try await operatorClient.send("XINFO", "GROUPS", stream).array ?? [] {
            let fields = group.array ?? []
            var values: [String: RedisReply] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) { values[fields[index].string ?? ""] = fields[index + 1] }
            if values["name"]?.string == "saga-coordinator" { return (values["lag"]?.int ?? 1) + (values["pending"]?.int ?? 0) }
        }
        return 1
    }

    /// CPU time (user + system) of `pid` so far, in clock ticks.
    static func cpuTicks(_ pid: pid_t) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}

struct StackTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
