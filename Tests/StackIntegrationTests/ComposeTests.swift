import Foundation
import LocalRedisServer
import Testing

/// docker-compose.yml is valid for docker-compose, runs only executables this package
/// builds, refuses to start without its secrets, and its services' Redis users exist in
/// deploy/redis/users.acl.template with the password compose gives them.
@Suite("docker-compose.yml")
struct ComposeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    static let secretVariables = [
        "REDIS_HEALTHCHECK_PASSWORD", "REDIS_TODO_SERVICE_PASSWORD", "REDIS_NOTIFICATION_SERVICE_PASSWORD",
        "REDIS_ANALYTICS_SERVICE_PASSWORD", "REDIS_ORDER_SERVICE_PASSWORD", "REDIS_INVENTORY_SERVICE_PASSWORD",
        "REDIS_PAYMENT_SERVICE_PASSWORD", "REDIS_SAGA_COORDINATOR_PASSWORD", "REDIS_OPERATOR_PASSWORD",
        "PAYMENT_CARD_PRIVATE_KEY", "PAYMENT_CARD_PUBLIC_KEY",
    ]

    /// `docker-compose -f docker-compose.yml --env-file <file> <arguments>`, with the secrets
    /// in `secrets` only (none from this process's environment or the repository's .env).
    static func compose(_ arguments: [String], secrets: [String: String], extra: [String: String] = [:]) async throws
        -> (exitCode: Int32, output: String)
    {
        let installed = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let executable = try #require(installed, "docker-compose is not installed (scripts/test.sh installs it)")
        let envFile = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString.prefix(8)).env").path
        defer { try? FileManager.default.removeItem(atPath: envFile) }
        try secrets.map { "\($0.key)=\($0.value)\n" }.joined().write(toFile: envFile, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REDIS_") }
        environment.merge(extra) { $1 }
        return try await ChildProcess.run(
            executable,
            ["-f", repository.appendingPathComponent("docker-compose.yml").path, "--env-file", envFile] + arguments,
            environment: environment)
    }

    static let secrets = Dictionary(uniqueKeysWithValues: secretVariables.map { ($0, "\($0.lowercased())-0123456789") })

    /// The services of a `docker-compose config` output (normalized YAML, two-space indents):
    /// each name with the lines of its definition.
    static func services(inConfig text: String) -> [String: String] {
        var services: [String: String] = [:]
        var inServices = false
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") {
                inServices = line == "services:"
                current = nil
                continue
            }
            guard inServices else { continue }
            if line.hasPrefix("  ") && !line.hasPrefix("   ") && line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                services[current!] = ""
            } else if let current {
                services[current]! += line + "\n"
            }
        }
        return services
    }

    static let defaultServices: Set<String> = [
        "redis", "todo-service", "notification-service", "analytics-service", "order-service", "inventory-service",
        "payment-service", "saga-coordinator", "jaeger", "prometheus",
    ]
    static let applicationServices = [
        ("todo-service", "REDIS_TODO_SERVICE_PASSWORD"), ("notification-service", "REDIS_NOTIFICATION_SERVICE_PASSWORD"),
        ("analytics-service", "REDIS_ANALYTICS_SERVICE_PASSWORD"), ("order-service", "REDIS_ORDER_SERVICE_PASSWORD"),
        ("inventory-service", "REDIS_INVENTORY_SERVICE_PASSWORD"), ("payment-service", "REDIS_PAYMENT_SERVICE_PASSWORD"),
        ("saga-coordinator", "REDIS_SAGA_COORDINATOR_PASSWORD"),
    ]
    static let clusterNodes = (1...6).map { "redis-node-\($0)" }
    static let clusterServices: Set<String> = Set(clusterNodes + ["redis-cluster-init"] + applicationServices.map { $0.0 + "-cluster" })

    @Test func theFileValidatesWithDockerCompose() async throws {
        let result = try await Self.compose(["config", "--quiet"], secrets: Self.secrets)
        #expect(result.exitCode == 0, "\(result.output)")
        // docker-compose 1.29 lists the services of every profile here (compose v2 the active ones).
        let full = try await Self.compose(["config", "--services"], secrets: Self.secrets)
        let listed = Set(full.output.split(separator: "\n").map(String.init))
        #expect(listed.subtracting(Self.clusterServices) == Self.defaultServices, "\(full.output)")
        // The default profile: the services without a profile, as before the cluster profile.
        let config = try await Self.compose(["config"], secrets: Self.secrets)
        let services = Self.services(inConfig: config.output)
        #expect(Set(services.filter { !$0.value.contains("\n    profiles:\n") }.keys) == Self.defaultServices)
        #expect(Set(services.filter { $0.value.contains("\n    profiles:\n    - cluster\n") }.keys) == Self.clusterServices)
    }

    @Test func theClusterProfileRunsTheServicesOnSixNodesWithSixPartitions() async throws {
        var secrets = Self.secrets
        secrets["REDIS_CLUSTER_ADMIN_PASSWORD"] = "redis_cluster_admin_password-0123456789"
        let quiet = try await Self.compose(["--profile", "cluster", "config", "--quiet"], secrets: secrets)
        #expect(quiet.exitCode == 0, "\(quiet.output)")
        let config = try await Self.compose(["--profile", "cluster", "config"], secrets: secrets)
        #expect(config.exitCode == 0, "\(config.output)")
        let services = Self.services(inConfig: config.output)
        #expect(Self.clusterServices.isSubset(of: Set(services.keys)), "\(services.keys.sorted())")
        let nodeAddresses = Self.clusterNodes.map { "\($0):6379" }
        for node in Self.clusterNodes {
            let definition = services[node] ?? ""
            // A cluster node with the ACL users (and cluster-admin), persistence, its own volume and a health check.
            for part in [
                "- redis-server\n    - /usr/local/etc/redis/redis.conf\n    - --cluster-enabled\n    - \"yes\"\n",
                "- /data/nodes.conf\n", "- --include\n    - /usr/local/etc/redis/cluster-node.conf\n",
                "- /usr/local/etc/redis/entrypoint.sh\n", "REDIS_CLUSTER_NODE: \"yes\"\n",
                "REDIS_CLUSTER_ADMIN_PASSWORD: \(secrets["REDIS_CLUSTER_ADMIN_PASSWORD"]!)\n",
                "REDIS_OPERATOR_PASSWORD: \(secrets["REDIS_OPERATOR_PASSWORD"]!)\n", "- \(node)-data:/data:rw\n",
                "users.acl.template:/usr/local/etc/redis/users.acl.template:ro\n", "redis.conf:/usr/local/etc/redis/redis.conf:ro\n",
                "healthcheck:\n", "image: redis:7.0\n",
            ] {
                #expect(definition.contains(part), "\(node) lacks \(part): \(definition)")
            }
        }
        let initialization = services["redis-cluster-init"] ?? ""
        // (docker-compose folds the long value over two lines.)
        let nodeList = initialization.split(separator: "\n").drop { !$0.contains("REDIS_CLUSTER_NODES:") }.prefix(2).joined(separator: " ")
        #expect(nodeList.split(separator: " ").filter { $0.hasPrefix("redis-node-") } == nodeAddresses.map { Substring($0) }, "\(initialization)")
        #expect(initialization.contains("REDIS_CLUSTER_REPLICAS: '1'\n"), "\(initialization)")
        #expect(initialization.contains("/usr/local/etc/redis/cluster-init.sh"), "\(initialization)")
        for node in Self.clusterNodes {
            #expect(initialization.contains("\(node):\n        condition: service_healthy\n"), "redis-cluster-init does not wait for \(node)")
        }
        for (service, variable) in Self.applicationServices {
            let definition = services[service + "-cluster"] ?? ""
            #expect(
                definition.contains("REDIS_URL: redis://\(service):\(secrets[variable]!)@\(nodeAddresses.joined(separator: ","))\n"),
                "\(service)-cluster: \(definition)")
            #expect(definition.contains("STREAM_PARTITIONS: '6'\n"), "\(service)-cluster: \(definition)")
            #expect(definition.contains("redis-cluster-init:\n        condition: service_completed_successfully\n"))
            #expect(definition.contains("- \(service)\n") && definition.contains("healthcheck:\n"))
            // The default profile's service is unchanged: one Redis, one partition.
            let plain = services[service] ?? ""
            #expect(plain.contains("REDIS_URL: redis://\(service):\(secrets[variable]!)@redis:6379/0\n"), "\(plain)")
            #expect(plain.contains("STREAM_PARTITIONS: '1'\n") && !plain.contains("redis-cluster-init"), "\(plain)")
        }
        #expect((services["order-service-cluster"] ?? "").contains("SAGA_COORDINATOR_URL: http://saga-coordinator-cluster:8087\n"))
        // An explicit STREAM_PARTITIONS wins.
        let twelve = try await Self.compose(["--profile", "cluster", "config"], secrets: secrets, extra: ["STREAM_PARTITIONS": "12"])
        #expect(Self.services(inConfig: twelve.output)["todo-service-cluster"]?.contains("STREAM_PARTITIONS: '12'\n") == true)
        // Without the cluster's secret the file still validates (the default profile does not
        // need it); a node's entrypoint refuses to start without it.
        let without = try await Self.compose(["--profile", "cluster", "config", "--quiet"], secrets: Self.secrets)
        #expect(without.exitCode == 0, "\(without.output)")
        #expect(try Self.read(".env.example").contains("\nREDIS_CLUSTER_ADMIN_PASSWORD="))
    }

    @Test func aClusterNodesEntrypointNeedsTheClusterSecretAndWritesTheReplicationLogin() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("entrypoint-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REDIS_") }.merging(Self.secrets) { $1 }
        environment["REDIS_ACL_TEMPLATE"] = Self.repository.appendingPathComponent("deploy/redis/users.acl.template").path
        environment["REDIS_ACL_FILE"] = folder.appendingPathComponent("users.acl").path
        environment["REDIS_CLUSTER_CONF"] = folder.appendingPathComponent("cluster-node.conf").path
        let entrypoint = Self.repository.appendingPathComponent("deploy/redis/entrypoint.sh").path
        // A plain Redis without the cluster's secret: no cluster-admin user.
        let plain = try await ChildProcess.run("/bin/sh", [entrypoint], environment: environment)
        #expect(plain.exitCode == 0, "\(plain.output)")
        let acl = try String(contentsOf: folder.appendingPathComponent("users.acl"), encoding: .utf8)
        #expect(acl.contains("user operator on >") && !acl.contains("cluster-admin"))
        // A cluster node refuses to start without it ...
        environment["REDIS_CLUSTER_NODE"] = "yes"
        let refused = try await ChildProcess.run("/bin/sh", [entrypoint], environment: environment)
        #expect(refused.exitCode != 0 && refused.output.contains("REDIS_CLUSTER_ADMIN_PASSWORD is not set"), "\(refused.output)")
        // ... and with it has the user and logs in to its master as it (a file of mode 600).
        environment["REDIS_CLUSTER_ADMIN_PASSWORD"] = "cluster_admin_password-0123456789"
        let node = try await ChildProcess.run("/bin/sh", [entrypoint], environment: environment)
        #expect(node.exitCode == 0, "\(node.output)")
        let nodeACL = try String(contentsOf: folder.appendingPathComponent("users.acl"), encoding: .utf8)
        #expect(nodeACL.contains("user cluster-admin on >cluster_admin_password-0123456789 "), "\(nodeACL)")
        let login = try String(contentsOf: folder.appendingPathComponent("cluster-node.conf"), encoding: .utf8)
        #expect(login == "masteruser cluster-admin\nmasterauth cluster_admin_password-0123456789\n")
        let mode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("cluster-node.conf").path)[.posixPermissions]
        #expect((mode as? NSNumber)?.intValue == 0o600)
    }

    @Test func composeRefusesToStartWithoutEverySecretAndUsesThemWhenGiven() async throws {
        let none = try await Self.compose(["config", "--quiet"], secrets: [:])
        #expect(none.exitCode != 0)
        #expect(none.output.contains("is not set (see .env.example)"), "\(none.output)")
        for variable in Self.secretVariables {
            var secrets = Self.secrets
            secrets[variable] = nil
            let missing = try await Self.compose(["config", "--quiet"], secrets: secrets)
            #expect(missing.exitCode != 0, "compose accepted the file without \(variable)")
            #expect(missing.output.contains("\(variable) is not set (see .env.example)"), "\(missing.output)")
        }
        let config = try await Self.compose(["config"], secrets: Self.secrets)
        #expect(config.exitCode == 0, "\(config.output)")
        for (user, variable) in [
            ("todo-service", "REDIS_TODO_SERVICE_PASSWORD"), ("notification-service", "REDIS_NOTIFICATION_SERVICE_PASSWORD"),
            ("analytics-service", "REDIS_ANALYTICS_SERVICE_PASSWORD"), ("order-service", "REDIS_ORDER_SERVICE_PASSWORD"),
            ("inventory-service", "REDIS_INVENTORY_SERVICE_PASSWORD"), ("payment-service", "REDIS_PAYMENT_SERVICE_PASSWORD"),
            ("saga-coordinator", "REDIS_SAGA_COORDINATOR_PASSWORD"),
        ] {
            #expect(config.output.contains("REDIS_URL: redis://\(user):\(Self.secrets[variable]!)@redis:6379/0"), "\(config.output)")
        }
        for variable in Self.secretVariables {
            #expect(config.output.contains("\(variable): \(Self.secrets[variable]!)"), "redis does not get \(variable)")
        }
        // Redis is published on this machine only, unless asked.
        #expect(config.output.contains("127.0.0.1:6379:6379"), "\(config.output)")
        let wide = try await Self.compose(["config"], secrets: Self.secrets, extra: ["REDIS_PUBLISH_ADDRESS": "0.0.0.0"])
        #expect(wide.output.contains("0.0.0.0:6379:6379"), "\(wide.output)")
        // .env.example names every variable, and .env is never committed.
        let example = try Self.read(".env.example")
        for variable in Self.secretVariables { #expect(example.contains("\n\(variable)=")) }
        #expect(try Self.read(".gitignore").split(separator: "\n").contains("/.env"))
    }

    @Test func everyServiceCommandIsAnExecutableProductWithHealthCheckAndDependencies() async throws {
        var secrets = Self.secrets
        secrets["REDIS_CLUSTER_ADMIN_PASSWORD"] = "redis_cluster_admin_password-0123456789"
        let config = try await Self.compose(["--profile", "cluster", "config"], secrets: secrets)
        let services = Self.services(inConfig: config.output)
        let package = try Self.read("Package.swift")
        let products = Set(package.matches(of: /\.executable\(name: "([^"]+)"/).map { String($0.output.1) })
        // Each service's program: the first item of its command.
        var commands: [String: String] = [:]
        for (name, definition) in services {
            if let match = ("\n" + definition).firstMatch(of: /\n    command:\n    - ([^\n]+)\n/) {
                commands[name] = String(match.output.1)
            }
        }
        // Both profiles: redis and its six cluster nodes, the seven services and their seven copies.
        let expectedCommands = 21  // 1 + 6 + 7 + 7
        #expect(commands.count == expectedCommands, "\(commands)")
        let dockerfile = try Self.read("deploy/Dockerfile")
        for (name, command) in commands where command != "redis-server" {
            #expect(products.contains(command), "compose runs \(command) (\(name)), which is not an executable product")
            #expect(dockerfile.contains(" \(command) "), "deploy/Dockerfile does not build \(command)")
        }
        for name in commands.keys { #expect(services[name]?.contains("\n    healthcheck:\n") == true, "\(name) has no health check") }
        let healthyConditions = config.output.matches(of: /condition: service_healthy/).count
        #expect(healthyConditions >= 16)
        #expect(config.output.matches(of: /condition: service_completed_successfully/).count == 7)
        let redisConfiguration = try Self.read("deploy/redis/redis.conf")
        #expect(redisConfiguration.contains("appendonly yes"))
        #expect(dockerfile.contains("FROM swift:6") && dockerfile.contains("bookworm-slim") && dockerfile.contains("USER app"))
        #expect(dockerfile.contains("libhiredis"))
    }

    @Test func eachServiceHasItsOwnRedisUserAndTheDefaultUserIsOff() throws {
        let compose = try Self.read("docker-compose.yml")
        let template = try Self.read("deploy/redis/users.acl.template")
        let lines = template.split(separator: "\n").filter { $0.hasPrefix("user ") }
        #expect(lines.contains { $0.hasPrefix("user default off resetpass ") })
        let urls = compose.matches(of: /REDIS_URL: "redis:\/\/([a-z-]+):\$\{(REDIS_[A-Z_]+_PASSWORD):\?[^}]*\}@redis:6379/)
        #expect(urls.count == 7)
        for match in urls {
            let (user, variable) = (String(match.output.1), String(match.output.2))
            let line = lines.first { $0.hasPrefix("user \(user) ") }
            #expect(line?.contains(" on >${\(variable)} ") == true, "no ACL user \(user) with the password of \(variable)")
            #expect(line?.contains("~*") == false && line?.contains("+@all") == false, "\(user) may use every key or command")
        }
        // The cluster profile's copies log in as the same users, on every node.
        let clusterURLs = compose.matches(
            of: /REDIS_URL: "redis:\/\/([a-z-]+):\$\{(REDIS_[A-Z_]+_PASSWORD):\?[^}]*\}@redis-node-1:6379,redis-node-2:6379,redis-node-3:6379,redis-node-4:6379,redis-node-5:6379,redis-node-6:6379"/)
        #expect(clusterURLs.count == 7)
        #expect(Set(clusterURLs.map { "\($0.output.1) \($0.output.2)" }) == Set(urls.map { "\($0.output.1) \($0.output.2)" }))
        // No fixed password anywhere, and Redis keeps its protected mode.
        #expect(lines.allSatisfy { !$0.contains(">") || $0.contains(">${REDIS_") })
        let redisConfiguration = try Self.read("deploy/redis/redis.conf")
        #expect(!redisConfiguration.contains("protected-mode no"))
    }
}
