import EventBus
import EventStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RedisClient
import Testing
import TodoEvents
import TodoService

/// todo-service event-sourced: history, state as of a version, concurrent changes
/// serialized, rebuilds with and without snapshots, old event versions.
extension TodoAPITests {
    static func array(_ response: TestResponse) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [[String: Any]] ?? []
    }

    static func history(_ http: any TestClientProtocol, _ id: String) async throws -> [[String: Any]] {
        let response = try await http.execute(uri: "/todos/\(id)/history", method: .get)
        #expect(response.status == .ok)
        #expect(object(response)["id"] as? String == id)
        return object(response)["events"] as? [[String: Any]] ?? []
    }

    static func repository(_ redis: RedisClient, snapshotEvery: Int) -> AggregateRepository<Todo> {
        let publisher = EventPublisher(client: redis, configuration: .init(streamName: { _ in TodoEvents.stream }))
        return AggregateRepository(
            store: EventStore(aggregateType: Todo.aggregateType, client: redis, publisher: publisher), snapshotEvery: snapshotEvery)
    }

    @Test func historyAndTheTodoAsOfAVersion() async throws {
        try await withTodoAPI { http, redis in
            let created = try await http.execute(
                uri: "/todos", method: .post, body: Self.json(["user_id": "dan", "title": "Buy milk", "priority": "low"]))
            let id = try #require(Self.object(created)["id"] as? String)
            _ = try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": "Buy oat milk"]))
            _ = try await http.execute(uri: "/todos/\(id)/priority", method: .put, body: Self.json(["priority": "high"]))
            let completed = try await http.execute(uri: "/todos/\(id)/complete", method: .post)
            #expect(completed.status == .ok)

            let events = try await Self.history(http, id)
            #expect(events.map { $0["version"] as? Int } == [1, 2, 3, 4])
            #expect(events.map { $0["event_type"] as? String } == [
                "todo.created", "todo.title_changed", "todo.priority_changed", "todo.completed",
            ])
            #expect(events.map { $0["event_version"] as? Int } == [1, 1, 1, 2])
            #expect(events.allSatisfy { ($0["timestamp"] as? String).flatMap(RFC3339.date(from:)) != nil })
            #expect((events[1]["data"] as? [String: Any])?["new_title"] as? String == "Buy oat milk")

            func asOf(_ version: String) async throws -> TestResponse {
                try await http.execute(uri: "/todos/\(id)?version=\(version)", method: .get)
            }
            let v1 = Self.object(try await asOf("1"))
            #expect(v1["title"] as? String == "Buy milk" && v1["priority"] as? String == "low" && v1["status"] as? String == "open")
            let v2 = Self.object(try await asOf("2"))
            #expect(v2["title"] as? String == "Buy oat milk" && v2["priority"] as? String == "low")
            #expect(Self.object(try await asOf("3"))["priority"] as? String == "high")
            let v4 = Self.object(try await asOf("4"))
            #expect(v4["status"] as? String == "completed" && v4["completed_at"] is String)
            #expect(v4 as NSDictionary == Self.object(completed) as NSDictionary)
            #expect(try await asOf("5").status == .notFound)
            for bad in ["0", "-1", "abc", "1.5"] {
                let response = try await asOf(bad)
                #expect(response.status == .unprocessableContent, "\(bad)")
            }

            // Deleted: the todo is gone (404), its history stays.
            #expect(try await http.execute(uri: "/todos/\(id)", method: .delete).status == .ok)
            #expect(try await http.execute(uri: "/todos/\(id)", method: .get).status == .notFound)
            #expect(try await Self.history(http, id).map { $0["event_type"] as? String }.last == "todo.deleted")
            #expect(Self.object(try await asOf("5"))["status"] as? String == "deleted")
            #expect(try await http.execute(uri: "/todos/nope/history", method: .get).status == .notFound)
            #expect(try await redis.send("ZCARD", "es:{todo-events}:user:dan").int == 0)
        }
    }

    @Test func concurrentTitleChangesAreSerializedWithoutGaps() async throws {
        try await withTodoAPI { http, _ in
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "carol", "title": "t"]))
            let id = try #require(Self.object(created)["id"] as? String)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for n in 0..<20 {
                    group.addTask {
                        try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": "title \(n)"])).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // A change that lost every retry is answered 409, nothing else.
            #expect(statuses.allSatisfy { $0 == .ok || $0 == .conflict })
            let succeeded = statuses.filter { $0 == .ok }.count
            #expect(succeeded > 0)
            let events = try await Self.history(http, id)
            #expect(events.map { $0["version"] as? Int } == Array(1...(succeeded + 1)))
            let final = Self.object(try await http.execute(uri: "/todos/\(id)", method: .get))["title"] as? String
            #expect((events.last?["data"] as? [String: Any])?["new_title"] as? String == final)
        }
    }

    @Test func aRebuiltTodoEqualsTheLiveOneWithAndWithoutSnapshots() async throws {
        try await withTodoAPI(environment: ["TODO_SNAPSHOT_EVERY": "3"]) { http, redis, _ in
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "eve", "title": "t0"]))
            let id = try #require(Self.object(created)["id"] as? String)
            for n in 1...4 {
                _ = try await http.execute(uri: "/todos/\(id)/title", method: .put, body: Self.json(["title": "t\(n)"]))
            }
            let live = Self.object(try await http.execute(uri: "/todos/\(id)", method: .get))
            let snapshotKey = "es:{todo-events}:\(id):snapshot"
            #expect(try await redis.send("HGET", snapshotKey, "version").string == "3")

            let repository = Self.repository(redis, snapshotEvery: 3)
            let fromSnapshot = try #require(try await repository.load(id))
            let fromEvents = try #require(try await repository.rebuild(id))
            #expect(fromSnapshot.version == 5 && fromEvents.version == 5)
            #expect(fromSnapshot.aggregate == fromEvents.aggregate)
            let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(fromSnapshot.aggregate)) as? NSDictionary
            #expect(encoded == live as NSDictionary)

            // A snapshot of an older schema (here one that no longer decodes) is ignored.
            _ = try await redis.send("HSET", snapshotKey, "schema_version", "0", "state", #"{"old":true}"#)
            #expect(try await repository.load(id)?.aggregate == fromEvents.aggregate)
            #expect(Self.object(try await http.execute(uri: "/todos/\(id)", method: .get)) as NSDictionary == live as NSDictionary)
            // Without snapshots at all.
            #expect(try await Self.repository(redis, snapshotEvery: 0).load(id)?.aggregate == fromEvents.aggregate)
        }
    }

    @Test func aTodoCompletedV1EventInTheHistoryIsRead() async throws {
        try await withTodoAPI { http, redis in
            let created = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "fay", "title": "old"]))
            let id = try #require(Self.object(created)["id"] as? String)
            // As an older writer (or redis-cli) stored it: v1, with no completion time.
            let fields = [
                "event_id", "e-v1", "event_type", "todo.completed", "event_version", "1", "aggregate_type", "todo",
                "aggregate_id", id, "timestamp", "2030-01-02T03:04:05.000000Z", "correlation_id", "c", "causation_id", "c",
                "data", #"{"todo_id":"\#(id)","user_id":"fay","title":"old"}"#,
            ]
            _ = try await redis.send(RedisCommand("XADD", arguments: ["es:{todo-events}:\(id)", "0-2"] + fields))
            let todo = Self.object(try await http.execute(uri: "/todos/\(id)", method: .get))
            #expect(todo["status"] as? String == "completed")
            #expect(todo["completed_at"] as? String == "2030-01-02T03:04:05.000000Z")
            #expect(todo["title"] as? String == "old" && todo["user_id"] as? String == "fay")
            let events = try await Self.history(http, id)
            #expect(events.map { $0["event_version"] as? Int } == [1, 1])
            #expect(try await http.execute(uri: "/todos/\(id)/complete", method: .post).status == .conflict)
        }
    }

    @Test func aUserIndexOfTheWrongTypeRefusesTheCreateAndWritesNothing() async throws {
        try await withTodoAPI { http, redis in
            _ = try await redis.send("SET", "es:{todo-events}:user:gus", "not a sorted set")
            let refused = try await http.execute(uri: "/todos", method: .post, body: Self.json(["user_id": "gus", "title": "t"]))
            #expect(refused.status == .internalServerError)
            #expect(try await redis.xlen(TodoEvents.stream) == 0)
            #expect(try await redis.send("KEYS", "es:{todo-events}:*").array?.compactMap(\.string) == ["es:{todo-events}:user:gus"])
        }
    }
}
