import Foundation
import HTTPTypes
import Hummingbird
import Logging
import HummingbirdTesting
import LocalRedisServer
import RedisClient
import ServiceKit
import Testing
import TodoEvents
import TodoService

/// The todo HTTP API against a real redis-server: every route, every error status, bodies,
/// and the event written with each change.
@Suite("todo-service HTTP API")
struct TodoAPITests {
    /// Runs `body` with the todo routes on a test server backed by a private redis-server.
    func withTodoAPI(_ body: @escaping @Sendable (any TestClientProtocol, RedisClient) async throws -> Void) async throws {
        try await withTodoAPI { http, redis, _ in try await body(http, redis) }
    }

    func withTodoAPI(
        environment: [String: String] = [:],
        _ body: @escaping @Sendable (any TestClientProtocol, RedisClient, LocalRedisServer) async throws -> Void
    ) async throws {
        try await withLocalRedisServer { server in
            var redis = try RedisConfiguration(url: server.url)
            // Generous: a full parallel run (clusters of six redis-servers among the suites) can
            // stall a reply for seconds; a stopped server is refused at once anyway.
            redis.commandTimeout = .seconds(10)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            // The application main runs, with its middleware, /ready and /metrics.
            // Requests get a minute: a full parallel run can stall one for seconds (the timeout
            // itself has its own test, which sets it).
            let configuration = try TodoServiceConfiguration(
                environment: EnvironmentReader(["HTTP_REQUEST_TIMEOUT_MS": "60000"].merging(environment) { $1 }))
            let app = buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "todo-service-test"))
            try await app.test(.router) { testClient in try await body(testClient, client, server) }
        }
    }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
    }

    static func errorCode(_ response: TestResponse) -> String? {
        (object(response)["error"] as? [String: Any])?["code"] as? String
    }

    @Test func createGetListCompleteChangeAndDelete() async throws {
        try await withTodoAPI { http, redis in
            let created = try await http.execute(
                uri: "/todos", method: .post, headers: [HTTPField.Name("X-Correlation-ID")!: "flow-1"],
                body: Self.json(["user_id": "alice", "title": "Buy milk", "description": "2 litres", "priority": "high"]))
            #expect(created.status == .created)
            #expect(created.headers[HTTPField.Name("X-Correlation-ID")!] == "flow-1")
            let todo = Self.object(created)
            let id = try #require(todo["id"] as? String)
            #expect(todo["user_id"] as? String == "alice")
            #expect(todo["title"] as? String == "Buy milk")
            #expect(todo["description"] as? String == "2 litres")
            #expect(todo["priority"] as? String == "high")
            #expect(todo["status"] as? String == "open")
            #expect(todo["created_at"] is String && todo["updated_at"] is String)
            #expect(todo["completed_at"] is NSNull)

            let fetched = try await http.execute(uri: "/todos/\(id)", method: .get)
            #expect(fetched.status == .ok)
            #expect(Self.object(fetched)["title"] as? String == "Buy milk")
            let list = try await http.execute(uri: "/users/alice/todos", method: .get)
            #expect((try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [Any])?.count == 1)

            let renamed = try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": "Buy oat milk"]))
            #expect(Self.object(renamed)["title"] as? String == "Buy oat milk")
            let reprioritised = try await http.execute(
                uri: "/todos/\(id)/priority", method: .put, body: Self.json(["priority": "urgent"]))
            #expect(Self.object(reprioritised)["priority"] as? String == "urgent")
            let completed = try await http.execute(uri: "/todos/\(id)/complete", method: .post)
            #expect(completed.status == .ok)
            #expect(Self.object(completed)["status"] as? String == "completed")
            #expect(Self.object(completed)["completed_at"] is String)
            let deleted = try await http.execute(uri: "/todos/\(id)", method: .delete)
            #expect(deleted.status == .ok)
            #expect(Self.object(deleted)["status"] as? String == "deleted")
            #expect(try await http.execute(uri: "/todos/\(id)", method: .get).status == .notFound)

            // One event per change, in order, carrying the flow's correlation id.
            let entries = try await redis.xrange(TodoEvents.stream)
            #expect(entries.map { $0.string(named: "event_type") ?? "" } == [
                "todo.created", "todo.title_changed", "todo.priority_changed", "todo.completed", "todo.deleted",
            ])
            #expect(entries.allSatisfy { $0.string(named: "aggregate_id") == id })
            #expect(entries.first?.string(named: "correlation_id") == "flow-1")
            #expect(entries.first?.string(named: "causation_id")?.hasPrefix("req-") == true)
            #expect(entries[3].string(named: "event_version") == "2")
        }
    }

    @Test func badRequestsAreAnsweredWithAJSONError() async throws {
        try await withTodoAPI { http, redis in
            let cases: [(ByteBuffer, HTTPResponse.Status, String)] = [
                (ByteBuffer(string: "{not json"), .badRequest, "invalid_json"),
                (Self.json(["title": "x"]), .badRequest, "missing_field"),
                (Self.json(["user_id": "alice"]), .badRequest, "missing_field"),
                (Self.json(["user_id": 42, "title": "x"]), .badRequest, "invalid_json"),
                (Self.json(["user_id": "alice", "title": "   "]), .unprocessableContent, "invalid_field"),
                (Self.json(["user_id": "alice", "title": String(repeating: "x", count: 201)]), .unprocessableContent, "invalid_field"),
                (
                    Self.json(["user_id": "alice", "title": "x", "description": String(repeating: "d", count: 2001)]),
                    .unprocessableContent, "invalid_field"
                ),
                (Self.json(["user_id": "alice", "title": "x", "priority": "whenever"]), .unprocessableContent, "invalid_field"),
                (Self.json(["user_id": "bad user!", "title": "x"]), .unprocessableContent, "invalid_field"),
            ]
            for (body, status, code) in cases {
                let response = try await http.execute(uri: "/todos", method: .post, body: body)
                #expect(response.status == status, "\(String(buffer: body).prefix(60))")
                #expect(Self.errorCode(response) == code, "\(String(buffer: body).prefix(60)): \(String(buffer: response.body))")
            }
            #expect(try await redis.xlen(TodoEvents.stream) == 0)  // no event for a refused request
        }
    }

    @Test func unknownIdsAre404AndInvalidTransitionsAre409() async throws {
        try await withTodoAPI { http, redis in
            for (uri, method) in [
                ("/todos/nope", HTTPRequest.Method.get), ("/todos/nope/complete", .post), ("/todos/nope", .delete),
            ] {
                let response = try await http.execute(uri: uri, method: method)
                #expect(response.status == .notFound)
                #expect(Self.errorCode(response) == "not_found")
            }
            let missing = try await http.execute(uri: "/todos/nope/title", method: .put, body: Self.json(["title": "x"]))
            #expect(missing.status == .notFound)

            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "bob", "title": "t"]))
            let id = try #require(Self.object(created)["id"] as? String)
            #expect(try await http.execute(uri: "/todos/\(id)/complete", method: .post).status == .ok)
            let again = try await http.execute(uri: "/todos/\(id)/complete", method: .post)
            #expect(again.status == .conflict)
            #expect(Self.errorCode(again) == "conflict")
            #expect(try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": "u"])).status == .conflict)
            #expect(try await http.execute(uri: "/todos/\(id)", method: .delete).status == .ok)
            let completeDeleted = try await http.execute(uri: "/todos/\(id)/complete", method: .post)
            #expect(completeDeleted.status == .conflict)
            #expect(try await http.execute(uri: "/todos/\(id)", method: .delete).status == .conflict)
            #expect(try await redis.xlen(TodoEvents.stream) == 3)  // created, completed, deleted
        }
    }

    @Test func redisDownIsAnswered503AndTheServiceRecoversWhenItIsBack() async throws {
        try await withTodoAPI { http, _, server in
            await server.stop()
            let down = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "a", "title": "t"]))
            #expect(down.status == .serviceUnavailable)
            #expect(Self.errorCode(down) == "redis_unavailable")
            try await server.restart()
            var status = HTTPResponse.Status.serviceUnavailable
            for _ in 0..<50 where status != .created {
                status = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "a", "title": "t"])).status
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == .created)
        }
    }

    @Test func concurrentChangesToOneTodoEachWriteOneEvent() async throws {
        try await withTodoAPI { http, redis in
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "carol", "title": "t"]))
            let id = try #require(Self.object(created)["id"] as? String)
            let titles = (0..<20).map { "title \($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for title in titles {
                    group.addTask {
                        let response = try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": title]))
                        #expect(response.status == .ok)
                    }
                }
                try await group.waitForAll()
            }
            let changes = try await redis.xrange(TodoEvents.stream).filter { $0.string(named: "event_type") == "todo.title_changed" }
            let final = Self.object(try await http.execute(uri: "/todos/\(id)", method: .get))["title"] as? String
            // Every event's old title is the previous event's new title: no lost update.
            var current = "t"
            for change in changes {
                let data = try JSONSerialization.jsonObject(with: Data((change.string(named: "data") ?? "").utf8)) as? [String: Any]
                #expect(data?["old_title"] as? String == current)
                current = data?["new_title"] as? String ?? ""
            }
            #expect(current == final)
        }
    }

    @Test func aStreamKeyOfTheWrongTypeRefusesTheChangeAndWritesNoState() async throws {
        try await withTodoAPI { http, redis in
            try await redis.send("SET", TodoEvents.stream, "not a stream")
            let refused = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "erin", "title": "t"]))
            #expect(refused.status == .internalServerError)
            #expect(Self.errorCode(refused) == "internal_error")
            // The body names the request id to look up in the log, and no Redis internals.
            let message = ((Self.object(refused)["error"] as? [String: Any])?["message"] as? String) ?? ""
            let requestID = try #require(refused.headers[HTTPField.Name("X-Request-ID")!])
            #expect(message.contains(requestID))
            #expect(!message.contains("WRONGTYPE") && !message.contains("script") && !message.contains("todo-events"))
            // No todo without its event.
            let listed = try await http.execute(uri: "/users/erin/todos", method: .get)
            #expect((try JSONSerialization.jsonObject(with: Data(buffer: listed.body)) as? [Any])?.count == 0)
            #expect((try await redis.send("KEYS", "es:{todo-events}:*").array ?? []).isEmpty)

            try await redis.send("DEL", TodoEvents.stream)
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "erin", "title": "t"]))
            #expect(created.status == .created)
            #expect(try await redis.xlen(TodoEvents.stream) == 1)
        }
    }

    @Test func operationalRoutesAndRequestLimitsAreThere() async throws {
        try await withTodoAPI(environment: ["HTTP_MAX_BODY_BYTES": "2048"]) { http, _, _ in
            #expect(try await http.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await http.execute(uri: "/ready", method: .get).status == .ok)
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "f", "title": "t"]))
            #expect(created.status == .created)
            let metrics = String(buffer: try await http.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("http_requests_total") || metrics.contains("http_request"))
            let large = try await http.execute(
                uri: "/todos", method: .post,
                body: Self.json(["user_id": "f", "title": "t", "description": String(repeating: "d", count: 4096)]))
            #expect(large.status == .contentTooLarge)
            #expect(Self.errorCode(large) == "body_too_large")
        }
    }
}
