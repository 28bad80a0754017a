import Foundation
import RedisClient
import Synchronization

/// A private Redis Cluster of `redis-server` child processes on loopback ports, for tests, the
/// demo and benchmarks.
///
/// `start` launches `masters × (1 + replicasPerMaster)` servers (each a `LocalRedisServer` with
/// `--cluster-enabled yes`, its own folder and `nodes.conf`), joins them with
/// `redis-cli --cluster create`, and returns once the cluster is healthy (`waitUntilHealthy`).
///
/// The order of `nodes` is fixed at start:
/// - `nodes[0..<masters]` are the first masters, in slot order: with `m` masters, master `i`
///   serves the `i`-th of `m` equal ranges of 0...16383 (with 3: 0-5460, 5461-10922,
///   10923-16383), as `redis-cli --cluster create` assigns them to the masters in the order given.
/// - `nodes[masters + i * replicasPerMaster + j]` is the `j`-th replica of master `i`
///   (redis-cli pairs replicas with masters at random when every node is on one host;
///   `start` moves them with `CLUSTER REPLICATE` until they are paired this way).
///
/// Roles change after a failover: `masters()`, `replicas(of:)`, `role(of:)` and
/// `slotRanges(of:)` read them live from `CLUSTER NODES`. Commands for one node go through a
/// `RedisClient` on the node's `url` (unix socket) or `tcpURL`; there is no slot routing here.
public final class LocalRedisCluster: Sendable {
    /// One server of the cluster. Identified by its cluster node id, which survives restarts
    /// (it is kept in the node's `nodes.conf`); its port and folder never change either.
    public struct Node: Sendable, Hashable, CustomStringConvertible {
        /// Its place in `LocalRedisCluster.nodes` (see there for the order).
        public let index: Int
        /// The cluster node id (`CLUSTER MYID`, 40 hex digits).
        public let id: String
        /// The client port on 127.0.0.1; the cluster bus listens on `port + 10000`.
        public let port: Int
        /// The process (`pid`, `directory` with `redis.log` and `nodes.conf`, `socketPath`).
        public let server: LocalRedisServer

        /// The cluster bus port (`port + 10000`).
        public var busPort: Int { port + 10_000 }
        /// `127.0.0.1:<port>`, as `CLUSTER NODES` and `MOVED` replies name the node.
        public var address: String { "127.0.0.1:\(port)" }
        /// `redis://127.0.0.1:<port>`
        public var tcpURL: String { "redis://127.0.0.1:\(port)" }
        /// `unix:///.../redis.sock`, for tools and tests talking to this node only.
        public var url: String { server.url }
        public var socketPath: String { server.socketPath }
        /// Whether the process is running (it was not stopped or killed through the cluster).
        public var isRunning: Bool { server.pid != nil }

        public var description: String { "node \(index) (\(address), \(id.prefix(8)))" }
        public static func == (lhs: Node, rhs: Node) -> Bool { lhs.id == rhs.id }
        public func hash(into hasher: inout Hasher) { hasher.combine(id) }
    }

    /// What a node is now, as the cluster sees it.
    public enum Role: Sendable, Hashable, CustomStringConvertible {
        case master
        case replica(of: Node)

        public var description: String {
            switch self {
            case .master: "master"
            case .replica(let master): "replica of \(master)"
            }
        }
    }

    /// A replica that took over the slots of a killed master (`waitForPromotion`).
    public struct Promotion: Sendable {
        /// The former replica, now master of `slots`.
        public let replica: Node
        /// The killed master's slots, now served by `replica`.
        public let slots: [ClosedRange<Int>]
        /// From the SIGKILL until the cluster was healthy again with `replica` serving `slots`.
        public let elapsed: Duration
    }

    /// Every node, masters first (see the type's documentation for the order).
    public let nodes: [Node]
    /// The folder holding one folder per node; removed by `withLocalRedisCluster` and `deinit`.
    public let directory: URL
    /// How many masters and replicas per master the cluster was started with.
    public let initialMasterCount: Int
    public let replicasPerMaster: Int

