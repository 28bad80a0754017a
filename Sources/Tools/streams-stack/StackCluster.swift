import Foundation
import Logging
import LocalRedisServer
import RedisClient

/// The local stack's Redis Cluster (`streams-stack up --cluster`): three masters and three
/// replicas, each a detached redis-server (its pid recorded as `redis-node<i>`, like the plain
/// stack's `redis`) with deploy/redis/redis.conf (AOF persistence as there), `cluster-enabled
/// yes`, and in `.stack/cluster/node<i>/` its data, its `nodes.conf`, its port and its
/// configuration file (`redis.conf`, mode 600: it includes deploy/redis/redis.conf and adds the
/// port, the folders, the stack's ACL file, and the replicas' login to their masters).
///
/// The first start picks free loopback ports `P` with `P + 10000` (the cluster bus) free too,
/// joins the nodes with `redis-cli --cluster create --cluster-replicas 1` as the ACL user
/// `cluster-admin`, waits until the cluster is healthy (`ClusterHealth`, as `LocalRedisCluster`
/// waits) and marks it formed (`cluster/created`). Later starts reuse the ports (each node's
/// `nodes.conf` names the others by address) and wait until the nodes have rejoined. A start
/// that did not get as far as a formed cluster is begun again from nothing.
struct StackCluster {
    static let masters = 3
    static let replicasPerMaster = 1
    static let nodeCount = masters * (1 + replicasPerMaster)
    static var indices: ClosedRange<Int> { 1...nodeCount }
    /// The user that forms the cluster and that replicas log in to their masters as.
    static let adminUser = "cluster-admin"
    /// `STREAM_PARTITIONS` of a cluster stack unless given: two partitions per master.
    static let defaultPartitions = 6

    let layout: StackLayout

    var processes: StackProcesses { StackProcesses(layout: layout) }

    /// The pid and log name of node `index` (1...6).
    static func name(_ index: Int) -> String { "redis-node\(index)" }
    func folder(_ index: Int) -> URL { layout.cluster.appendingPathComponent("node\(index)") }
    private func portFile(_ index: Int) -> URL { folder(index).appendingPathComponent("port") }
    private func configurationFile(_ index: Int) -> URL { folder(index).appendingPathComponent("redis.conf") }
    /// Written once the cluster has been formed and found healthy.
    private var formedMarker: URL { layout.cluster.appendingPathComponent("created") }
    /// The `STREAM_PARTITIONS` the services were last started with.
    var partitionsFile: URL { layout.cluster.appendingPathComponent("partitions") }

