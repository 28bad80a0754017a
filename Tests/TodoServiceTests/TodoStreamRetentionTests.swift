import Foundation
import Hummingbird
import HummingbirdTesting
import RedisClient
import TestSupport
import Testing
import TodoEvents

/// todo-service keeps `todo-events` bounded (`STREAM_MAX_LENGTH`, `STREAM_TRIM_EVERY`) by
/// trimming safely: what every group has handled goes, what a group still needs stays, and
/// the todos' histories keep everything.
@Suite("todo-service stream retention")
struct TodoStreamRetentionTests {
    @Test func theTypeStreamIsTrimmedSafelyAndTheHistoriesKeepEverything() async throws {
        try await TodoAPITests().withTodoAPI(environment: ["STREAM_MAX_LENGTH": "50", "STREAM_TRIM_EVERY": "20"]) { http, redis, _ in
            // Two groups: "fast" handles everything at once, "slow" has read nothing yet.
            _ = try await redis.send("XGROUP", "CREATE", TodoEvents.stream, "fast", "$", "MKSTREAM").throwingError()
            _ = try await redis.send("XGROUP", "CREATE", TodoEvents.stream, "slow", "$").throwingError()
            var ids: [String] = []
            for n in 0..<300 {
                let response = try await http.execute(
                    uri: "/todos", method: .post, body: TodoAPITests.json(["user_id": "rita", "title": "todo \(n)"]))
                #expect(response.status == .created)
                if let id = TodoAPITests.object(response)["id"] as? String { ids.append(id) }
            }
            // While "slow" has read nothing, every entry is needed: none is trimmed.
            #expect(try await redis.xlen(TodoEvents.stream) == 300)
            // "slow" catches up (reads and acknowledges everything), "fast" too.
            for group in ["fast", "slow"] {
                let read = try await redis.send(
                    "XREADGROUP", "GROUP", group, "c", "COUNT", "1000", "STREAMS", TodoEvents.stream, ">")
                let entryIDs = read.array?.first?.array?.last?.array?.compactMap { $0.array?.first?.string } ?? []
                #expect(entryIDs.count == 300)
                _ = try await redis.send(RedisCommand("XACK", arguments: [TodoEvents.stream, group] + entryIDs))
            }
            // The next publishes trim what both groups handled, keeping about the newest 50
            // (approximate: whole internal nodes of up to 100 entries).
            for n in 0..<40 {
                _ = try await http.execute(uri: "/todos", method: .post, body: TodoAPITests.json(["user_id": "rita", "title": "more \(n)"]))
            }
            var length = 0
            let bounded = try await eventually {
                length = try await redis.xlen(TodoEvents.stream)
                return length <= 150
            }
            #expect(bounded, "todo-events has \(length) entries")
            // Every todo still has its whole history.
            for id in ids.prefix(5) {
                let history = try await http.execute(uri: "/todos/\(id)/history", method: .get)
                #expect((TodoAPITests.object(history)["events"] as? [Any])?.count == 1)
            }
        }
    }
}