    /// A multi-seed URL naming every node, masters first:
    /// `redis://127.0.0.1:P1,127.0.0.1:P2,...` (a cluster client needs any one of them to answer).
    public var url: String { "redis://" + nodes.map(\.address).joined(separator: ",") }
    /// `redis://127.0.0.1:<port>` of every node, in `nodes` order.
    public var tcpURLs: [String] { nodes.map(\.tcpURL) }

    private init(nodes: [Node], directory: URL, masters: Int, replicasPerMaster: Int) {
        self.nodes = nodes
        self.directory = directory
        self.initialMasterCount = masters
        self.replicasPerMaster = replicasPerMaster
    }

    deinit {
        // Each server's own deinit waits for its exit once the nodes are released.
        for node in nodes { node.server.signalStop() }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Starting

    /// Starts a cluster and waits until it is healthy: every node reports `cluster_state:ok`
    /// with all 16384 slots assigned, all nodes agree on who serves which slot, and every replica
    /// is a connected (`state=online`) replica of the master given by the order of `nodes`.
    /// - Parameters:
    ///   - masters: at least 3 (`redis-cli --cluster create` refuses fewer).
    ///   - replicasPerMaster: replicas of each master.
    ///   - persistence: the append-only file on every node (as `LocalRedisServer`).
    ///   - extraArguments: more `redis-server` options for every node (they come last, so they
    ///     may override the cluster's own, e.g. `--repl-diskless-sync-delay`).
    ///   - nodeTimeout: `cluster-node-timeout`: how long a node may be unreachable before it is
    ///     flagged failing (a killed master's replica is promoted a little after that).
    ///   - timeout: how long starting may take in all.
    /// On failure every process started is stopped and the folders are removed.
    public static func start(
        masters: Int = 3, replicasPerMaster: Int = 1, persistence: Bool = false, extraArguments: [String] = [],
        nodeTimeout: Duration = .milliseconds(1000), timeout: Duration = .seconds(60)
    ) async throws -> LocalRedisCluster {
        guard masters >= 3 else { throw LocalRedisServerError("a Redis Cluster needs at least 3 masters, not \(masters)") }
        guard replicasPerMaster >= 0 else { throw LocalRedisServerError("replicasPerMaster must not be negative") }
        let deadline = ContinuousClock.now + timeout
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "redis-cluster-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let count = masters * (1 + replicasPerMaster)
        let timeoutMilliseconds = max(1, Int(nodeTimeout.components.seconds) * 1000 + Int(nodeTimeout.components.attoseconds / 1_000_000_000_000_000))
        let ports = PortReservations()
        let nodes: [Node]
        do {
            let servers = try await withThrowingTaskGroup(of: (Int, LocalRedisServer).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let server = try await launchNode(
                            index: index, in: directory, ports: ports, persistence: persistence,
                            arguments: ["--cluster-node-timeout", "\(timeoutMilliseconds)",
                                        // Replicas sync at once rather than after the default 5 s wait for others.
                                        "--repl-diskless-sync-delay", "0"] + extraArguments)
                        return (index, server)
                    }
                }
                var servers = [LocalRedisServer?](repeating: nil, count: count)
                for try await (index, server) in group { servers[index] = server }
                return servers.map { $0! }
            }
            var launched: [Node] = []
            for (index, server) in servers.enumerated() {
                guard let id = try await command(server.socketPath, "CLUSTER", "MYID").string else {
                    throw LocalRedisServerError("CLUSTER MYID gave no id on node \(index)")
                }
                launched.append(Node(index: index, id: id, port: server.port!, server: server))
            }
            nodes = launched
        } catch {
            // The servers launched so far stop when released (LocalRedisServer's deinit).
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let cluster = LocalRedisCluster(nodes: nodes, directory: directory, masters: masters, replicasPerMaster: replicasPerMaster)
        do {
            try await cluster.create(deadline: deadline)
            return cluster
        } catch {
            await cluster.shutDown()
            throw error
        }
    }

