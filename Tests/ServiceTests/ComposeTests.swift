import Foundation
import LocalRedisServer
import Testing

/// docker-compose.yml is valid for docker-compose, runs only executables this package
/// builds, and its services' Redis users exist in deploy/redis/users.acl.
@Suite("docker-compose.yml")
struct ComposeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func theFileValidatesWithDockerCompose() async throws {
        let compose = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let executable = try #require(compose, "docker-compose is not installed (scripts/test.sh installs it)")
        let result = try await ChildProcess.run(
            executable, ["-f", Self.repository.appendingPathComponent("docker-compose.yml").path, "config", "--quiet"])
        #expect(result.exitCode == 0, "\(result.output)")
        let full = try await ChildProcess.run(
            executable, ["-f", Self.repository.appendingPathComponent("docker-compose.yml").path, "config", "--services"])
        #expect(Set(full.output.split(separator: "\n").map(String.init)) == ["redis", "todo-service", "notification-service", "analytics-service"])
    }

    @Test func everyServiceCommandIsAnExecutableProductWithHealthCheckAndDependencies() throws {
        let compose = try Self.read("docker-compose.yml")
        let package = try Self.read("Package.swift")
        let products = Set(package.matches(of: /\.executable\(name: "([^"]+)"/).map { String($0.output.1) })
        let commands = compose.matches(of: /command: \["([^"]+)"/).map { String($0.output.1) }
        #expect(commands.count == 4)
        for command in commands where command != "redis-server" {
            #expect(products.contains(command), "compose runs \(command), which is not an executable product")
        }
        #expect(compose.matches(of: /healthcheck:/).count == 4)
        #expect(compose.matches(of: /condition: service_healthy/).count >= 5)
        let redisConfiguration = try Self.read("deploy/redis/redis.conf")
        #expect(redisConfiguration.contains("appendonly yes"))
        let dockerfile = try Self.read("deploy/Dockerfile")
        #expect(dockerfile.contains("FROM swift:6") && dockerfile.contains("bookworm-slim") && dockerfile.contains("USER app"))
        #expect(dockerfile.contains("libhiredis"))
    }

    @Test func eachServiceHasItsOwnRedisUserAndTheDefaultUserIsOff() throws {
        let compose = try Self.read("docker-compose.yml")
        let acl = try Self.read("deploy/redis/users.acl")
        #expect(acl.contains("user default off"))
        for match in compose.matches(of: /REDIS_URL: redis:\/\/([a-z-]+):([a-z-]+)@redis:6379/) {
            let (user, password) = (String(match.output.1), String(match.output.2))
            let line = acl.split(separator: "\n").first { $0.hasPrefix("user \(user) ") }
            #expect(line?.contains(">\(password)") == true, "no ACL user \(user) with that password")
            #expect(line?.contains("~*") == false, "\(user) may use every key")
        }
    }
}
