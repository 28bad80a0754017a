import AnalyticsService
import Foundation
import LocalRedisServer
import Projections
import RedisClient
import TestSupport
import Testing
import TodoEvents

/// `streamsctl projections list` and `rebuild --wait`, run as the built executable against
/// a private redis-server while analytics-service's consumer runs.
@Suite("streamsctl projections")
struct ProjectionCommandsTests {
    func ctl(_ arguments: [String], url: String) async throws -> (exitCode: Int32, output: String) {
        try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streamsctl"), arguments + ["--redis-url", url],
            environment: ["PATH": "/usr/bin:/bin"])
    }

    func listed(_ url: String) async throws -> [[String: Any]] {
        let (code, output) = try await ctl(["projections", "list", "--json"], url: url)
        #expect(code == 0, "\(output)")
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return object?["projections"] as? [[String: Any]] ?? []
    }

    @Test func listAndRebuildWait() async throws {
        try await ProjectionRebuildTests.withProjection { fixture in
            let url = fixture.url
            for index in 0..<20 { try await fixture.writeTodo(index) }
            #expect(try await eventually { try await fixture.caughtUp() })
            let before = try await fixture.analytics.statistics()

            let projections = try await listed(url)
            let analytics = try #require(projections.first { $0["name"] as? String == "analytics-service" })
            #expect(analytics["stream"] as? String == "todo-events")
            #expect(analytics["pending"] as? Int == 0)
            #expect(analytics["status"] as? String == "ready")
            let last = try #require(try await fixture.client.xrange(TodoEvents.stream).last)
            #expect(analytics["position"] as? String == last.id.description)

            let (code, output) = try await ctl(["projections", "rebuild", "analytics-service", "--wait", "--timeout", "60"], url: url)
            #expect(code == 0, "\(output)")
            #expect(output.contains("analytics-service: deleted"))
            #expect(output.contains("analytics-service: ready"))
            #expect(try await fixture.analytics.statistics() == before)

            let table = try await ctl(["projections", "list"], url: url)
            #expect(table.exitCode == 0)
            #expect(table.output.contains("POSITION") && table.output.contains("analytics-service"))
            #expect(try await listed(url).first?["status"] as? String == "ready")

            let unknown = try await ctl(["projections", "rebuild", "nobody"], url: url)
            #expect(unknown.exitCode != 0 && unknown.output.contains("unknown projection"))
        }
    }
}
