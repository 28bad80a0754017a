import Foundation
import LocalRedisServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ServicePortTests {
/// scripts/load-test.sh end to end: starts the stack (private STACK_DIR and Redis port, but
/// the services' fixed ports 8081-8083), offers 50 todos/s over HTTP for 3 s, and stops
/// the stack. Every event must be handled by both consumer groups.
@Suite("Load test smoke (scripts/load-test.sh, ports 8081-8083)", .serialized)
struct LoadTestSmokeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let servicePorts = [8081, 8082, 8083]

    @Test func fiftyTodosPerSecondForThreeSecondsLoseNothing() async throws {
        let busy = await Self.waitForFreePorts(Self.servicePorts, upTo: .seconds(20))
        try #require(
            busy.isEmpty,
            "ports \(busy.map(String.init).joined(separator: ", ")) are in use (a stack or another test is running): the services need 8081-8083")
        let loadGenerator = try ChildProcess.builtExecutable(named: "load-generator")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("load-test-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var environment = ProcessInfo.processInfo.environment
        environment["STACK_DIR"] = directory
        environment["STACK_REDIS_PORT"] = "\(try Self.freePort())"
        environment["LOAD_TEST_BIN_DIR"] = URL(fileURLWithPath: loadGenerator).deletingLastPathComponent().path
        environment["REDIS_URL"] = nil
        environment["TODO_URL"] = nil
        environment["RETRY_INITIAL_BACKOFF_MS"] = "300"
        let started = ContinuousClock.now
        // --skip-build: `swift test` holds SwiftPM's build lock; the binaries are built already.
        let run = try await ChildProcess.run(
            "/bin/bash",
            [Self.repository.appendingPathComponent("scripts/load-test.sh").path, "--rate", "50", "--duration", "3",
             "--skip-build", "--drain-seconds", "20"],
            environment: environment)
        let elapsed = ContinuousClock.now - started

        #expect(run.exitCode == 0, "load-test.sh exited \(run.exitCode):\n\(run.output)")
        let line = try #require(
            run.output.split(separator: "\n").last(where: { $0.hasPrefix("{\"") }), "no JSON line in:\n\(run.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(report["created"] as? Int == 150, "\(line)")
        let groups = (report["groups"] as? [[String: Any]]) ?? []
        #expect(Set(groups.compactMap { $0["group"] as? String }) == ["notification-service", "analytics-service"], "\(line)")
        for group in groups {
            #expect(group["lost"] as? Int == 0, "\(group)")
            #expect(group["handled"] as? Int == 150, "\(group)")
        }
        #expect(report["lost_total"] as? Int == 0)
        #expect(elapsed < .seconds(60), "took \(elapsed)")

        // Everything it started is stopped.
        let leftover = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/pids")) ?? []
        #expect(leftover.isEmpty, "pid files left: \(leftover)")
        #expect(Self.busyPorts(Self.servicePorts).isEmpty, "a service still listens after the run")
    }

    /// Ports with a listener on 127.0.0.1, after waiting up to `limit` for them to close.
    static func waitForFreePorts(_ ports: [Int], upTo limit: Duration) async -> [Int] {
        let deadline = ContinuousClock.now + limit
        var busy = busyPorts(ports)
        while !busy.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(250))
            busy = busyPorts(ports)
        }
        return busy
    }

    static func busyPorts(_ ports: [Int]) -> [Int] {
        ports.filter { port in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
    }

    /// A TCP port nobody listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound, "could not find a free port")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
}
