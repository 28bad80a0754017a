import Foundation
import LocalRedisServer
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// scripts/load-test.sh end to end: starts the stack (private STACK_DIR, every port a free
/// one), offers 50 todos/s over HTTP for 3 s, and stops the stack. Every event must be
/// handled by both consumer groups.
@Suite("Load test smoke (scripts/load-test.sh)")
struct LoadTestSmokeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func fiftyTodosPerSecondForThreeSecondsLoseNothing() async throws {
        let ports = StackPorts()
        let loadGenerator = try ChildProcess.builtExecutable(named: "load-generator")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("load-test-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var environment = ports.environment(directory: directory)
        environment["LOAD_TEST_BIN_DIR"] = URL(fileURLWithPath: loadGenerator).deletingLastPathComponent().path
        environment["TODO_URL"] = nil
        // --skip-build: `swift test` holds SwiftPM's build lock; the binaries are built already.
        let run = try await ChildProcess.run(
            "/bin/bash",
            [Self.repository.appendingPathComponent("scripts/load-test.sh").path, "--rate", "50", "--duration", "3",
             "--skip-build", "--drain-seconds", "20"],
            environment: environment)

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

        // Everything it started is stopped.
        let leftover = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/pids")) ?? []
        #expect(leftover.isEmpty, "pid files left: \(leftover)")
        #expect(!ports.all.contains(where: TestPorts.isListening), "a service still listens after the run")
    }
}
