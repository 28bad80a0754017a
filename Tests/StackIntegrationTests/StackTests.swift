import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// The stack of docker-compose.yml as real local processes: up, a flow across the three
/// services, down leaving no process behind. Every port (Redis's, the services') is a free
/// one chosen for the run.
@Suite("Local stack (streams-stack up/down)")
struct StackTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `streams-stack <arguments>` with a private state folder and ports.
    static func stack(_ arguments: [String], directory: String, ports: StackPorts) async throws -> (exitCode: Int32, output: String) {
        var environment = ports.environment(directory: directory)
        environment["STACK_REPOSITORY"] = repository.path
        return try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streams-stack"), arguments, environment: environment)
    }

    static func json(_ method: String, _ url: String, _ body: [String: Any]? = nil) async throws -> (Int, Any?) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONSerialization.jsonObject(with: data))
    }

    @Test func upRunsTheFlowAcrossProcessesSurvivesARestartAndDownLeavesNothingBehind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stack-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (ports, up) = try await StackPorts.withFreshPorts { ports in
            let up = try await Self.stack(["up", "--timeout", "90"], directory: directory, ports: ports)
            if up.exitCode != 0 { _ = try await Self.stack(["down"], directory: directory, ports: ports) }
            return (up, up.exitCode != 0 && StackPorts.portWasTaken(up.output))
        }
        let port = ports.redis
        let (todoURL, notificationURL, analyticsURL) = (
            "http://127.0.0.1:\(ports.todo)", "http://127.0.0.1:\(ports.notification)", "http://127.0.0.1:\(ports.analytics)"
        )
        var pids: [pid_t] = []
        do {
            #expect(up.exitCode == 0, "\(up.output)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/pids")
            #expect(
                Set(files) == [
                    "redis.pid", "todo-service.pid", "notification-service.pid", "analytics-service.pid", "order-service.pid",
                    "inventory-service.pid", "payment-service.pid", "saga-coordinator.pid",
                ])
            for file in files {
                let text = try String(contentsOfFile: directory + "/pids/" + file, encoding: .utf8)
                pids.append(pid_t(text.split(separator: " ")[0])!)
            }
            let status = try await Self.stack(["status"], directory: directory, ports: ports)
            #expect(status.exitCode == 0, "\(status.output)")
            // The installation's secrets: private files, and the operator's URL in `status`.
            for file in ["secrets.env", "users.acl"] {
                let mode = try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.posixPermissions] as? NSNumber
                #expect(mode?.intValue == 0o600, "\(file) is not mode 600")
            }
            let secrets = try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8)
            let operatorPassword = try #require(
                secrets.split(separator: "\n").first { $0.hasPrefix("REDIS_OPERATOR_PASSWORD=") }?.split(separator: "=").last)
            let operatorURL = "redis://operator:\(operatorPassword)@127.0.0.1:\(port)/0"
            #expect(status.output.contains("REDIS_URL=\(operatorURL)"), "\(status.output)")
            let operatorClient = RedisClient(configuration: try RedisConfiguration(url: operatorURL))
            defer { operatorClient.close() }
            #expect(try await operatorClient.ping())

            // The flow: todo-service publishes, notification-service and analytics-service react.
            let (created, todo) = try await Self.json("POST", todoURL + "/todos", ["user_id": "erin", "title": "Water the plants"])
            #expect(created == 201)
            let id = try #require((todo as? [String: Any])?["id"] as? String)
            let (completed, _) = try await Self.json("POST", todoURL + "/todos/\(id)/complete")
            #expect(completed == 200)
            let deadline = ContinuousClock.now + .seconds(20)
            var notifications: [[String: Any]] = []
            var counters: [String: Any] = [:]
            while ContinuousClock.now < deadline {
                notifications = (try await Self.json("GET", notificationURL + "/notifications?user_id=erin").1 as? [[String: Any]]) ?? []
                counters = ((try await Self.json("GET", analyticsURL + "/stats/users/erin").1 as? [String: Any])?["counters"]
                    as? [String: Any]) ?? [:]
                if notifications.count == 2 && counters["completed"] as? Int == 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(notifications.map { $0["kind"] as? String } == ["todo_completed", "todo_created"])
            #expect(counters["created"] as? Int == 1)
            #expect(counters["completed"] as? Int == 1)
            #expect(counters["mean_completion_seconds"] is Double)

            // Restarted (Redis from its AOF, the services from scratch): the state is all there
            // and nothing is handled a second time.
            let down = try await Self.stack(["down"], directory: directory, ports: ports)
            #expect(down.exitCode == 0, "\(down.output)")
            let again = try await Self.stack(["up", "--timeout", "90"], directory: directory, ports: ports)
            #expect(again.exitCode == 0, "\(again.output)")
            pids = []
            for file in try FileManager.default.contentsOfDirectory(atPath: directory + "/pids") {
                let text = try String(contentsOfFile: directory + "/pids/" + file, encoding: .utf8)
                pids.append(pid_t(text.split(separator: " ")[0])!)
            }
            // The same secrets after a restart: URLs handed out stay valid.
            #expect(try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8) == secrets)
            let (found, restored) = try await Self.json("GET", todoURL + "/todos/\(id)")
            #expect(found == 200)
            #expect((restored as? [String: Any])?["status"] as? String == "completed")
            // Both groups have caught up after the restart (nothing pending, nothing unread)...
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    let groups = (try? await operatorClient.send("XINFO", "GROUPS", "todo-events"))?.array ?? []
                    return groups.count == 2 && groups.allSatisfy { group in
                        let fields = group.array ?? []
                        var values: [String: Int] = [:]
                        for index in stride(from: 0, to: fields.count - 1, by: 2) {
                            if let name = fields[index].string, let value = fields[index + 1].int { values[name] = value }
                        }
                        return values["pending"] == 0 && values["lag"] == 0
                    }
                })
            // ... and handled nothing a second time.
            let after = (try await Self.json("GET", notificationURL + "/notifications?user_id=erin").1 as? [[String: Any]]) ?? []
            #expect(after.count == 2)
            let restoredCounters = ((try await Self.json("GET", analyticsURL + "/stats/users/erin").1 as? [String: Any])?["counters"]
                as? [String: Any]) ?? [:]
            #expect(restoredCounters["created"] as? Int == 1 && restoredCounters["completed"] as? Int == 1)
        } catch {
            _ = try? await Self.stack(["down"], directory: directory, ports: ports)
            throw error
        }
        let down = try await Self.stack(["down"], directory: directory, ports: ports)
        #expect(down.exitCode == 0, "\(down.output)")
        #expect(!pids.isEmpty)
        for pid in pids {
            // Gone (or a zombie until init reaps it): no process of the stack keeps running.
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            #expect(stat.isEmpty || stat.contains(") Z"), "pid \(pid) still runs after down")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory + "/pids")) ?? []).isEmpty)
    }

    @Test func aBadEnvironmentValueStopsAServiceAtStartNamingTheVariable() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["HTTP_PORT"] = "eighty"
        let result = try await ChildProcess.run(try ChildProcess.builtExecutable(named: "todo-service"), [], environment: environment)
        #expect(result.exitCode == 2)
        #expect(result.output.contains("HTTP_PORT"), "\(result.output)")
        environment["HTTP_PORT"] = "\(TestPorts.free()[0])"
        environment["REDIS_URL"] = "http://nope"
        let bad = try await ChildProcess.run(try ChildProcess.builtExecutable(named: "analytics-service"), [], environment: environment)
        #expect(bad.exitCode == 2)
        #expect(bad.output.contains("REDIS_URL"), "\(bad.output)")
    }
}
