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

    init() throws {
        processes = StackProcesses(layout: layout)
        secrets = try layout.secrets()
        // The compose file takes the secrets from the environment (`${...:?...}`): ours win over
        // any the shell has, so the private Redis and its users always agree.
        compose = try ComposeFile(
            path: layout.composeFile, environment: ProcessInfo.processInfo.environment.merging(secrets.values) { $1 })
        let given = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""
        externalRedis = given.isEmpty ? nil : given
    }

    /// The URL an operator gives `streamsctl --redis-url` or `redis-cli -u`: the operator user on
    /// the private Redis, or the `REDIS_URL` the stack was given.
    var operatorURL: String {
        externalRedis ?? processes.redisURL(user: "operator", password: secrets.password(of: "operator"))
    }

    /// Services with a command (everything but redis).
    var services: [ComposeFile.Service] { compose.services.filter { $0.name != "redis" && !$0.command.isEmpty } }

    /// The service's environment from compose, with `redis:6379` pointing at the local Redis,
    /// and without compose's own Jaeger as the trace endpoint (no Jaeger runs locally: the
    /// services trace only when `OTEL_EXPORTER_OTLP_ENDPOINT` names another collector).
    func environment(of service: ComposeFile.Service) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG", "TZ"].contains($0.key) }
        for (key, value) in service.environment { environment[key] = value }
        if let externalRedis {
            environment["REDIS_URL"] = externalRedis
        } else if var url = URLComponents(string: service.environment["REDIS_URL"] ?? ""), url.host == "redis" {
            url.host = "127.0.0.1"
            url.port = processes.redisPort
            environment["REDIS_URL"] = url.string
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
        abstract: "Start Redis and every service in the background; return once all are ready.")

    @Option(help: "Seconds to wait for every service to be ready.") var timeout: Int = 120

    func run() async throws {
        let stack = try LocalStack()
        try stack.layout.create()
        if stack.externalRedis == nil {
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
        print("Logs: \(stack.layout.logs.path)/   Stop: scripts/stack.sh down")
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
        for name in names {
            let pid = layout.runningPID(name)
            let clean = await processes.stop(name, grace: .seconds(grace))
            if let pid { print("\(name): stopped pid \(pid)\(clean ? "" : " (killed after \(grace) s)")") }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each process and whether it is ready; exit 3 if not all are.")

    func run() async throws {
        let stack = try LocalStack()
        var healthy = true
        if stack.externalRedis == nil {
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
            print("  (for streamsctl --redis-url and redis-cli -u; secrets in \(stack.layout.secretsFile.path))")
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
            print(stack.processes.redisURL(user: user, password: stack.secrets.password(of: user)))
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
