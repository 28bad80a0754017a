import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Testing

/// Runs the built `streamsctl` against private servers, in human and `--json` mode.
@Suite("streamsctl")
struct StreamsCtlTests {
    /// Runs `streamsctl arguments... --redis-url url` (no `--redis-url` when `url` is nil).
    private func ctl(_ arguments: [String], url: String?, environment: [String: String] = [:]) async throws
        -> (exitCode: Int32, output: String)
    {
        let executable = try ChildProcess.builtExecutable(named: "streamsctl")
        return try await ChildProcess.run(
            executable, arguments + (url.map { ["--redis-url", $0] } ?? []),
            environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
    }

    /// Runs a `--json` command that must succeed and returns its document.
    private func json(_ arguments: [String], url: String) async throws -> [String: Any] {
        let (code, output) = try await ctl(arguments + ["--json"], url: url)
        #expect(code == 0, "\(arguments): \(output)")
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(output)")
    }

    /// Runs a human-mode command that must succeed and returns its output.
    private func human(_ arguments: [String], url: String) async throws -> String {
        let (code, output) = try await ctl(arguments, url: url)
        #expect(code == 0, "\(arguments): \(output)")
        return output
    }

    @Test("dlq list and show, as tables and as JSON")
    func dlqListAndShow() async throws {
        try await OpsFixture.withClient { server, client in
            let first = try await OpsFixture.addDeadLetter(client, stream: "todo-events", group: "mail", reason: .undecodable)
            try await OpsFixture.addDeadLetter(client, stream: "todo-events", group: "mail", reason: .maxDeliveries)
            try await OpsFixture.addDeadLetter(
                client, stream: "todo-events", group: "mail", reason: .undecodable,
                fields: [("event_type", Array("todo.created".utf8)), ("data", [0xFF, 0x41])])

            let table = try await human(["dlq", "list"], url: server.url)
            #expect(table.contains("STREAM") && table.contains("DEAD LETTERS"))
            #expect(table.contains("todo-events  mail") && table.contains("max_deliveries=1 undecodable=2"))
            let list = try await json(["dlq", "list"], url: server.url)
            let streams = try #require(list["dead_letter_streams"] as? [[String: Any]])
            #expect(streams.count == 1 && streams[0]["key"] as? String == "todo-events:dlq:mail")
            #expect(streams[0]["count"] as? Int == 3)
            #expect(streams[0]["reasons"] as? [String: Int] == ["undecodable": 2, "max_deliveries": 1])

            let shown = try await human(["dlq", "show", "todo-events", "mail", "--reason", "undecodable"], url: server.url)
            #expect(shown.contains(first.description) && shown.contains("handler failed: boom"))
            #expect(shown.contains("(invalid UTF-8)") && !shown.contains("max_deliveries"))
            let show = try await json(["dlq", "show", "todo-events", "mail", "--limit", "2"], url: server.url)
            let letters = try #require(show["dead_letters"] as? [[String: Any]])
            #expect(letters.count == 2 && letters[0]["id"] as? String == first.description)
            #expect(letters.map { $0["reason"] as? String } == ["undecodable", "max_deliveries"])
            #expect(letters[0]["deliveries"] as? Int == 5 && letters[0]["event_type"] as? String == "todo.created")
            let invalid = try await json(["dlq", "show", "todo-events", "mail", "--limit", "3"], url: server.url)
            let fields = try #require((invalid["dead_letters"] as? [[String: Any]])?[2]["fields"] as? [[String: Any]])
            #expect(fields[1]["value_base64"] as? String == Data([0xFF, 0x41]).base64EncodedString())
        }
    }

    @Test("dlq replay --id, --reason, --all, and exactly one of them")
    func dlqReplay() async throws {
        try await OpsFixture.withClient { server, client in
            let a = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries, originalID: "1-1")
            let b = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable, originalID: "1-2")
            let c = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .deleted, originalID: "1-3")
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .unknownType, originalID: "1-4")

            // The originals' ids (1-1, ...) date from 1970, far past the processed-marker TTL:
            // replaying them takes --force (the refusal itself: OwnershipTests).
            let byID = try await json(["dlq", "replay", "s", "g", "--id", a.description, "--force"], url: server.url)
            let replayed = try #require(byID["replayed"] as? [[String: Any]])
            #expect(replayed.count == 1 && replayed[0]["dead_letter_id"] as? String == a.description)
            #expect(replayed[0]["original_entry_id"] as? String == "1-1")
            let newID = try #require((replayed[0]["new_entry_id"] as? String).flatMap { StreamEntryID($0) })
            #expect(try await client.xrange("s").first?.id == newID)
            #expect(try await client.xrange("s").first?.string(named: DeadLetter.replayedFromField) == "1-1")

            let byReason = try await human(["dlq", "replay", "s", "g", "--reason", "undecodable", "--force"], url: server.url)
            #expect(byReason.contains("replayed 1 dead letter(s) to s") && byReason.contains(b.description))
            let all = try await json(["dlq", "replay", "s", "g", "--all", "--force"], url: server.url)
            #expect((all["replayed"] as? [[String: Any]])?.count == 1)
            let skipped = try #require(all["skipped"] as? [[String: Any]])
            #expect(skipped.count == 1 && skipped[0]["dead_letter_id"] as? String == c.description)
            #expect(try await client.xrange("s").compactMap { $0.string(named: DeadLetter.replayedFromField) }
                == ["1-1", "1-2", "1-4"])

            for wrong in [["dlq", "replay", "s", "g"], ["dlq", "replay", "s", "g", "--all", "--id", a.description]] {
                let (code, output) = try await ctl(wrong, url: server.url)
                #expect(code != 0 && output.contains("choose exactly one of --id ID, --all or --reason REASON"))
            }
            let (code, output) = try await ctl(["dlq", "replay", "s", "g", "--id", "not-an-id"], url: server.url)
            #expect(code != 0 && output.contains("not-an-id"))
        }
    }

    @Test("dlq purge by reason, by age, and all")
    func dlqPurge() async throws {
        try await OpsFixture.withClient { server, client in
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries, id: "1000-0")
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable, id: "2000-0")
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable)
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)

            let byReason = try await json(
                ["dlq", "purge", "s", "g", "--reason", "undecodable", "--older-than", "7d"], url: server.url)
            #expect(byReason["removed"] as? Int == 1 && byReason["older_than"] as? String == "7d")
            let byAge = try await human(["dlq", "purge", "s", "g", "--older-than", "2h"], url: server.url)
            #expect(byAge.contains("purged 1 dead letter(s) from s:dlq:g"))
            let all = try await json(["dlq", "purge", "s", "g"], url: server.url)
            #expect(all["removed"] as? Int == 2)
            #expect(try await client.xlen(DeadLetter.streamKey(stream: "s", group: "g")) == 0)
            let (code, output) = try await ctl(["dlq", "purge", "s", "g", "--older-than", "7x"], url: server.url)
            #expect(code != 0 && output.contains("7x"))
        }
    }

    @Test("pending and groups")
    func pendingAndGroups() async throws {
        try await OpsFixture.withClient { server, client in
            let ids = try await OpsFixture.addEntries(client, "orders", count: 5)
            try await client.xgroupCreate("orders", group: "billing", startAt: "0")
            _ = try await client.xreadgroup(group: "billing", consumer: "worker-1", stream: "orders", count: 3)

            let pendingTable = try await human(["pending", "orders", "billing"], url: server.url)
            #expect(pendingTable.contains("3 pending") && pendingTable.contains("worker-1"))
            #expect(pendingTable.contains("DELIVERIES") && pendingTable.contains(ids[0].description))
            let pending = try await json(["pending", "orders", "billing", "--limit", "2"], url: server.url)
            #expect(pending["count"] as? Int == 3 && pending["smallest_id"] as? String == ids[0].description)
            let entries = try #require(pending["entries"] as? [[String: Any]])
            #expect(entries.count == 2 && entries[1]["id"] as? String == ids[1].description)
            #expect(entries[0]["consumer"] as? String == "worker-1" && entries[0]["deliveries"] as? Int == 1)
            #expect((pending["consumers"] as? [[String: Any]])?.first?["count"] as? Int == 3)

            let groupsTable = try await human(["groups", "orders"], url: server.url)
            #expect(groupsTable.contains("orders: 5 entries") && groupsTable.contains("LAG"))
            #expect(groupsTable.contains("billing") && groupsTable.contains("worker-1"))
            let groups = try await json(["groups", "orders"], url: server.url)
            #expect((groups["stream"] as? [String: Any])?["length"] as? Int == 5)
            let billing = try #require((groups["groups"] as? [[String: Any]])?.first)
            #expect(billing["name"] as? String == "billing" && billing["pending"] as? Int == 3)
            #expect(billing["lag"] as? Int == 2 && billing["last_delivered_id"] as? String == ids[2].description)
            #expect((billing["consumers"] as? [[String: Any]])?.first?["name"] as? String == "worker-1")
            try await client.send("XDEL", "orders", ids[4].description)
            let unknownLag = try await json(["groups", "orders"], url: server.url)
            #expect((unknownLag["groups"] as? [[String: Any]])?.first?["lag"] is NSNull)
            #expect(try await human(["groups", "orders"], url: server.url).contains("unknown"))
        }
    }

    @Test("trim --safe [--maxlen] and --maxlen")
    func trim() async throws {
        try await OpsFixture.withClient { server, client in
            let ids = try await OpsFixture.addEntries(client, "s", count: 10)
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            _ = try await client.xreadgroup(group: "g", consumer: "c", stream: "s", count: 4)  // 1...4 pending
            try await client.xack("s", group: "g", ids: Array(ids[0..<2]))

            let safe = try await json(["trim", "s", "--safe"], url: server.url)
            #expect(safe["removed"] as? Int == 2 && safe["min_id"] as? String == ids[2].description)
            #expect(safe["limiting_group"] as? String == "g" && safe["mode"] as? String == "safe")
            let safeMax = try await human(["trim", "s", "--safe", "--maxlen", "3"], url: server.url)
            #expect(safeMax.contains("removed 0 entries from s") && safeMax.contains("held back by group g"))
            let plain = try await human(["trim", "s", "--maxlen", "3"], url: server.url)
            #expect(plain.contains("removed 5 entries from s (MAXLEN 3)"))
            let plainJSON = try await json(["trim", "s", "--maxlen", "1"], url: server.url)
            #expect(plainJSON["removed"] as? Int == 2 && plainJSON["mode"] as? String == "maxlen")
            let (code, output) = try await ctl(["trim", "s"], url: server.url)
            #expect(code != 0 && output.contains("--safe"))
        }
    }

    @Test("a missing stream, a bad URL and an unreachable Redis exit 1 with a clear message")
    func errors() async throws {
        try await OpsFixture.withClient { server, _ in
            let missing = try await ctl(["groups", "nope"], url: server.url)
            #expect(missing.exitCode == 1 && missing.output.contains("stream nope does not exist"))
            let missingJSON = try await ctl(["pending", "nope", "g", "--json"], url: server.url)
            #expect(missingJSON.exitCode == 1 && missingJSON.output.contains("stream nope does not exist"))
            // REDIS_URL is used when --redis-url is not given.
            let fromEnvironment = try await ctl(["dlq", "list"], url: nil, environment: ["REDIS_URL": server.url])
            #expect(fromEnvironment.exitCode == 0 && fromEnvironment.output.contains("no dead letters"))
        }
        let invalid = try await ctl(["dlq", "list"], url: "http://example.com")
        #expect(invalid.exitCode == 1 && invalid.output.contains("invalid Redis URL"))
        let empty = try await ctl(["groups", "s"], url: "")
        #expect(empty.exitCode == 1 && empty.output.contains("invalid Redis URL"))
        // A port nothing listens on (the server above has stopped; its socket is gone).
        let refused = try await ctl(["dlq", "list", "--json"], url: "redis://user:secret@127.0.0.1:1/0")
        #expect(refused.exitCode == 1)
        #expect(refused.output.contains("cannot connect to Redis at redis://user:***@127.0.0.1:1/0"))
        #expect(!refused.output.contains("secret"))
        let noSocket = try await ctl(["groups", "s"], url: "unix:///nonexistent/redis.sock")
        #expect(noSocket.exitCode == 1 && noSocket.output.contains("cannot connect to Redis at unix:///nonexistent"))
    }
}
