import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Runs the built `streamsctl streams`, `tail` and `events` against private servers.
@Suite("streamsctl streams, tail, events")
struct StreamsCtlStreamTests {
    /// Runs `streamsctl arguments... --redis-url url`.
    private func ctl(_ arguments: [String], url: String) async throws -> (exitCode: Int32, output: String) {
        try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streamsctl"), arguments + ["--redis-url", url],
            environment: ["PATH": "/usr/bin:/bin"])
    }

    /// Runs a command that must succeed and returns its output.
    private func output(_ arguments: [String], url: String) async throws -> String {
        let (code, output) = try await ctl(arguments, url: url)
        #expect(code == 0, "\(arguments): \(output)")
        return output
    }

    /// The output's lines, without the empty last one.
    private func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// Each line parsed as one JSON object.
    private func jsonLines(_ text: String) throws -> [[String: Any]] {
        try lines(text).map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
        }
    }

    /// A private server, a client and a publisher writing every aggregate type to `stream`.
    private func withPublisher(
        _ body: (_ url: String, _ client: RedisClient, _ stream: String, _ publisher: EventPublisher) async throws -> Void
    ) async throws {
        try await OpsFixture.withClient { server, client in
            let stream = uniqueStream("todo-events")
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            try await body(server.url, client, stream, publisher)
        }
    }

    @Test("streams: lengths, ids, groups, retention; dead letters only with --all; --json")
    func streams() async throws {
        try await withPublisher { url, client, stream, publisher in
            let ids = try await publisher.publish((1...5).map { makeTodo($0) })
            try await client.xgroupCreate(stream, group: "mail", startAt: "0")
            try await client.xgroupCreate(stream, group: "analytics", startAt: "0")
            let orderIDs = try await OpsFixture.addEntries(client, "orders", count: 4)
            try await client.send("XTRIM", "orders", "MAXLEN", "2")
            try await client.send("XDEL", "orders", orderIDs[2].description)
            let invoiceIDs = try await OpsFixture.addEntries(client, "invoices", count: 3)
            try await client.send("XTRIM", "invoices", "MAXLEN", "1")
            try await client.send("SET", "not-a-stream", "x")
            try await OpsFixture.addDeadLetter(client, stream: stream, group: "mail", reason: .undecodable)

            let table = lines(try await output(["streams"], url: url))
            #expect(table.count == 4, "\(table)")
            #expect(table[0].contains("STREAM") && table[0].contains("RETENTION"))
            let row = try #require(table.first { $0.hasPrefix(stream + " ") })
            #expect(row.contains("  5  ") && row.contains(ids[0].description) && row.contains(ids[4].description))
            #expect(row.contains("2: analytics, mail") || row.contains("2: mail, analytics"))
            #expect(row.hasSuffix("none"))
            let orders = try #require(table.first { $0.hasPrefix("orders ") })
            #expect(orders.hasSuffix("trimmed (3 removed, max deleted id \(orderIDs[2]))"), "\(orders)")
            let invoices = try #require(table.first { $0.hasPrefix("invoices ") })
            #expect(invoices.contains("  1  ") && invoices.hasSuffix("trimmed (2 removed, ids before \(invoiceIDs[2]))"), "\(invoices)")
            #expect(!table.joined().contains(":dlq:") && !table.joined().contains("not-a-stream"))

            let all = try await output(["streams", "--all"], url: url)
            #expect(all.contains("\(stream):dlq:mail"))
            let matching = try await output(["streams", "--pattern", "ord*"], url: url)
            #expect(matching.contains("orders") && !matching.contains(stream))
            #expect(try await output(["streams", "--pattern", "nothing*"], url: url).contains("no streams match nothing*"))

            let document = try JSONSerialization.jsonObject(with: Data(try await output(["streams", "--json"], url: url).utf8))
            let streams = try #require((document as? [String: Any])?["streams"] as? [[String: Any]])
            #expect(streams.map { $0["name"] as? String } == ["invoices", "orders", stream].sorted())
            let todo = try #require(streams.first { $0["name"] as? String == stream })
            #expect(todo["length"] as? Int == 5 && todo["group_count"] as? Int == 2)
            #expect(Set(todo["groups"] as? [String] ?? []) == ["mail", "analytics"])
            #expect(todo["first_entry_id"] as? String == ids[0].description)
            #expect(todo["last_entry_id"] as? String == ids[4].description)
            #expect(todo["retention"] as? String == "none" && todo["max_deleted_entry_id"] is NSNull)
            #expect(todo["removed_entries"] as? Int == 0)
            let trimmed = try #require(streams.first { $0["name"] as? String == "orders" })
            #expect(trimmed["length"] as? Int == 1 && trimmed["retention"] as? String == "trimmed")
            #expect(trimmed["max_deleted_entry_id"] as? String == orderIDs[2].description)
            #expect(trimmed["removed_entries"] as? Int == 3 && trimmed["group_count"] as? Int == 0)
            let invoiceStream = try #require(streams.first { $0["name"] as? String == "invoices" })
            #expect(invoiceStream["retention"] as? String == "trimmed" && invoiceStream["removed_entries"] as? Int == 2)
            #expect(invoiceStream["max_deleted_entry_id"] is NSNull)
        }
    }

    @Test("tail: the newest N, --type, --from, --json lines, entries that are not events")
    func tail() async throws {
        try await withPublisher { url, client, stream, publisher in
            var ids: [StreamEntryID] = []
            for index in 1...30 {
                if index % 3 == 0 {
                    ids.append(try await publisher.publish(TodoCompleted(todoID: "todo-\(index)")))
                } else {
                    ids.append(try await publisher.publish(makeTodo(index)))
                }
            }
            let malformed = try await client.xadd(stream, fields: [("note", "hello world")])

            let defaultTail = lines(try await output(["tail", stream], url: url))
            #expect(defaultTail.count == 20)
            #expect(defaultTail.last == "\(malformed)  (not an event: no data field) note=hello world")
            #expect(defaultTail.first?.hasPrefix(ids[11].description + "  ") == true)

            let three = lines(try await output(["tail", stream, "--count", "3"], url: url))
            #expect(three.count == 3 && three[0].hasPrefix(ids[28].description + "  "))
            let line = three[1].components(separatedBy: "  ")
            #expect(line[0] == ids[29].description && line[2] == "todo.completed v1" && line[3] == "todo-30")
            #expect(line[1].hasSuffix("Z") && line[4] == #"{"todo_id":"todo-30"}"#)

            let completed = lines(try await output(["tail", stream, "--type", "todo.completed", "-n", "4"], url: url))
            #expect(completed.map { $0.components(separatedBy: "  ")[0] } == [20, 23, 26, 29].map { ids[$0].description })
            #expect(completed.allSatisfy { $0.contains("todo.completed v1") })
            let fewer = lines(try await output(["tail", stream, "--type", "todo.completed", "-n", "50"], url: url))
            #expect(fewer.count == 10)

            let fromTail = lines(try await output(["tail", stream, "--from", ids[5].description, "-n", "2"], url: url))
            #expect(fromTail.map { $0.components(separatedBy: "  ")[0] } == [ids[5].description, ids[6].description])

            let objects = try jsonLines(try await output(["tail", stream, "--count", "2", "--json"], url: url))
            #expect(objects.count == 2)
            #expect(objects[0]["entry_id"] as? String == ids[29].description)
            #expect(objects[0]["event_type"] as? String == "todo.completed" && objects[0]["event_version"] as? Int == 1)
            #expect(objects[0]["aggregate_type"] as? String == "todo" && objects[0]["aggregate_id"] as? String == "todo-30")
            #expect((objects[0]["data"] as? [String: Any])?["todo_id"] as? String == "todo-30")
            #expect(objects[0]["event_id"] is String && objects[0]["correlation_id"] is String)
            #expect(objects[0]["causation_id"] is String && objects[0]["timestamp"] is String)
            #expect(objects[0]["metadata"] is [String: Any])
            #expect(objects[1]["entry_id"] as? String == malformed.description)
            #expect(objects[1]["not_an_event"] as? String == "no data field")
            #expect(objects[1]["fields"] as? [String: String] == ["note": "hello world"])

            let created = try jsonLines(try await output(["tail", stream, "--type", "todo.created", "-n", "1", "--json"], url: url))
            let data = try #require(created.first?["data"] as? [String: Any])
            #expect(data["title"] as? String == "Task 29" && data["priority"] as? Int == 4)
        }
    }

    @Test("tail --follow prints new events as they arrive and exits 0 on SIGINT")
    func tailFollow() async throws {
        try await withPublisher { url, client, stream, publisher in
            try await publisher.publish(makeTodo(1))
            let outputPath = FileManager.default.temporaryDirectory
                .appendingPathComponent("tail-follow-\(UUID().uuidString.prefix(8)).out").path
            defer { try? FileManager.default.removeItem(atPath: outputPath) }
            let child = try ChildProcess(
                executable: try ChildProcess.builtExecutable(named: "streamsctl"),
                arguments: ["tail", stream, "--follow", "--type", "todo.created", "--redis-url", url],
                environment: ["PATH": "/usr/bin:/bin"], outputPath: outputPath)
            defer {
                child.send(SIGKILL)
                child.wait()
            }
            func printed() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
            #expect(try await eventually(timeout: .seconds(3)) { printed().contains("todo-1") }, "\(printed())")

            try await publisher.publish(makeTodo(2))
            try await publisher.publish(TodoCompleted(todoID: "todo-2"))
            try await client.xadd(stream, fields: [("event_type", "todo.created"), ("broken", "yes")])
            try await publisher.publish(makeTodo(3))
            #expect(try await eventually(timeout: .seconds(3)) { printed().contains("todo-3") }, "\(printed())")
            let shown = lines(printed())
            #expect(shown.count == 4, "\(shown)")
            #expect(shown[1].contains("todo.created v1  todo-2") && shown[3].contains("todo.created v1  todo-3"))
            #expect(shown[2].contains("(not an event: no data field) event_type=todo.created broken=yes") && !printed().contains("todo.completed"))

            child.send(SIGINT)
            let status = try #require(await child.wait(timeout: .seconds(3)), "still running after SIGINT")
            #expect(ChildProcess.exitCode(of: status) == 0, "status \(status): \(printed())")
        }
    }

    @Test("events --aggregate: one aggregate's events in stream order")
    func events() async throws {
        try await withPublisher { url, client, stream, publisher in
            var mine: [StreamEntryID] = []
            for index in 1...6 {
                if index % 2 == 0 {
                    mine.append(try await publisher.publish(makeTodo(index, aggregate: "todo-a")))
                } else {
                    try await publisher.publish(makeTodo(index))
                }
            }
            mine.append(try await publisher.publish(TodoCompleted(todoID: "todo-a")))

            let shown = lines(try await output(["events", stream, "--aggregate", "todo-a"], url: url))
            #expect(shown.map { $0.components(separatedBy: "  ")[0] } == mine.map(\.description))
            #expect(shown.allSatisfy { $0.components(separatedBy: "  ")[3] == "todo-a" })
            #expect(shown[0].contains(#""title":"Task 2""#) && shown[3].contains("todo.completed v1"))

            let objects = try jsonLines(try await output(["events", stream, "--aggregate", "todo-a", "--json"], url: url))
            #expect(objects.map { $0["entry_id"] as? String } == mine.map(\.description))
            #expect(objects.map { $0["event_type"] as? String } == Array(repeating: "todo.created", count: 3) + ["todo.completed"])

            let none = try await ctl(["events", stream, "--aggregate", "nobody"], url: url)
            #expect(none.exitCode == 0 && none.output == "streamsctl: no events for aggregate nobody\n")
        }
    }

    @Test("tail --type and events read across 1000-entry pages")
    func paging() async throws {
        try await withPublisher { url, client, stream, publisher in
            var tracked: [StreamEntryID] = []
            for batch in 0..<3 {
                // 1,000 others then one event of todo-p: the tracked events sit on different pages.
                try await publisher.publish((0..<1000).map { makeTodo(batch * 1000 + $0) })
                tracked.append(try await publisher.publish(TodoCompleted(todoID: "todo-p")))
            }
            let completed = lines(try await output(["tail", stream, "--type", "todo.completed", "-n", "2"], url: url))
            #expect(completed.map { $0.components(separatedBy: "  ")[0] } == tracked.suffix(2).map(\.description))
            let all = lines(try await output(["tail", stream, "--type", "todo.completed", "-n", "5"], url: url))
            #expect(all.map { $0.components(separatedBy: "  ")[0] } == tracked.map(\.description))
            let fromStart = lines(try await output(["tail", stream, "--from", "0", "--type", "todo.completed"], url: url))
            #expect(fromStart.count == 3)
            let events = lines(try await output(["events", stream, "--aggregate", "todo-p"], url: url))
            #expect(events.map { $0.components(separatedBy: "  ")[0] } == tracked.map(\.description))
            #expect(lines(try await output(["tail", stream, "-n", "1500"], url: url)).count == 1500)
        }
    }

    @Test("a missing stream or a key of another type exits 1 with a clear message")
    func errors() async throws {
        try await OpsFixture.withClient { server, client in
            try await client.send("SET", "plain", "x")
            for arguments in [["tail", "nope"], ["tail", "nope", "--follow"], ["events", "nope", "--aggregate", "a"]] {
                let missing = try await ctl(arguments, url: server.url)
                #expect(missing.exitCode == 1 && missing.output == "streamsctl: stream nope does not exist\n", "\(arguments)")
            }
            for arguments in [["tail", "plain"], ["events", "plain", "--aggregate", "a", "--json"]] {
                let wrong = try await ctl(arguments, url: server.url)
                #expect(wrong.exitCode == 1 && wrong.output.contains("WRONGTYPE key plain holds a string, not a stream"))
            }
            let empty = try await ctl(["streams"], url: server.url)
            #expect(empty.exitCode == 0 && empty.output == "no streams\n")
            let badCount = try await ctl(["tail", "s", "--count", "-1"], url: server.url)
            #expect(badCount.exitCode != 0 && badCount.output.contains("--count"))
        }
    }
}
