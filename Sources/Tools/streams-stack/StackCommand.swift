import ArgumentParser
import Foundation
import LocalRedisServer

/// Runs the stack of docker-compose.yml without Docker: a private redis-server (same ACL
/// file and persistence settings) and every service as a local process, each with the
/// command and environment compose gives it.
@main
struct StackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams-stack",
        abstract: "Run the stack of docker-compose.yml as local processes (scripts/stack.sh).",
        subcommands: [
            Up.self, Down.self, Status.self, Logs.self, RedisURL.self, Secrets.self, Products.self, Services.self, DemoFlow.self,
        ])
}

/// The services of the compose file with their local environment.
struct LocalStack {
    let layout = StackLayout()
    let processes: StackProcesses
    let compose: ComposeFile
    /// This installation's Redis passwords (`.stack/secrets.env`, made on first use).
    let secrets: StackSecrets
    /// `REDIS_URL` given to the stack tool: use that Redis instead of a private one.
    let externalRedis: String?
    /// The local Redis Cluster, for a stack started with `up --cluster` (nil: one redis-server).
    let cluster: StackCluster?

    /// `cluster`: whether the stack runs on the local cluster; nil: as the stack in `.stack` was
    /// started (its marker).
    init(cluster: Bool? = nil) throws {
        processes = StackProcesses(layout: layout)
        secrets = try layout.secrets()
        // The compose file takes the secrets from the environment (`${...:?...}`): ours win over
        // any the shell has, so the private Redis and its users always agree.
        compose = try ComposeFile(
            path: layout.composeFile, environment: ProcessInfo.processInfo.environment.merging(secrets.values) { $1 })
        let given = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""
        externalRedis = given.isEmpty ? nil : given
        self.cluster = (cluster ?? layout.isClusterStack) ? StackCluster(layout: layout) : nil
    }

    /// The URL of `user` on the stack's Redis: the private redis-server, or every node of the
    /// cluster (`redis://user:password@127.0.0.1:P1,...`, for the services and streamsctl).
    func redisURL(user: String) -> String {
        if let cluster { return cluster.url(user: user, password: secrets.password(of: user)) }
        return processes.redisURL(user: user, password: secrets.password(of: user))
    }

    /// The URL an operator gives `streamsctl --redis-url` or `redis-cli -u`: the operator user on
    /// the private Redis (every node of the cluster), or the `REDIS_URL` the stack was given.
    var operatorURL: String {
        externalRedis ?? redisURL(user: "operator")
    }

    /// Services with a command in the default profile (everything but the redis-servers and the
    /// services of a compose profile, such as `cluster`'s copies: the local stack runs the
    /// default services, on the cluster with `--cluster`).
    var services: [ComposeFile.Service] {
        compose.services.filter { !$0.command.isEmpty && $0.command.first != "redis-server" && $0.profiles.isEmpty }
    }

    /// The services' `STREAM_PARTITIONS`: as compose gives it (`${STREAM_PARTITIONS:-1}`) for one
    /// redis-server; on the cluster the environment's `STREAM_PARTITIONS` when set, else the count
    /// the cluster's services were last started with, else 6 (two partitions per master).
    var partitions: Int {
        let given = ProcessInfo.processInfo.environment["STREAM_PARTITIONS"] ?? ""
        if let cluster {
            if !given.isEmpty { return Int(given) ?? 0 }
            return cluster.recordedPartitions ?? StackCluster.defaultPartitions
        }
        return services.lazy.compactMap { Int($0.environment["STREAM_PARTITIONS"] ?? "") }.first ?? (Int(given) ?? 1)
    }