    /// One node on a free port `P` whose bus port `P + 10000` is free too, retried on
    /// another port when either is taken before redis-server binds it.
    private static func launchNode(
        index: Int, in directory: URL, ports: PortReservations, persistence: Bool, arguments: [String]
    ) async throws -> LocalRedisServer {
        for attempt in 1... {
            let port = try ports.reserve()
            let name = "node\(index)-\(port)"
            let configFile = directory.appendingPathComponent(name).appendingPathComponent("nodes.conf").path
            let server = try LocalRedisServer(
                port: port, persistence: persistence,
                extraArguments: ["--cluster-enabled", "yes", "--cluster-config-file", configFile] + arguments,
                parent: directory, name: name)
            do {
                try await server.launch()
                return server
            } catch let error as LocalRedisServerError where attempt < 5 && error.description.contains("Address already in use") {
                try? FileManager.default.removeItem(at: server.directory)
                continue
            }
        }
        fatalError("unreachable")
    }

    /// `redis-cli --cluster create`, replicas moved to the masters `nodes`' order gives them, then
    /// waits until healthy.
    private func create(deadline: ContinuousClock.Instant) async throws {
        try await Self.runCreate(addresses: nodes.map(\.address), replicasPerMaster: replicasPerMaster)
        var expected: [String: String] = [:]  // replica id -> master id
        for index in initialMasterCount..<nodes.count {
            expected[nodes[index].id] = nodes[(index - initialMasterCount) / max(1, replicasPerMaster)].id
        }
        // Move the replicas redis-cli paired otherwise (it may not know every node at once: retry).
        var lastProblem = ""
        while true {
            var moved = true
            for (replicaID, masterID) in expected {
                let replica = nodes.first { $0.id == replicaID }!
                do {
                    let view = try await clusterNodes(of: replica)
                    if view[replica.id]?.masterID != masterID {
                        try await Self.command(replica.socketPath, "CLUSTER", "REPLICATE", masterID)
                    }
                } catch {
                    moved = false
                    lastProblem = "CLUSTER REPLICATE on \(replica): \(error)"
                }
            }
            if moved { break }
            guard ContinuousClock.now < deadline else { throw LocalRedisServerError("cluster not formed: \(lastProblem)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await waitUntilHealthy(until: deadline, expectedMasters: expected)
    }

    /// `redis-cli --cluster create <addresses> --cluster-replicas <n> --cluster-yes`: the first
    /// `addresses.count / (1 + replicasPerMaster)` become masters, in slot order; throws unless
    /// redis-cli reports every slot covered. With `user`, redis-cli logs in as that ACL user on
    /// every node (`--user`, the password in `REDISCLI_AUTH`: not on a command line).
    public static func runCreate(
        addresses: [String], replicasPerMaster: Int, user: (name: String, password: String)? = nil
    ) async throws {
        let cli = try LocalRedisServer.findExecutable(named: "redis-cli")
        var arguments = ["--cluster", "create"] + addresses + ["--cluster-replicas", "\(replicasPerMaster)", "--cluster-yes"]
        var environment: [String: String]?
        if let user {
            arguments = ["--user", user.name] + arguments
            environment = ProcessInfo.processInfo.environment.merging(["REDISCLI_AUTH": user.password]) { $1 }
        }
        let (code, output) = try await ChildProcess.run(cli, arguments, environment: environment)
        guard code == 0, output.contains("All 16384 slots covered") else {
            throw LocalRedisServerError("redis-cli --cluster create failed (exit code \(code)): \(plain(output).suffix(1500))")
        }
    }

    // MARK: Reading the cluster's state

    /// The masters serving slots now, ordered by their first slot: nodes flagged `master`,
    /// not flagged failing (`fail`, `fail?`), with at least one slot, in the `CLUSTER NODES`
    /// view of the first running node (in `nodes` order) that answers.
    public func masters() async throws -> [Node] {
        let view = try await liveView()
        return view.values
            .filter { $0.isMaster && !$0.isFailing && !$0.slots.isEmpty }
            .sorted { $0.slots[0].lowerBound < $1.slots[0].lowerBound }
            .compactMap { node(id: $0.id) }
    }

    /// The replicas of `master` now (flagged `slave` with `master` as their master and not
    /// confirmed failed), in `nodes` order, as the first running node that answers sees them.
    public func replicas(of master: Node) async throws -> [Node] {
        let view = try await liveView()
        return view.values
            .filter { $0.isReplica && $0.masterID == master.id && !$0.flags.contains("fail") }
            .compactMap { node(id: $0.id) }
            .sorted { $0.index < $1.index }
    }

    /// The slots `master` serves now (ranges as `CLUSTER NODES` lists them, in order; empty for
    /// a replica), as the first running node that answers sees it.
    public func slotRanges(of master: Node) async throws -> [ClosedRange<Int>] {
        let view = try await liveView()
        return (view[master.id]?.slots ?? []).sorted { $0.lowerBound < $1.lowerBound }
    }

    /// The master serving `slot` now (as the first running node that answers sees it).
    public func owner(ofSlot slot: Int) async throws -> Node {
        let view = try await liveView()
        guard let entry = view.values.first(where: { $0.isMaster && $0.slots.contains { $0.contains(slot) } }),
            let owner = node(id: entry.id)
        else { throw LocalRedisServerError("no master serves slot \(slot)") }
        return owner
    }

    /// The node's role in its own `CLUSTER NODES` line when it runs, else as the first running
    /// node that answers sees it.
    public func role(of node: Node) async throws -> Role {
        let view = node.isRunning ? try await clusterNodes(of: node) : try await liveView()
        guard let entry = view[node.id] else { throw LocalRedisServerError("\(node) is not in the cluster's view") }
        if entry.isReplica, let masterID = entry.masterID, let master = self.node(id: masterID) {
            return .replica(of: master)
        }
        return .master
    }

    // MARK: Faults

    /// Kills the node's process with SIGKILL (a crash) and reaps it.
    public func kill(_ node: Node) async { await node.server.kill() }

    /// Stops the node's process with SIGTERM and waits for it to exit. Redis 7.0 hands nothing
    /// over on shutdown: a stopped master's replica is promoted after `nodeTimeout`, as after a kill.
    public func stop(_ node: Node) async { await node.server.stop() }

    /// Starts a stopped or killed node again (stopping it first if it runs) on the same port with
    /// the same `nodes.conf`, and waits until it has rejoined: it reports `cluster_state:ok`, it and
    /// every other running node see each other connected and not failing, and, if it came back
    /// as a replica (a master whose slots were taken over does), its replication link is up.
    /// Without `persistence` a node comes back empty (a replica then copies its master).
    public func restart(_ node: Node, timeout: Duration = .seconds(30)) async throws {
        try await node.server.restart()
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let problem = await rejoinProblem(node) else { return }
            guard ContinuousClock.now < deadline else { throw LocalRedisServerError("\(node) did not rejoin within \(timeout): \(problem)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until the cluster is healthy, as seen by every running node: each reports
    /// `cluster_state:ok` with 16384 slots assigned and ok; each sees every other running node
    /// connected and not failing; all agree which master serves which slot and which master each
    /// replica follows; every slot is served by a running master; and every running replica's
    /// replication link is up (its master lists it `state=online`). Stopped or killed nodes are
    /// left out, so a cluster whose killed master had no replica never becomes healthy.
    public func waitUntilHealthy(timeout: Duration = .seconds(30)) async throws {
        try await waitUntilHealthy(until: .now + timeout)
    }

    /// Makes `replica` master with `CLUSTER FAILOVER` (the coordinated manual failover: its
    /// master stops taking writes until the replica has caught up, so nothing acknowledged is
    /// lost) and waits until it is master and the cluster is healthy; its old master becomes its
    /// replica. Waits for the replica's link to be up before asking, and asks again when a manual
    /// failover timed out (after 5 s, e.g. while the link was still syncing). Returns how long it took.
    @discardableResult
    public func failover(_ replica: Node, timeout: Duration = .seconds(30)) async throws -> Duration {
        let start = ContinuousClock.now
        let deadline = start + timeout
        guard case .replica = try await role(of: replica) else { throw LocalRedisServerError("\(replica) is not a replica") }
        var asked: ContinuousClock.Instant?
        var problem = ""
        while true {
            do {
                let info = Self.fields(try await Self.command(replica.socketPath, "INFO", "replication").string ?? "")
                if info["role"] == "master" {
                    if let unhealthy = await healthProblem() { problem = unhealthy } else { return .now - start }
                } else if info["master_link_status"] != "up" {
                    problem = "\(replica)'s replication link is \(info["master_link_status"] ?? "?")"
                } else if asked == nil || .now - asked! > .seconds(6) {
                    asked = .now
                    try await Self.command(replica.socketPath, "CLUSTER", "FAILOVER")
                    problem = "CLUSTER FAILOVER sent to \(replica), not master yet"
                }
            } catch {
                problem = "\(replica): \(error)"
            }
            guard ContinuousClock.now < deadline else { throw LocalRedisServerError("failover to \(replica) not done within \(timeout): \(problem)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Kills `master` with SIGKILL and waits until one of its replicas has been promoted (by the
    /// cluster itself, after `nodeTimeout`) to serve its slots and the cluster is healthy again
    /// (`waitUntilHealthy`'s conditions). Throws at once if `master` serves no slots or has no
    /// replica, and if no promotion happens within `timeout`. Call it instead of `kill(_:)`: for
    /// a master killed before, `elapsed` counts from this call (and its slots must not have
    /// moved yet).
    public func waitForPromotion(afterKilling master: Node, timeout: Duration = .seconds(30)) async throws -> Promotion {
        let slots = try await slotRanges(of: master)
        let candidates = try await replicas(of: master)
        guard !slots.isEmpty else { throw LocalRedisServerError("\(master) serves no slots") }
        guard !candidates.isEmpty else { throw LocalRedisServerError("\(master) has no replica to promote") }
        await kill(master)
        let start = ContinuousClock.now
        let deadline = start + timeout
        var problem = ""
        while true {
            if let unhealthy = await healthProblem() {
                problem = unhealthy
            } else if let view = try? await liveView(),
                let promoted = candidates.first(where: { view[$0.id].map { $0.isMaster && Set($0.slots) == Set(slots) } ?? false })
            {
                return Promotion(replica: promoted, slots: slots, elapsed: .now - start)
            } else {
                problem = "healthy, but no replica of \(master) serves its slots"
            }
            guard ContinuousClock.now < deadline else {
                throw LocalRedisServerError("no replica of \(master) promoted within \(timeout): \(problem)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: Stopping

    /// Stops every node (SIGTERM) and waits for the processes to exit. The folders stay (with
    /// each node's `redis.log`) until the cluster is released; `withLocalRedisCluster` removes them.
    public func stopAll() async {
        for node in nodes { node.server.signalStop() }
        for node in nodes { await node.server.stop() }
    }

    /// Stops every node and removes the folders.
    func shutDown() async {
        await stopAll()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Health

    private func waitUntilHealthy(until deadline: ContinuousClock.Instant, expectedMasters: [String: String] = [:]) async throws {
        while true {
            guard let problem = await healthProblem(expectedMasters: expectedMasters) else { return }
            guard ContinuousClock.now < deadline else { throw LocalRedisServerError("cluster not healthy in time: \(problem)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What keeps the cluster from being healthy (see `waitUntilHealthy`), or nil.
    /// `expectedMasters` (replica id -> master id) must hold too.
    private func healthProblem(expectedMasters: [String: String] = [:]) async -> String? {
        let running = nodes.filter(\.isRunning)
        guard !running.isEmpty else { return "no node runs" }
        let members = running.map { node in
            ClusterHealth.Member(id: node.id, port: node.port, name: node.description) { commands in
                try await Self.pipeline(node.socketPath, commands)
            }
        }
        return await ClusterHealth.problem(members, expectedMasters: expectedMasters)
    }

    /// What keeps a restarted `node` from having rejoined (see `restart`), or nil.
    private func rejoinProblem(_ node: Node) async -> String? {
        let running = nodes.filter(\.isRunning)
        do {
            let info = Self.fields(try await Self.command(node.socketPath, "CLUSTER", "INFO").string ?? "")
            if info["cluster_state"] != "ok" { return "\(node) reports cluster_state:\(info["cluster_state"] ?? "?")" }
            let own = try await clusterNodes(of: node)
            for other in running where other != node {
                guard let entry = own[other.id], !entry.isFailing, entry.connected else { return "\(node) does not see \(other) connected" }
                guard let back = try await clusterNodes(of: other)[node.id], !back.isFailing, back.connected else {
                    return "\(other) does not see \(node) connected"
                }
            }
            let replication = Self.fields(try await Self.command(node.socketPath, "INFO", "replication").string ?? "")
            if replication["role"] == "slave" && replication["master_link_status"] != "up" {
                return "\(node)'s replication link is \(replication["master_link_status"] ?? "?")"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: Helpers

    private func node(id: String) -> Node? { nodes.first { $0.id == id } }

    /// `CLUSTER NODES` of the first running node that answers, by node id.
    private func liveView() async throws -> [String: ClusterNodesEntry] {
        var lastError: (any Error)?
        for node in nodes where node.isRunning {
            do { return try await clusterNodes(of: node) } catch { lastError = error }
        }
        throw LocalRedisServerError("no node of the cluster answers CLUSTER NODES: \(lastError.map { "\($0)" } ?? "none runs")")
    }

    private func clusterNodes(of node: Node) async throws -> [String: ClusterNodesEntry] {
        ClusterNodesEntry.parse(try await Self.command(node.socketPath, "CLUSTER", "NODES").string ?? "")
    }

    /// One command on a short-lived client of the unix socket at `socketPath`.
    @discardableResult
    private static func command(_ socketPath: String, _ name: String, _ arguments: String...) async throws -> RedisReply {
        try await pipeline(socketPath, [RedisCommand(name, arguments: arguments)])[0].throwingError()
    }

    private static func pipeline(_ socketPath: String, _ commands: [RedisCommand]) async throws -> [RedisReply] {
        let client = RedisClient(
            configuration: RedisConfiguration(
                endpoint: .unixSocket(path: socketPath), connectTimeout: .milliseconds(500), commandTimeout: .seconds(2)))
        defer { client.close() }
        return try await client.pipeline(commands)
    }

    /// The `key:value` lines of `INFO` or `CLUSTER INFO`.
    public static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    /// `text` without the ANSI colours redis-cli prints.
    static func plain(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
    }
}

/// One line of `CLUSTER NODES`:
/// `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...`
public struct ClusterNodesEntry: Sendable {
    public let id: String
    public let port: Int?
    public let flags: Set<String>
    /// The master's id, for a replica.
    public let masterID: String?
    public let connected: Bool
    /// Slots served, as listed (`[slot->-id]` migrating and importing entries are left out).
    public let slots: [ClosedRange<Int>]

    public var isMaster: Bool { flags.contains("master") }
    public var isReplica: Bool { flags.contains("slave") }
    public var isFailing: Bool { flags.contains("fail") || flags.contains("fail?") }

    public init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count >= 8 else { return nil }
        id = String(fields[0])
        let address = fields[1].prefix { $0 != "@" && $0 != "," }
        port = address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) }
        flags = Set(fields[2].split(separator: ",").map(String.init))
        masterID = fields[3] == "-" ? nil : String(fields[3])
        connected = fields[7] == "connected"
        slots = fields.dropFirst(8).compactMap { field -> ClosedRange<Int>? in
            if field.hasPrefix("[") { return nil }
            let bounds = field.split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: return bounds[0]...bounds[0]
            case 2: return bounds[0]...bounds[1]
            default: return nil
            }
        }
    }

    /// The entries of a `CLUSTER NODES` reply by node id (nodes still in handshake left out).
    public static func parse(_ text: String) -> [String: ClusterNodesEntry] {
        var entries: [String: ClusterNodesEntry] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let entry = ClusterNodesEntry(line: line), !entry.flags.contains("handshake") else { continue }
            entries[entry.id] = entry
        }
        return entries
    }
}

/// The ports the nodes of one cluster start on: `P` and `P + 10000` both free and used by no
/// other node of it. `P` is below `ephemeral start - 10000` (so 10000..<22768 by default): both
/// ports stay below the kernel's ephemeral range, from which outgoing connections take ports.
public final class PortReservations: Sendable {
    private let taken: Mutex<Set<Int>>

    /// `excluding`: ports neither `P` nor `P + 10000` may be (e.g. ports other programs will bind).
    public init(excluding: Set<Int> = []) {
        taken = Mutex(excluding)
    }

    public func reserve() throws -> Int {
        let used = TCPPorts.inUse()
        let upper = max(15_000, min(55_535, Self.ephemeralRangeStart() - 10_000))
        var generator = SystemRandomNumberGenerator()
        return try taken.withLock { taken throws(LocalRedisServerError) -> Int in
            for _ in 0..<1000 {
                let port = Int.random(in: 10_000..<upper, using: &generator)
                let bus = port + 10_000
                if used.contains(port) || used.contains(bus) || taken.contains(port) || taken.contains(bus) { continue }
                taken.insert(port)
                taken.insert(bus)
                return port
            }
            throw LocalRedisServerError("cannot find a free port pair P, P+10000: \(used.count) ports in use")
        }
    }

    /// The first port of the kernel's ephemeral range (32768 when it cannot be read).
    static func ephemeralRangeStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
            let first = text.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) })
        else { return 32_768 }
        return first
    }
}

/// Runs `body` with a fresh cluster (`LocalRedisCluster.start`), then stops every node and
/// removes the folders, also when `body` throws.
public func withLocalRedisCluster<Result>(
    masters: Int = 3, replicasPerMaster: Int = 1, persistence: Bool = false, extraArguments: [String] = [],
    nodeTimeout: Duration = .milliseconds(1000),
    _ body: (LocalRedisCluster) async throws -> Result
) async throws -> Result {
    // One cluster at a time in a process: six redis-servers each, and test suites run in
    // parallel on two cores (several at once starved the rest of a full run).
    await LocalClusterGate.shared.enter()
    defer { LocalClusterGate.shared.leave() }
    let cluster = try await LocalRedisCluster.start(
        masters: masters, replicasPerMaster: replicasPerMaster, persistence: persistence,
        extraArguments: extraArguments, nodeTimeout: nodeTimeout)
    do {
        let result = try await body(cluster)
        await cluster.shutDown()
        return result
    } catch {
        await cluster.shutDown()
        throw error
    }
}

/// Lets one `withLocalRedisCluster` body run at a time in this process; the others wait
/// (in order of arrival) without blocking a thread. Tests that start a cluster some other way
/// (a stack with `up --cluster`) take it too: `enter()` before, `leave()` once it is stopped.
public final class LocalClusterGate: Sendable {
    public static let shared = LocalClusterGate()
    private let state = Mutex<(busy: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    public func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enterNow = state.withLock { state -> Bool in
                if !state.busy {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if enterNow { continuation.resume() }
        }
    }

    public func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