    /// The nodes' ports, node 1 first (the masters at formation: nodes 1-3); nil before the first start.
    var ports: [Int]? {
        let ports = Self.indices.compactMap { index in
            (try? String(contentsOf: portFile(index), encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return ports.count == Self.nodeCount ? ports : nil
    }

    func port(of index: Int) -> Int? { ports?[index - 1] }

    /// `redis://user:password@127.0.0.1:P1,127.0.0.1:P2,...`: every node, for a cluster client
    /// (the services, streamsctl).
    func url(user: String, password: String) -> String {
        "redis://\(user):\(password)@" + (ports ?? []).map { "127.0.0.1:\($0)" }.joined(separator: ",")
    }

    /// One node's URL, for `redis-cli -c -u` (which takes one node and follows `MOVED`).
    func nodeURL(_ index: Int, user: String, password: String) -> String {
        "redis://\(user):\(password)@127.0.0.1:\(port(of: index) ?? 0)"
    }

    /// The partition count recorded by the last `up --cluster`, if any.
    var recordedPartitions: Int? {
        (try? String(contentsOf: partitionsFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    // MARK: Starting

    /// Starts the nodes that are not running and waits until the cluster is healthy; on the
    /// first start (or after one that failed) picks the ports and forms the cluster. Ports in
    /// `avoiding` (the services') are never chosen. Returns whether the cluster was formed now.
    func start(secrets: StackSecrets, avoiding: Set<Int>, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        try layout.renderACL(secrets)
        let formed = FileManager.default.fileExists(atPath: formedMarker.path)
        if !formed {
            // Nothing of an unfinished attempt is worth keeping (no service ever used it).
            for index in Self.indices where layout.runningPID(Self.name(index)) != nil {
                await processes.stop(Self.name(index), grace: .seconds(10))
            }
            if FileManager.default.fileExists(atPath: layout.cluster.path) { try FileManager.default.removeItem(at: layout.cluster) }
        }
        try FileManager.default.createDirectory(at: layout.cluster, withIntermediateDirectories: true)

        var ports: [Int]
        if formed {
            guard let recorded = self.ports else {
                throw StackError("\(layout.cluster.path) lacks a node's port file; remove the folder to form a new cluster (its data goes with it)")
            }
            ports = recorded
        } else {
            let reservations = PortReservations(excluding: avoiding)
            ports = try Self.indices.map { _ in try reservations.reserve() }
        }
        var waiting: [Int: ChildProcess] = [:]
        let listening = TCPPorts.listening()
        for index in Self.indices where layout.runningPID(Self.name(index)) == nil {
            let port = ports[index - 1]
            if formed, let taken = [port, port + 10_000].first(where: listening.contains) {
                throw StackError(
                    "port \(taken) of \(Self.name(index)) is in use by another process: a node keeps its ports (the others know it "
                        + "by them); stop that process, or remove \(layout.cluster.path) to form a new cluster (its data goes with it)")
            }
            waiting[index] = try launch(index, port: port, secrets: secrets)
        }
        // Each started node answers PING; a new node whose port another program took first is
        // moved to another one (only before the cluster is formed: later its port is its address).
        let retries = PortReservations(excluding: avoiding.union(ports).union(ports.map { $0 + 10_000 }))
        for (index, child) in waiting.sorted(by: { $0.key < $1.key }) {
            var child = child
            for attempt in 1... {
                let exited = try await waitForPing(index, port: ports[index - 1], child: child, secrets: secrets, deadline: deadline)
                guard exited else { break }
                let log = processes.tail(layout.logFile(Self.name(index)))
                guard !formed, attempt < 5, log.contains("Address already in use") else {
                    throw StackError("\(Self.name(index)) exited at start; its log (\(layout.logFile(Self.name(index)).path)):\n\(log)")
                }
                ports[index - 1] = try retries.reserve()
                child = try launch(index, port: ports[index - 1], secrets: secrets)
            }
        }
        let clients = Self.indices.map { client(port: ports[$0 - 1], user: Self.adminUser, password: secrets.password(of: Self.adminUser)) }
        defer { for client in clients { client.close() } }
        if !formed {
            try await LocalRedisCluster.runCreate(
                addresses: ports.map { "127.0.0.1:\($0)" }, replicasPerMaster: Self.replicasPerMaster,
                user: (Self.adminUser, secrets.password(of: Self.adminUser)))
        }
        var members: [ClusterHealth.Member] = []
        for index in Self.indices {
            let client = clients[index - 1]
            var id: String?
            while id == nil {
                id = try? await client.send("CLUSTER", "MYID").string
                if id == nil {
                    guard ContinuousClock.now < deadline else { throw StackError("\(Self.name(index)) does not answer CLUSTER MYID") }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            members.append(
                ClusterHealth.Member(id: id!, port: ports[index - 1], name: "\(Self.name(index)) (127.0.0.1:\(ports[index - 1]))") {
                    try await client.pipeline($0)
                })
        }
        var problem: String? = "not checked"
        while let current = await ClusterHealth.problem(members) {
            problem = current
            guard ContinuousClock.now < deadline else {
                throw StackError("the cluster is not healthy after \(timeout): \(problem!) (logs: \(layout.logs.path)/redis-node*.log)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if !formed { try "formed\n".write(to: formedMarker, atomically: true, encoding: .utf8) }
        return !formed
    }

    /// Writes node `index`'s configuration (mode 600) and port, starts it detached, records its pid.
    private func launch(_ index: Int, port: Int, secrets: StackSecrets) throws -> ChildProcess {
        try FileManager.default.createDirectory(at: folder(index), withIntermediateDirectories: true)
        try PrivateFile.write(configuration(index, port: port, secrets: secrets), to: configurationFile(index))
        try "\(port)\n".write(to: portFile(index), atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            executable: try StackProcesses.find("redis-server"), arguments: [configurationFile(index).path],
            outputPath: layout.logFile(Self.name(index)).path, newSession: true)
        try layout.record(Self.name(index), pid: child.pid, program: "redis-server")
        return child
    }

    /// A node's redis.conf: deploy/redis/redis.conf (persistence, memory policy), then what is
    /// this node's. Remade at each start (the repository or the secrets may have moved on).
    private func configuration(_ index: Int, port: Int, secrets: StackSecrets) -> String {
        func quoted(_ path: String) -> String {
            "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return """
            # Made by streams-stack up --cluster at each start of this node (mode 600: it holds a password).
            include \(quoted(layout.repository.appendingPathComponent("deploy/redis/redis.conf").path))
            port \(port)
            bind 127.0.0.1
            dir \(quoted(folder(index).path))
            aclfile \(quoted(layout.aclFile.path))
            logfile \(quoted(layout.logFile(Self.name(index)).path))
            daemonize no
            cluster-enabled yes
            cluster-config-file nodes.conf
            cluster-node-timeout 5000
            # A replica logs in to its master as cluster-admin (the default user is off).
            masteruser \(Self.adminUser)
            masterauth \(secrets.password(of: Self.adminUser))
            # A replica syncs at once rather than after the default 5 s wait for others.
            repl-diskless-sync-delay 0

            """
    }

    /// Waits until node `index` answers PING (as the healthcheck user); true if it exited instead.
    private func waitForPing(_ index: Int, port: Int, child: ChildProcess, secrets: StackSecrets, deadline: ContinuousClock.Instant)
        async throws -> Bool
    {
        let client = client(port: port, user: "healthcheck", password: secrets.password(of: "healthcheck"))
        defer { client.close() }
        while true {
            if child.poll() != nil { return true }
            // LOADING (while the AOF is read back) is an error reply: not yet.
            if (try? await client.ping()) == true { return false }
            guard ContinuousClock.now < deadline else {
                throw StackError("\(Self.name(index)) does not answer on port \(port); see \(layout.logFile(Self.name(index)).path)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A client of one node (no slot routing).
    func client(port: Int, user: String, password: String) -> RedisClient {
        var configuration = RedisConfiguration(
            endpoint: .tcp(host: "127.0.0.1", port: port), username: user, password: password, connectTimeout: .milliseconds(500),
            commandTimeout: .seconds(2))
        configuration.cluster = .never
        return RedisClient(configuration: configuration, logger: Logger(label: "stack", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    // MARK: Reading it

    /// One node as `status` shows it.
    struct NodeState {
        let index: Int
        let port: Int?
        let pid: pid_t?
        /// `master (slots 0-5460)`, `replica of redis-node2`, or why it is not known.
        let role: String
        let isMaster: Bool
    }

    /// `CLUSTER NODES` of the first node that answers, by node id, and the node index of each id.
    private func view(secrets: StackSecrets) async -> (entries: [String: ClusterNodesEntry], indexByID: [String: Int])? {
        guard let ports else { return nil }
        for index in Self.indices where layout.runningPID(Self.name(index)) != nil {
            let client = client(port: ports[index - 1], user: Self.adminUser, password: secrets.password(of: Self.adminUser))
            defer { client.close() }
            guard let text = try? await client.send("CLUSTER", "NODES").string else { continue }
            let entries = ClusterNodesEntry.parse(text)
            var indexByID: [String: Int] = [:]
            for entry in entries.values {
                if let port = entry.port, let position = ports.firstIndex(of: port) { indexByID[entry.id] = position + 1 }
            }
            return (entries, indexByID)
        }
        return nil
    }

    /// Every node with its pid, port and role (as the first node that answers sees the cluster).
    func nodes(secrets: StackSecrets) async -> [NodeState] {
        let view = await view(secrets: secrets)
        return Self.indices.map { index in
            let pid = layout.runningPID(Self.name(index))
            let port = port(of: index)
            guard let view, let entry = view.entries.values.first(where: { $0.port == port && port != nil }) else {
                return NodeState(index: index, port: port, pid: pid, role: pid == nil ? "stopped" : "not known to the cluster", isMaster: false)
            }
            var role: String
            if entry.isMaster {
                let slots = entry.slots.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                role = "master (slots \(slots.isEmpty ? "none" : slots.joined(separator: ",")))"
            } else if let master = entry.masterID {
                role = "replica of \(view.indexByID[master].map(Self.name) ?? String(master.prefix(8)))"
            } else {
                role = entry.flags.sorted().joined(separator: ",")
            }
            if entry.isFailing { role += ", failing" }
            return NodeState(index: index, port: port, pid: pid, role: role, isMaster: entry.isMaster && !entry.isFailing)
        }
    }

    /// What keeps the running cluster from being healthy, or nil.
    func healthProblem(secrets: StackSecrets) async -> String? {
        guard let ports else { return "the cluster has not been started" }
        let stopped = Self.indices.filter { layout.runningPID(Self.name($0)) == nil }
        if !stopped.isEmpty { return "\(stopped.map(Self.name).joined(separator: ", ")) not running" }
        let clients = ports.map { client(port: $0, user: Self.adminUser, password: secrets.password(of: Self.adminUser)) }
        defer { for client in clients { client.close() } }
        var members: [ClusterHealth.Member] = []
        for index in Self.indices {
            let client = clients[index - 1]
            guard let id = try? await client.send("CLUSTER", "MYID").string else { return "\(Self.name(index)) does not answer" }
            members.append(ClusterHealth.Member(id: id, port: ports[index - 1], name: Self.name(index)) { try await client.pipeline($0) })
        }
        return await ClusterHealth.problem(members)
    }
}
