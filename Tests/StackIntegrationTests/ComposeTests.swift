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

    @Test func theFileValidatesWithDockerCompose() async throws {
        let result = try await Self.compose(["config", "--quiet"], secrets: Self.secrets)
        #expect(result.exitCode == 0, "\(result.output)")
        let full = try await Self.compose(["config", "--services"], secrets: Self.secrets)
        #expect(
            Set(full.output.split(separator: "\n").map(String.init)) == [
                "redis", "todo-service", "notification-service", "analytics-service", "order-service", "inventory-service",
                "payment-service", "saga-coordinator", "jaeger", "prometheus",
            ])
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

    @Test func everyServiceCommandIsAnExecutableProductWithHealthCheckAndDependencies() throws {
        let compose = try Self.read("docker-compose.yml")
        let package = try Self.read("Package.swift")
        let products = Set(package.matches(of: /\.executable\(name: "([^"]+)"/).map { String($0.output.1) })
        let commands = compose.matches(of: /command: \["([^"]+)"/).map { String($0.output.1) }
        #expect(commands.count == 8)
        let dockerfile = try Self.read("deploy/Dockerfile")
        for command in commands where command != "redis-server" {
            #expect(products.contains(command), "compose runs \(command), which is not an executable product")
            #expect(dockerfile.contains(" \(command) "), "deploy/Dockerfile does not build \(command)")
        }
        #expect(compose.matches(of: /healthcheck:/).count == 8)
        #expect(compose.matches(of: /condition: service_healthy/).count >= 5)
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
        // No fixed password anywhere, and Redis keeps its protected mode.
        #expect(lines.allSatisfy { !$0.contains(">") || $0.contains(">${REDIS_") })
        let redisConfiguration = try Self.read("deploy/redis/redis.conf")
        #expect(!redisConfiguration.contains("protected-mode no"))
    }
}
