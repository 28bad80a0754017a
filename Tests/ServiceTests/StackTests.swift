import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalRedisServer
import RedisClient
import Testing

/// The suites that run the services on their fixed ports (8081-8083), one after another.
@Suite("Service ports 8081-8083 (one suite at a time)", .serialized)
enum ServicePortTests {}

extension ServicePortTests {
/// The stack of docker-compose.yml as real local processes: up, a flow across the three
/// services, down leaving no process behind. Uses the fixed ports 8081-8083.
@Suite("Local stack (streams-stack up/down, ports 8081-8083)", .serialized)
struct StackTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `streams-stack <arguments>` with a private state folder and Redis port.
    static func stack(_ arguments: [String], directory: String, port: Int) async throws -> (exitCode: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["STACK_DIR"] = directory
        environment["STACK_REDIS_PORT"] = "\(port)"
        environment["STACK_REPOSITORY"] = repository.path
        environment["REDIS_URL"] = nil
        environment["RETRY_INITIAL_BACKOFF_MS"] = "300"
        return try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streams-stack"), arguments, environment: environment)
    }

    static func freePort() -> Int { 20_000 + Int.random(in: 0..<20_000) }

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

    /// Waits until nothing listens on the services' ports (another suite, e.g. the load-test
    /// smoke run, may be using them); returns the ports still busy.
    static func waitForFreePorts(upTo limit: Duration = .seconds(90)) async -> [Int] {
        let deadline = ContinuousClock.now + limit
        while true {
            let busy = [8081, 8082, 8083].filter { port in
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                return withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
                }
            }
            if busy.isEmpty || ContinuousClock.now > deadline { return busy }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func upRunsTheFlowAcrossProcessesSurvivesARestartAndDownLeavesNothingBehind() async throws {
        let busy = await Self.waitForFreePorts()
        try #require(busy.isEmpty, "ports \(busy) are in use: the stack needs 8081-8083")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stack-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = Self.freePort()
        let up = try await Self.stack(["up", "--timeout", "90"], directory: directory, port: port)
        var pids: [pid_t] = []
        do {
            #expect(up.exitCode == 0, "\(up.output)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/pids")
            #expect(Set(files) == ["redis.pid", "todo-service.pid", "notification-service.pid", "analytics-service.pid"])
            for file in files {
                let text = try String(contentsOfFile: directory + "/pids/" + file, encoding: .utf8)
                pids.append(pid_t(text.split(separator: " ")[0])!)
            }
            let status = try await Self.stack(["status"], directory: directory, port: port)
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
            let (created, todo) = try await Self.json("POST", "http://127.0.0.1:8081/todos", ["user_id": "erin", "title": "Water the plants"])
            #expect(created == 201)
            let id = try #require((todo as? [String: Any])?["id"] as? String)
            let (completed, _) = try await Self.json("POST", "http://127.0.0.1:8081/todos/\(id)/complete")
            #expect(completed == 200)
            let deadline = ContinuousClock.now + .seconds(20)
            var notifications: [[String: Any]] = []
            var counters: [String: Any] = [:]
            while ContinuousClock.now < deadline {
                notifications = (try await Self.json("GET", "http://127.0.0.1:8082/notifications?user_id=erin").1 as? [[String: Any]]) ?? []
                counters = ((try await Self.json("GET", "http://127.0.0.1:8083/stats/users/erin").1 as? [String: Any])?["counters"]
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
            let down = try await Self.stack(["down"], directory: directory, port: port)
            #expect(down.exitCode == 0, "\(down.output)")
            let again = try await Self.stack(["up", "--timeout", "90"], directory: directory, port: port)
            #expect(again.exitCode == 0, "\(again.output)")
            pids = []
            for file in try FileManager.default.contentsOfDirectory(atPath: directory + "/pids") {
                let text = try String(contentsOfFile: directory + "/pids/" + file, encoding: .utf8)
                pids.append(pid_t(text.split(separator: " ")[0])!)
            }
            // The same secrets after a restart: URLs handed out stay valid.
            #expect(try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8) == secrets)
            let (found, restored) = try await Self.json("GET", "http://127.0.0.1:8081/todos/\(id)")
            #expect(found == 200)
            #expect((restored as? [String: Any])?["status"] as? String == "completed")
            try await Task.sleep(for: .seconds(1))
            let after = (try await Self.json("GET", "http://127.0.0.1:8082/notifications?user_id=erin").1 as? [[String: Any]]) ?? []
            #expect(after.count == 2)
            let restoredCounters = ((try await Self.json("GET", "http://127.0.0.1:8083/stats/users/erin").1 as? [String: Any])?["counters"]
                as? [String: Any]) ?? [:]
            #expect(restoredCounters["created"] as? Int == 1 && restoredCounters["completed"] as? Int == 1)
        } catch {
            _ = try? await Self.stack(["down"], directory: directory, port: port)
            throw error
        }
        let down = try await Self.stack(["down"], directory: directory, port: port)
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
        environment["HTTP_PORT"] = "8099"
        environment["REDIS_URL"] = "http://nope"
        let bad = try await ChildProcess.run(try ChildProcess.builtExecutable(named: "analytics-service"), [], environment: environment)
        #expect(bad.exitCode == 2)
        #expect(bad.output.contains("REDIS_URL"), "\(bad.output)")
    }
}
}