    /// The service's environment from compose, with `redis:6379` pointing at the local Redis (or
    /// every node of the local cluster, with `STREAM_PARTITIONS` as `partitions` says),
    /// and without compose's own Jaeger as the trace endpoint (no Jaeger runs locally: the
    /// services trace only when `OTEL_EXPORTER_OTLP_ENDPOINT` names another collector).
    func environment(of service: ComposeFile.Service) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG", "TZ"].contains($0.key) }
        for (key, value) in service.environment { environment[key] = value }
        if let externalRedis {
            environment["REDIS_URL"] = externalRedis
        } else if var url = URLComponents(string: service.environment["REDIS_URL"] ?? ""), url.host == "redis" {
            if let cluster {
                // The service's own user and password, on every node.
                environment["REDIS_URL"] = cluster.url(user: url.user ?? "", password: url.password ?? "")
                environment["STREAM_PARTITIONS"] = "\(partitions)"
            } else {
                url.host = "127.0.0.1"
                url.port = processes.redisPort
                environment["REDIS_URL"] = url.string
            }
        }
        // Another service's URL (http://saga-coordinator:8087): the same port on this machine.
        let serviceNames = Set(compose.services.map(\.name))
        for (key, value) in environment where key != "REDIS_URL" && key != "OTEL_EXPORTER_OTLP_ENDPOINT" {
            if var url = URLComponents(string: value), let host = url.host, serviceNames.contains(host), host != "redis" {
                url.host = "127.0.0.1"
                environment[key] = url.string
            }
        }
        if let endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], URLComponents(string: endpoint)?.host == "jaeger" {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = nil
        }
        return environment
    }

    func port(of service: ComposeFile.Service) -> Int? { Int(service.environment["HTTP_PORT"] ?? "") }

    func isReady(_ service: ComposeFile.Service) async -> Bool {
        guard let port = port(of: service) else { return true }
        return (try? await HTTP.request("GET", "http://127.0.0.1:\(port)/ready", timeout: 2))?.status == 200
    }
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start Redis and every service in the background; return once all are ready.",
        discussion: """
            With --cluster: a local Redis Cluster instead of one redis-server (3 masters, 3 replicas on free \
            loopback ports, data in .stack/cluster/), and the services with STREAM_PARTITIONS=6 (or the \
            environment's) and a REDIS_URL naming every node. The stack remembers it: status, down, logs and \
            flow need no flag, and up refuses to start the other kind over a running stack.
            """)

    @Option(help: "Seconds to wait for every service to be ready.") var timeout: Int = 120
    @Flag(help: "Run on a local Redis Cluster (3 masters, 3 replicas) with partitioned streams.") var cluster = false

    func run() async throws {
        let layout = StackLayout()
        try layout.create()
        if layout.isClusterStack && !cluster {
            throw StackError(
                "the stack in \(layout.root.path) was started with --cluster: run 'scripts/stack.sh up --cluster', "
                    + "or 'scripts/stack.sh down' first to start it on one redis-server")
        }
        let running = layout.runningNames()
        if cluster && !layout.isClusterStack && !running.isEmpty {
            throw StackError(
                "a stack started without --cluster is running in \(layout.root.path) (\(running.joined(separator: ", "))): "
                    + "stop it with 'scripts/stack.sh down' first, or run 'scripts/stack.sh up' without --cluster")
        }
        let stack = try LocalStack(cluster: cluster)
        if cluster, stack.externalRedis != nil {
            throw StackError("--cluster starts a local cluster: unset REDIS_URL (or run without --cluster to use that Redis)")
        }
        // Pid files of the other kind's processes that are gone (a stack killed rather than stopped).
        for name in layout.recordedNames() where StackLayout.isRedis(name) && layout.runningPID(name) == nil {
            if cluster == (name == "redis") { try? FileManager.default.removeItem(at: layout.pidFile(name)) }
        }
        if let local = stack.cluster {
            try await startCluster(local, stack: stack)
        } else if stack.externalRedis == nil {
            try await stack.processes.startRedis(secrets: stack.secrets)
            print("redis-server   pid \(stack.layout.runningPID("redis") ?? 0)  port \(stack.processes.redisPort)  data \(stack.layout.redisData.path)")
        } else {
            print("Redis: using REDIS_URL")
        }
        // The children this run started: whether one has exited is known for sure from its
        // wait status (a pid file's /proc check can miss a process that is still in exec).
        var children: [String: ChildProcess] = [:]
        for service in stack.services where stack.layout.runningPID(service.name) == nil {
            if let port = stack.port(of: service), StackProcesses.isListening(port: port) {
                throw StackError(
                    "port \(port) (\(service.name)) is already in use by another process; stop it first (is another stack running?)")
            }
            children[service.name] = try stack.processes.start(service, environment: stack.environment(of: service))
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        var waiting = stack.services
        while !waiting.isEmpty {
            for service in waiting {
                let exited: Bool
                var how = ""
                if let child = children[service.name] {
                    let status = child.poll()
                    exited = status != nil
                    if let status {
                        how = ChildProcess.exitCode(of: status).map { " with status \($0)" } ?? " on signal \(status & 0x7f)"
                    }
                } else {
                    exited = stack.layout.runningPID(service.name) == nil
                }
                guard exited else { continue }
                throw StackError(
                    "\(service.name) exited at start\(how); its log (\(stack.layout.logFile(service.name).path)):\n"
                        + stack.processes.tail(stack.layout.logFile(service.name)))
            }
            var stillWaiting: [ComposeFile.Service] = []
            for service in waiting where !(await stack.isReady(service)) { stillWaiting.append(service) }
            waiting = stillWaiting
            if waiting.isEmpty { break }
            if ContinuousClock.now > deadline {
                throw StackError("not ready after \(timeout) s: \(waiting.map(\.name).joined(separator: ", ")) (see .stack/logs/)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        for service in stack.services {
            print(
                "\(service.name.padding(toLength: 22, withPad: " ", startingAt: 0)) pid \(stack.layout.runningPID(service.name) ?? 0)  "
                    + "http://127.0.0.1:\(stack.port(of: service).map(String.init) ?? "-")  ready")
        }
        if stack.externalRedis == nil { print("Operator: REDIS_URL=\(stack.operatorURL)") }
        if let local = stack.cluster {
            print("  redis-cli takes one node and follows MOVED with -c: redis-cli -c -u \(local.nodeURL(1, user: "operator", password: stack.secrets.password(of: "operator")))")
        }
        print("Logs: \(stack.layout.logs.path)/   Stop: scripts/stack.sh down")
    }

    /// The cluster's part of `up --cluster`: remembers the stack is a cluster stack, checks the
    /// partition count, starts (or forms) the cluster and prints its nodes.
    private func startCluster(_ local: StackCluster, stack: LocalStack) async throws {
        let partitions = stack.partitions
        guard partitions >= 2 else {
            throw StackError(
                "STREAM_PARTITIONS=\(ProcessInfo.processInfo.environment["STREAM_PARTITIONS"] ?? "") cannot run on a cluster: the "
                    + "services' keys must carry partition tags (a whole number of 2 or more; the default, 6, is two per master)")
        }
        let runningServices = stack.services.filter { stack.layout.runningPID($0.name) != nil }
        if let recorded = local.recordedPartitions, recorded != partitions, !runningServices.isEmpty {
            throw StackError(
                "the running services use STREAM_PARTITIONS=\(recorded); every service must use the same count: "
                    + "stop the stack ('scripts/stack.sh down') to change it")
        }
        try stack.layout.markCluster(true)
        let started = ContinuousClock.now
        let formed = try await local.start(
            secrets: stack.secrets, avoiding: Set(stack.services.compactMap(stack.port(of:))), timeout: .seconds(timeout))
        try "\(partitions)\n".write(to: local.partitionsFile, atomically: true, encoding: .utf8)
        let took = (ContinuousClock.now - started).components
        let elapsed = Double(took.seconds) + Double(took.attoseconds) / 1e18
        print(
            "redis cluster: \(StackCluster.masters) masters, \(StackCluster.masters * StackCluster.replicasPerMaster) replicas, "
                + "\(formed ? "formed" : "up") and healthy in \(String(format: "%.1f", elapsed)) s; data in \(stack.layout.cluster.path)/node<i>")
        for node in await local.nodes(secrets: stack.secrets) {
            print(
                "\(StackCluster.name(node.index).padding(toLength: 14, withPad: " ", startingAt: 0)) pid \(node.pid ?? 0)  "
                    + "port \(node.port.map(String.init) ?? "-")  \(node.role)")
        }
        let note = partitions % StackCluster.masters == 0 ? "\(partitions / StackCluster.masters) per master" : "not a multiple of the masters: uneven"
        print("STREAM_PARTITIONS=\(partitions) (\(note))")
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop exactly the processes `up` started (by pid).")

    @Option(help: "Seconds each process gets to stop after SIGTERM before SIGKILL.") var grace: Int = 20

    func run() async throws {
        let layout = StackLayout()
        let processes = StackProcesses(layout: layout)
        let names = layout.recordedNames()
        if names.isEmpty { print("Nothing is running.") }
        // The services one by one, then the redis-servers together (a cluster's masters and
        // replicas stop at the same moment: none waits for another or takes over its slots).
        for name in names where !StackLayout.isRedis(name) {
            let pid = layout.runningPID(name)
            let clean = await processes.stop(name, grace: .seconds(grace))
            if let pid { print("\(name): stopped pid \(pid)\(clean ? "" : " (killed after \(grace) s)")") }
        }
        let servers = names.filter(StackLayout.isRedis)
        let pids = Dictionary(uniqueKeysWithValues: servers.map { ($0, layout.runningPID($0)) })
        let grace = grace
        let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
            for name in servers { group.addTask { (name, await processes.stop(name, grace: .seconds(grace))) } }
            var outcomes: [String: Bool] = [:]
            for await (name, clean) in group { outcomes[name] = clean }
            return outcomes
        }
        for name in servers {
            if let pid = pids[name] ?? nil { print("\(name): stopped pid \(pid)\(outcomes[name] == true ? "" : " (killed after \(grace) s)")") }
        }
        if layout.recordedNames().isEmpty { try layout.markCluster(false) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each process and whether it is ready; exit 3 if not all are.")

    func run() async throws {
        let stack = try LocalStack()
        var healthy = true
        if let local = stack.cluster {
            let problem = await local.healthProblem(secrets: stack.secrets)
            healthy = problem == nil
            print("redis cluster (started with --cluster): \(problem.map { "not healthy: \($0)" } ?? "healthy")")
            for node in await local.nodes(secrets: stack.secrets) {
                print(
                    "\(StackCluster.name(node.index).padding(toLength: 22, withPad: " ", startingAt: 0)) "
                        + "\(node.pid.map { "pid \($0)" } ?? "stopped")  port \(node.port.map(String.init) ?? "-")  \(node.role)")
            }
            print("STREAM_PARTITIONS=\(stack.partitions)")
        } else if stack.externalRedis == nil {
            let pid = stack.layout.runningPID("redis")
            healthy = healthy && pid != nil
            print("redis-server          \(pid.map { "pid \($0)" } ?? "stopped")  port \(stack.processes.redisPort)")
        }
        for service in stack.services {
            let pid = stack.layout.runningPID(service.name)
            let ready = pid != nil ? await stack.isReady(service) : false
            healthy = healthy && ready
            print(
                "\(service.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(pid.map { "pid \($0)" } ?? "stopped")  "
                    + "http://127.0.0.1:\(stack.port(of: service).map(String.init) ?? "-")  \(ready ? "ready" : "not ready")")
        }
        if stack.externalRedis == nil {
            print("Operator: REDIS_URL=\(stack.operatorURL)")
            if let local = stack.cluster {
                print("  (every node: for streamsctl --redis-url; redis-cli takes one node and follows MOVED with -c:")
                print("   redis-cli -c -u \(local.nodeURL(1, user: "operator", password: stack.secrets.password(of: "operator"))); "
                    + "secrets in \(stack.layout.secretsFile.path))")
            } else {
                print("  (for streamsctl --redis-url and redis-cli -u; secrets in \(stack.layout.secretsFile.path))")
            }
        }
        if !healthy { throw ExitCode(3) }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print (or follow) the logs of one service or all.")

    @Argument(help: "A service name (default: all).") var service: String?
    @Flag(name: .shortAndLong, help: "Keep printing new lines.") var follow = false

    func run() async throws {
        let layout = StackLayout()
        let files = (service.map { [layout.logFile($0).path] } ?? ((try? FileManager.default.contentsOfDirectory(atPath: layout.logs.path)) ?? [])
            .sorted().map { layout.logs.appendingPathComponent($0).path })
            .filter { FileManager.default.fileExists(atPath: $0) }
        guard !files.isEmpty else { throw StackError("no logs in \(layout.logs.path)") }
        let tail = try StackProcesses.find("tail")
        let arguments = [tail, "-n", "40"] + (follow ? ["-F"] : []) + files
        let argv = arguments.map { strdup($0) } + [nil]
        execv(tail, argv)
        throw StackError("cannot run tail")
    }
}

struct RedisURL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-url",
        abstract: "Print the URL of the stack's Redis for a user (default: operator), for streamsctl or redis-cli -u.")

    @Argument(help: "A user of deploy/redis/users.acl.template (healthcheck, operator, or a service's name).")
    var user = "operator"

    func run() async throws {
        let stack = try LocalStack()
        guard stack.secrets.users.contains(user) else {
            throw StackError("no Redis user \(user); the users are \(stack.secrets.users.joined(separator: ", "))")
        }
        if user == "operator", let external = stack.externalRedis {
            print(external)
        } else {
            // On a cluster stack: every node (for streamsctl and the services' REDIS_URL).
            print(stack.redisURL(user: user))
        }
    }
}

struct Secrets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create this installation's Redis secrets if needed and render the ACL file; or write a fresh set for docker compose.",
        discussion: """
            Without options: makes sure .stack/secrets.env exists (random passwords, mode 600) and renders \
            .stack/users.acl from deploy/redis/users.acl.template (mode 600); prints their paths. `up` does this too.
            With --env-file .env: writes a fresh set of secrets there (mode 600) for docker compose; refuses to \
            replace an existing file.
            """)

    @Option(help: "Write a fresh set of secrets to this file (docker compose reads .env).") var envFile: String?

    func run() async throws {
        if let envFile {
            let url = URL(fileURLWithPath: envFile)
            if FileManager.default.fileExists(atPath: url.path) {
                throw StackError("\(url.path) exists; remove it first (running containers keep the passwords they started with)")
            }
            try PrivateFile.write(StackSecrets.generate(users: try StackLayout().users()).fileText, to: url)
            print("wrote \(url.path) (mode 600): docker compose reads it from the project folder")
            return
        }
        let layout = StackLayout()
        try layout.renderACL(try layout.secrets())
        print(layout.secretsFile.path)
        print(layout.aclFile.path)
    }
}

struct Products: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the SwiftPM products the local stack and its demo run, one per line (scripts/stack.sh builds them).",
        discussion: """
            Each service's program (the first word of its `command` in docker-compose.yml) and streamsctl, which the \
            demo runs. This is the one list of what `up` needs built: a service added to docker-compose.yml is built \
            and started without another change.
            """)

    func run() async throws {
        let stack = try LocalStack()
        var seen: Set<String> = []
        for product in stack.services.compactMap(\.command.first) + ["streamsctl"] where seen.insert(product).inserted {
            print(product)
        }
    }
}

struct Services: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the names of the stack's services (docker-compose.yml's services with a command), one per line.")

    func run() async throws {
        for service in try LocalStack().services { print(service.name) }
    }
}
