import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Synchronization
import TestSupport
import Testing

/// Runs `streamsctl` with streams split into partitions, as the services write them with
/// `STREAM_PARTITIONS`, against a private server.
enum PartitionedCtl {
    /// Runs `streamsctl arguments... --redis-url url` (plus `--partitions N` when given).
    static func run(
        _ arguments: [String], url: String, partitions: Int?, environment: [String: String] = [:]
    ) async throws -> (exitCode: Int32, output: String) {
        let executable = try ChildProcess.builtExecutable(named: "streamsctl")
        return try await ChildProcess.run(
            executable, arguments + ["--redis-url", url] + (partitions.map { ["--partitions", "\($0)"] } ?? []),
            environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
    }

    /// A command that must succeed: its output.
    static func human(_ arguments: [String], url: String, partitions: Int?) async throws -> String {
        let (code, output) = try await run(arguments, url: url, partitions: partitions)
        #expect(code == 0, "\(arguments): \(output)")
        return output
    }

    /// A `--json` command that must succeed: its document.
    static func json(_ arguments: [String], url: String, partitions: Int?) async throws -> [String: Any] {
        let output = try await human(arguments + ["--json"], url: url, partitions: partitions)
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(output)")
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// Runs `tail <stream> --follow` with `layout`, publishes one event to each partition, and
    /// checks that each is printed once, naming its partition; then SIGINT: exit 0.
    static func checkFollow(url: String, stream: String, layout: StreamPartitions, publisher: EventPublisher) async throws {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("tail-follow-\(UUID().uuidString.prefix(8)).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try ChildProcess(
            executable: try ChildProcess.builtExecutable(named: "streamsctl"),
            arguments: ["tail", stream, "--follow", "-n", "0", "--redis-url", url, "--partitions", "\(layout.count)"],
            environment: ["PATH": "/usr/bin:/bin"], outputPath: outputPath)
        defer {
            child.send(SIGKILL)
            child.wait()
        }
        func printed() -> [String] { lines((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "") }
        let followed = aggregates("followed", perPartition: 1, layout).map { $0[0] }
        // Published until the first one shows (the child may not be reading yet), then the others.
        #expect(
            try await eventually(timeout: .seconds(10)) {
                try await publisher.publish(makeTodo(0, aggregate: followed[0]))
                return printed().contains { $0.contains(followed[0]) }
            })
        for aggregate in followed.dropFirst() { try await publisher.publish(makeTodo(0, aggregate: aggregate)) }
        #expect(try await eventually { followed.allSatisfy { aggregate in printed().contains { $0.contains(aggregate) } } }, "\(printed())")
        for (partition, aggregate) in followed.enumerated().dropFirst() {
            let shown = printed().filter { $0.contains("  \(aggregate)  ") }
            let cells = shown.first?.split(separator: " ").map(String.init) ?? []
            #expect(shown.count == 1 && cells.count > 4, "\(shown)")
            #expect(cells.count > 4 && cells[1] == "{\(layout.tags[partition])}" && cells[3] == "todo.created", "\(shown)")
        }
        child.send(SIGINT)
        let status = try #require(await child.wait(timeout: .seconds(5)), "still running after SIGINT")
        #expect(ChildProcess.exitCode(of: status) == 0, "status \(status): \(printed())")
    }

    /// Aggregate ids whose events go to each partition of `layout` in turn: `count` per partition.
    static func aggregates(_ prefix: String, perPartition count: Int, _ layout: StreamPartitions) -> [[String]] {
        var byPartition = Array(repeating: [String](), count: layout.count)
        var index = 0
        while byPartition.contains(where: { $0.count < count }) {
            let id = "\(prefix)-\(index)"
            let partition = layout.partition(of: id)
            if byPartition[partition].count < count { byPartition[partition].append(id) }
            index += 1
        }
        return byPartition
    }
}

@Suite("streamsctl with partitions")
struct StreamsCtlPartitionTests {
    @Test("groups: lag, pending and consumers added up over partitions; --per-partition; pending names each partition")
    func groupsAndPending() async throws {
        try await OpsFixture.withClient { server, client in
            let layout = try StreamPartitions(count: 3)
            let stream = uniqueStream("todo-events")
            let keys = layout.streamKeys(stream)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: layout))
            // 4 events in each partition.
            for (partition, ids) in PartitionedCtl.aggregates("todo", perPartition: 4, layout).enumerated() {
                let published = try await publisher.publish(ids.map { makeTodo(0, aggregate: $0) })
                #expect(published.count == 4)
                #expect(try await client.xlen(keys[partition]) == 4)
            }
            // billing on every partition: partition i has i + 1 entries pending to worker-1, the rest unread.
            for (partition, key) in keys.enumerated() {
                try await client.xgroupCreate(key, group: "billing", startAt: "0")
                _ = try await client.xreadgroup(group: "billing", consumer: "worker-1", stream: key, count: partition + 1)
            }
            // mail on two partitions only, nothing read.
            try await client.xgroupCreate(keys[0], group: "mail", startAt: "0")
            try await client.xgroupCreate(keys[2], group: "mail", startAt: "0")

            let document = try await PartitionedCtl.json(["groups", stream], url: server.url, partitions: 3)
            let info = try #require(document["stream"] as? [String: Any])
            #expect(info["name"] as? String == stream && info["length"] as? Int == 12 && info["groups"] as? Int == 2)
            #expect(info["partition_count"] as? Int == 3 && (info["partitions"] as? [[String: Any]])?.count == 3)
            #expect((info["partitions"] as? [[String: Any]])?.map { $0["name"] as? String } == keys)
            let groups = try #require(document["groups"] as? [[String: Any]])
            let billing = try #require(groups.first { $0["name"] as? String == "billing" })
            #expect(billing["pending"] as? Int == 6 && billing["lag"] as? Int == 6 && billing["entries_read"] as? Int == 6)
            #expect(billing["partition_count"] as? Int == 3)
            let consumers = try #require(billing["consumers"] as? [[String: Any]])
            #expect(consumers.count == 1 && consumers[0]["name"] as? String == "worker-1")
            #expect(consumers[0]["pending"] as? Int == 6 && consumers[0]["partitions"] as? Int == 3)
            let rows = try #require(billing["partitions"] as? [[String: Any]])
            #expect(rows.map { $0["stream"] as? String } == keys)
            #expect(rows.map { $0["pending"] as? Int } == [1, 2, 3] && rows.map { $0["lag"] as? Int } == [3, 2, 1])
            let mail = try #require(groups.first { $0["name"] as? String == "mail" })
            #expect(mail["lag"] as? Int == 8 && mail["pending"] as? Int == 0 && mail["partition_count"] as? Int == 2)

            let table = try await PartitionedCtl.human(["groups", stream], url: server.url, partitions: 3)
            let lines = PartitionedCtl.lines(table)
            #expect(lines.first?.hasPrefix("\(stream): 12 entries in 3 partitions (") == true, "\(table)")
            #expect(lines.first?.hasSuffix("), 2 group(s)") == true)
            let billingRow = try #require(lines.first { $0.hasPrefix("billing ") }, "\(table)")
            #expect(billingRow.split(separator: " ").prefix(5) == ["billing", "3/3", "1", "6", "6"], "\(billingRow)")
            let mailRow = try #require(lines.first { $0.hasPrefix("mail ") })
            #expect(mailRow.split(separator: " ").prefix(5) == ["mail", "2/3", "0", "0", "8"], "\(mailRow)")
            #expect(lines.contains { $0.split(separator: " ") == ["billing", "worker-1", "3", "6"] + [$0.split(separator: " ").last!] })
            #expect(!table.contains(keys[0]), "the partitions are shown with --per-partition only")

            let perPartition = try await PartitionedCtl.human(["groups", stream, "--per-partition"], url: server.url, partitions: 3)
            for (partition, key) in keys.enumerated() {
                let row = try #require(
                    PartitionedCtl.lines(perPartition).first { $0.hasPrefix("billing ") && $0.contains(key) }, "\(perPartition)")
                let cells = row.split(separator: " ")
                #expect(cells[1] == key && cells[2] == "1" && cells[3] == "\(partition + 1)" && cells[4] == "\(3 - partition)")
                #expect(PartitionedCtl.lines(perPartition).contains { $0.hasPrefix(key + " ") && $0.contains(" 4 ") })
            }
            #expect(!PartitionedCtl.lines(perPartition).contains { $0.hasPrefix("mail ") && $0.contains(keys[1]) })

            // A partition stream's own key: that partition alone, as a plain stream.
            let one = try await PartitionedCtl.human(["groups", keys[1]], url: server.url, partitions: 3)
            #expect(one.hasPrefix("\(keys[1]): 4 entries ("), "\(one)")

            // pending: every partition's entries, oldest first, each with its partition.
            let pending = try await PartitionedCtl.json(["pending", stream, "billing"], url: server.url, partitions: 3)
            #expect(pending["count"] as? Int == 6 && pending["partition_count"] as? Int == 3)
            let entries = try #require(pending["entries"] as? [[String: Any]])
            #expect(entries.count == 6)
            let ids = entries.compactMap { ($0["id"] as? String).flatMap { StreamEntryID($0) } }
            #expect(ids == ids.sorted() && ids.count == 6)
            #expect(entries.map { $0["stream"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") }
                == [keys[0], keys[1], keys[1], keys[2], keys[2], keys[2]])
            #expect(entries.allSatisfy { entry in (entry["stream"] as? String).map { keys.firstIndex(of: $0) } == entry["partition"] as? Int })
            #expect((pending["partitions"] as? [[String: Any]])?.map { $0["count"] as? Int } == [1, 2, 3])
            #expect((pending["consumers"] as? [[String: Any]])?.first?["count"] as? Int == 6)
            #expect(pending["smallest_id"] as? String == ids.first?.description)
            let oldest = try await PartitionedCtl.json(["pending", stream, "billing", "--limit", "2"], url: server.url, partitions: 3)
            #expect((oldest["entries"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ids.prefix(2).map(\.description))
            let pendingTable = try await PartitionedCtl.human(["pending", stream, "billing"], url: server.url, partitions: 3)
            #expect(pendingTable.contains("\(stream) / billing: 6 pending in 3 partitions, ids "), "\(pendingTable)")
            #expect(pendingTable.contains("PARTITION") && keys.allSatisfy { pendingTable.contains($0) })
            let mailPending = try await PartitionedCtl.human(["pending", stream, "mail"], url: server.url, partitions: 3)
            #expect(mailPending.contains("nothing pending") && mailPending.contains("no group mail on \(keys[1])"), "\(mailPending)")
            let (code, output) = try await PartitionedCtl.run(["pending", stream, "nobody"], url: server.url, partitions: 3)
            #expect(code == 1 && output.contains("consumer group nobody does not exist on stream \(stream)"), "\(output)")

            // The partition count: from STREAM_PARTITIONS unless --partitions, checked.
            let fromEnvironment = try await PartitionedCtl.run(
                ["groups", stream, "--json"], url: server.url, partitions: nil, environment: ["STREAM_PARTITIONS": "3"])
            #expect(fromEnvironment.exitCode == 0 && fromEnvironment.output.contains("\"partition_count\" : 3"), "\(fromEnvironment.output)")
            let overridden = try await PartitionedCtl.run(
                ["groups", stream], url: server.url, partitions: 1, environment: ["STREAM_PARTITIONS": "3"])
            #expect(overridden.exitCode == 1 && overridden.output.contains("stream \(stream) does not exist"))
            let zero = try await PartitionedCtl.run(["groups", stream], url: server.url, partitions: 0)
            #expect(zero.exitCode != 0 && zero.output.contains("--partitions must be from 1 to 1024, got 0"), "\(zero.output)")
            let tooMany = try await PartitionedCtl.run(["dlq", "list"], url: server.url, partitions: 1025)
            #expect(tooMany.exitCode != 0 && tooMany.output.contains("--partitions must be from 1 to 1024, got 1025"))
            let invalid = try await PartitionedCtl.run(
                ["groups", stream], url: server.url, partitions: nil, environment: ["STREAM_PARTITIONS": "three"])
            #expect(invalid.exitCode == 1 && invalid.output.contains("STREAM_PARTITIONS must be a whole number from 1 to 1024, got 'three'"))
            let missing = try await PartitionedCtl.run(["groups", "nope"], url: server.url, partitions: 3)
            #expect(missing.exitCode == 1 && missing.output.contains("stream nope does not exist (none of its 3 partition streams"))
        }
    }

    @Test("dlq list, show, replay and purge across partitions: each event back in its partition, handled once")
    func deadLettersAcrossPartitions() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let layout = try StreamPartitions(count: 3)
            let keys = layout.streamKeys(stream)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: layout))
            let url = fixture.server.url
            // One poison event in each partition; three good ones in each.
            let poison = PartitionedCtl.aggregates("poison", perPartition: 1, layout).map { $0[0] }
            let good = PartitionedCtl.aggregates("good", perPartition: 3, layout).flatMap { $0 }
            let failing = Mutex(true)
            let mailed = Recorder<String>()
            var mailHandlers = EventHandlers()
            mailHandlers.on(TodoCreated.self) { received in
                if poison.contains(received.event.todoID), failing.withLock({ $0 }) {
                    throw TestFailure(description: "mail server down")
                }
                await mailed.append(received.event.todoID)
            }
            let audited = Recorder<String>()
            var auditHandlers = EventHandlers()
            auditHandlers.on(TodoCreated.self) { await audited.append($0.event.todoID) }
            func consumer(_ group: String, _ handlers: EventHandlers) throws -> EventConsumer {
                var configuration = quickRetries(
                    .init(stream: stream, group: group, consumerName: "\(group)-1", startPosition: .beginning), maxDeliveries: 2)
                configuration.partitions = layout
                return try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers)
            }
            let tasks = [start(try consumer("mail", mailHandlers)), start(try consumer("audit", auditHandlers))]
            defer { for task in tasks { task.cancel() } }
            try await publisher.publish((good + poison).map { makeTodo(0, aggregate: $0) })

            let deadLetterKeys = keys.map { DeadLetter.streamKey(stream: $0, group: "mail") }
            let allDead = try await eventually {
                for key in deadLetterKeys where (try? await client.xlen(key)) != 1 { return false }
                let (mails, audits) = (await mailed.count, await audited.count)
                return mails == 9 && audits == 12
            }
            try #require(allDead, "each partition did not dead-letter its poison event")

            // dlq list: one row for the stream and group, the count of each partition.
            let list = try await PartitionedCtl.json(["dlq", "list"], url: url, partitions: 3)
            let summaries = try #require(list["dead_letter_streams"] as? [[String: Any]])
            let summary = try #require(summaries.first { $0["stream"] as? String == stream }, "\(summaries)")
            #expect(summaries.filter { ($0["stream"] as? String)?.hasPrefix(stream) == true }.count == 1)
            #expect(summary["group"] as? String == "mail" && summary["count"] as? Int == 3)
            #expect(summary["key"] as? String == "\(stream):{*}:dlq:mail")
            #expect(summary["reasons"] as? [String: Int] == ["max_deliveries": 3])
            let parts = try #require(summary["partitions"] as? [[String: Any]])
            #expect(parts.map { $0["key"] as? String } == deadLetterKeys && parts.map { $0["count"] as? Int } == [1, 1, 1])
            #expect(parts.map { $0["partition"] as? Int } == [0, 1, 2])
            let table = try await PartitionedCtl.human(["dlq", "list"], url: url, partitions: 3)
            let row = try #require(PartitionedCtl.lines(table).first { $0.hasPrefix(stream + " ") }, "\(table)")
            #expect(row.contains("mail") && row.contains(" 3  "), "\(row)")
            #expect(row.contains(layout.tags.map { "{\($0)}=1" }.joined(separator: " ")) && row.hasSuffix("max_deliveries=3"))
            // Without partitions, each partition's dead letters are a stream of their own, as before.
            let plain = try await PartitionedCtl.json(["dlq", "list"], url: url, partitions: nil)
            #expect((plain["dead_letter_streams"] as? [[String: Any]])?.compactMap { $0["key"] as? String }.sorted() == deadLetterKeys.sorted())

            // dlq show: every partition's dead letters, each naming where it is.
            let show = try await PartitionedCtl.json(["dlq", "show", stream, "mail"], url: url, partitions: 3)
            let letters = try #require(show["dead_letters"] as? [[String: Any]])
            #expect(letters.count == 3)
            for letter in letters {
                let todo = try #require(
                    (letter["fields"] as? [[String: Any]])?.first { $0["name"] as? String == "aggregate_id" }?["value"] as? String)
                let partition = layout.partition(of: todo)
                #expect(letter["partition"] as? Int == partition && letter["original_stream"] as? String == keys[partition])
                #expect(letter["dead_letter_stream"] as? String == deadLetterKeys[partition])
            }
            let limited = try await PartitionedCtl.json(["dlq", "show", stream, "mail", "--limit", "2"], url: url, partitions: 3)
            #expect((limited["dead_letters"] as? [[String: Any]])?.map { $0["id"] as? String } == letters.prefix(2).map { $0["id"] as? String })

            // Replayed now that the mail server is back: each to its partition, handled once, by mail only.
            failing.withLock { $0 = false }
            let replay = try await PartitionedCtl.json(["dlq", "replay", stream, "mail", "--all"], url: url, partitions: 3)
            let replayed = try #require(replay["replayed"] as? [[String: Any]])
            #expect(replayed.count == 3 && (replay["skipped"] as? [Any])?.isEmpty == true)
            var newIDs: [String: StreamEntryID] = [:]
            for item in replayed {
                let partitionKey = try #require(item["stream"] as? String)
                let newID = try #require((item["new_entry_id"] as? String).flatMap { StreamEntryID($0) })
                let entry = try #require(try await client.xrange(partitionKey, from: newID.description, to: newID.description).first)
                let todo = try #require(entry.string(named: "aggregate_id"))
                #expect(partitionKey == layout.streamKey(stream, partitionKey: todo), "back to the partition it came from")
                #expect(entry.string(named: DeadLetter.replayForGroupField) == "mail")
                newIDs[partitionKey] = newID
            }
            #expect(Set(newIDs.keys) == Set(keys))
            let handled = try await eventually {
                for (key, newID) in newIDs {
                    for group in ["mail", "audit"] {
                        guard try await pendingCount(client, key, group) == 0,
                            let delivered = try await StreamInspector(client: client).groups(stream: key)
                                .first(where: { $0.name == group })?.lastDeliveredID, delivered >= newID
                        else { return false }
                    }
                }
                return await mailed.count == 12
            }
            #expect(handled)
            await stop(tasks)
            #expect(await mailed.values.sorted() == (good + poison).sorted(), "every event mailed once")
            #expect(await audited.count == 12, "audit does not handle the replays again")
            for key in deadLetterKeys { #expect(try await client.xlen(key) == 0) }

            // replay --id finds the partition holding it; an unknown id is skipped.
            let id = try await OpsFixture.addDeadLetter(
                client, stream: keys[1], group: "mail", reason: .maxDeliveries,
                fields: [("event_id", Array("e-1".utf8)), ("aggregate_id", Array("x".utf8)), ("data", Array("{}".utf8))],
                originalID: "\(newIDs[keys[1]]!)")
            let byID = try await PartitionedCtl.human(["dlq", "replay", stream, "mail", "--id", id.description], url: url, partitions: 3)
            #expect(byID.contains("replayed 1 dead letter(s) to the partitions of \(stream) they came from, skipped 0"), "\(byID)")
            #expect(byID.contains(keys[1]) && byID.contains("PARTITION"))
            let again = try await PartitionedCtl.json(["dlq", "replay", stream, "mail", "--id", id.description], url: url, partitions: 3)
            #expect((again["skipped"] as? [[String: Any]])?.first?["reason"] as? String == "not found (already replayed or purged)")

            // purge: every partition's dead letters.
            try await OpsFixture.addDeadLetter(client, stream: keys[0], group: "mail", reason: .undecodable)
            try await OpsFixture.addDeadLetter(client, stream: keys[2], group: "mail", reason: .undecodable)
            try await OpsFixture.addDeadLetter(client, stream: keys[2], group: "mail", reason: .maxDeliveries)
            let purged = try await PartitionedCtl.json(
                ["dlq", "purge", stream, "mail", "--reason", "undecodable"], url: url, partitions: 3)
            #expect(purged["removed"] as? Int == 2 && purged["key"] as? String == "\(stream):{*}:dlq:mail")
            #expect((purged["partitions"] as? [[String: Any]])?.map { $0["removed"] as? Int } == [1, 0, 1])
            let rest = try await PartitionedCtl.human(["dlq", "purge", stream, "mail"], url: url, partitions: 3)
            #expect(rest.contains("purged 1 dead letter(s) from \(stream):{*}:dlq:mail (3 partitions: "), "\(rest)")
        }
    }

    @Test("streams: partition streams as one row per stream, dead letters with --all; tail and events merge partitions")
    func streamsTailAndEvents() async throws {
        try await OpsFixture.withClient { server, client in
            let layout = try StreamPartitions(count: 3)
            let stream = uniqueStream("todo-events")
            let keys = layout.streamKeys(stream)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: layout))
            let aggregates = PartitionedCtl.aggregates("todo", perPartition: 2, layout).flatMap { $0 }
            var ids: [StreamEntryID] = []
            for aggregate in aggregates { ids.append(try await publisher.publish(makeTodo(0, aggregate: aggregate))) }
            ids.append(try await publisher.publish(TodoCompleted(todoID: aggregates[0])))
            for key in keys { try await client.xgroupCreate(key, group: "mail", startAt: "0") }
            try await client.xgroupCreate(keys[1], group: "audit", startAt: "$")
            try await client.send("XTRIM", keys[2], "MAXLEN", "1")
            let orders = try await OpsFixture.addEntries(client, "orders", count: 2)
            try await OpsFixture.addDeadLetter(client, stream: keys[1], group: "mail", reason: .undecodable)

            let table = PartitionedCtl.lines(try await PartitionedCtl.human(["streams"], url: server.url, partitions: 3))
            #expect(table.count == 3 && table[0].contains("PARTITIONS"), "\(table)")
            let row = try #require(table.first { $0.hasPrefix(stream + " ") })
            let cells = row.split(separator: " ")
            // First and last ids: the oldest first entry and the newest last entry over the partitions.
            var firsts: [StreamEntryID] = [], lasts: [StreamEntryID] = []
            for key in keys {
                let entries = try await client.xrange(key)
                firsts.append(try #require(entries.first?.id))
                lasts.append(try #require(entries.last?.id))
            }
            #expect(cells[1] == "3" && cells[2] == "6" && cells[3] == Substring(firsts.min()!.description), "\(row)")
            #expect(cells[4] == Substring(lasts.max()!.description) && row.contains("2: mail, audit"), "\(row)")
            #expect(row.hasSuffix("trimmed (1 removed, in 1 of 3 partitions)"), "\(row)")
            let ordersRow = try #require(table.first { $0.hasPrefix("orders ") })
            #expect(ordersRow.split(separator: " ")[1] == "-" && ordersRow.contains(orders[1].description))
            #expect(!table.joined().contains(":{") && !table.joined().contains(":dlq:"))

            let all = try await PartitionedCtl.human(["streams", "--all"], url: server.url, partitions: 3)
            let deadRow = try #require(PartitionedCtl.lines(all).first { $0.hasPrefix("\(stream):{*}:dlq:mail ") }, "\(all)")
            #expect(deadRow.split(separator: " ")[1] == "1/3" && deadRow.split(separator: " ")[2] == "1")
            let named = try await PartitionedCtl.human(["streams", "--pattern", stream], url: server.url, partitions: 3)
            #expect(named.contains(stream + " ") && !named.contains("orders"), "\(named)")

            let document = try await PartitionedCtl.json(["streams"], url: server.url, partitions: 3)
            let streams = try #require(document["streams"] as? [[String: Any]])
            #expect(streams.map { $0["name"] as? String } == ["orders", stream].sorted())
            let todo = try #require(streams.first { $0["name"] as? String == stream })
            #expect(todo["length"] as? Int == 6 && todo["partition_count"] as? Int == 3 && todo["removed_entries"] as? Int == 1)
            #expect(todo["retention"] as? String == "trimmed" && todo["group_count"] as? Int == 2)
            #expect((todo["partitions"] as? [[String: Any]])?.map { $0["name"] as? String } == keys)
            #expect((todo["partitions"] as? [[String: Any]])?.map { $0["length"] as? Int } == [3, 2, 1])
            // Without partitions: every partition stream as a stream of its own, as before.
            let plain = try await PartitionedCtl.json(["streams"], url: server.url, partitions: nil)
            #expect((plain["streams"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == (keys + ["orders"]).sorted())

            // tail: the newest over every partition, in entry id order, each naming its partition.
            // Every entry left, by (id, partition stream): ids of different partitions may be equal.
            var remaining: [(id: StreamEntryID, key: String)] = []
            for key in keys { remaining += try await client.xrange(key).map { ($0.id, key) } }
            remaining.sort { ($0.id, $0.key) < ($1.id, $1.key) }
            func label(_ key: String) -> String { "{\(layout.tags[keys.firstIndex(of: key)!])}" }
            let tail = PartitionedCtl.lines(try await PartitionedCtl.human(["tail", stream, "-n", "4"], url: server.url, partitions: 3))
            #expect(tail.count == 4)
            for (line, expected) in zip(tail, remaining.suffix(4)) {
                #expect(line.hasPrefix("\(expected.id)  \(label(expected.key))  "), "\(tail)")
            }
            let json = PartitionedCtl.lines(
                try await PartitionedCtl.human(["tail", stream, "--type", "todo.completed", "--json"], url: server.url, partitions: 3))
            #expect(json.count == 1)
            let completed = try #require(try JSONSerialization.jsonObject(with: Data(json[0].utf8)) as? [String: Any])
            #expect(completed["stream"] as? String == layout.streamKey(stream, partitionKey: aggregates[0]))
            #expect(completed["entry_id"] as? String == ids[6].description)
            let from = PartitionedCtl.lines(
                try await PartitionedCtl.human(["tail", stream, "--from", remaining[1].id.description, "-n", "2"], url: server.url, partitions: 3))
            #expect(from.map { String($0.split(separator: " ").prefix(2).joined(separator: " ")) }
                == remaining.filter { $0.id >= remaining[1].id }.prefix(2).map { "\($0.id) \(label($0.key))" }, "\(from)")

            // tail --follow: new entries of every partition (one blocking XREAD over them all).
            try await PartitionedCtl.checkFollow(url: server.url, stream: stream, layout: layout, publisher: publisher)

            // events: one aggregate's events from its partition, in order.
            let events = PartitionedCtl.lines(
                try await PartitionedCtl.human(["events", stream, "--aggregate", aggregates[0]], url: server.url, partitions: 3))
            #expect(events.count == 2 && events[0].contains("todo.created") && events[1].contains("todo.completed"), "\(events)")
        }
    }

    @Test("trim --safe trims each partition by its own groups; --maxlen counts per partition")
    func trim() async throws {
        try await OpsFixture.withClient { server, client in
            let layout = try StreamPartitions(count: 3)
            let keys = layout.streamKeys("s")
            var ids: [[StreamEntryID]] = []
            for key in keys { ids.append(try await OpsFixture.addEntries(client, key, count: 5)) }
            for (partition, key) in keys.enumerated() {
                try await client.xgroupCreate(key, group: "g", startAt: "0")
                let read = try await client.xreadgroup(group: "g", consumer: "c", stream: key, count: partition + 2)
                try await client.xack(key, group: "g", ids: read.map(\.id).dropLast())  // the last read stays pending
            }
            let safe = try await PartitionedCtl.json(["trim", "s", "--safe"], url: server.url, partitions: 3)
            #expect(safe["removed"] as? Int == 1 + 2 + 3 && safe["limiting_group"] as? String == "g")
            let parts = try #require(safe["partitions"] as? [[String: Any]])
            #expect(parts.map { $0["removed"] as? Int } == [1, 2, 3])
            #expect(parts.map { $0["min_id"] as? String } == (0..<3).map { ids[$0][$0 + 1].description })
            for (partition, key) in keys.enumerated() { #expect(try await client.xlen(key) == 4 - partition) }
            let text = try await PartitionedCtl.human(["trim", "s", "--maxlen", "1"], url: server.url, partitions: 3)
            #expect(text.contains("removed 6 entries from s (MAXLEN 1 on each of 3 partitions)"), "\(text)")
            for key in keys { #expect(try await client.xlen(key) == 1) }
        }
    }

    @Test("trace finds a flow whose events went to different partitions")
    func traceAcrossPartitions() async throws {
        try await OpsFixture.withClient { server, client in
            let layout = try StreamPartitions(count: 3)
            let stream = uniqueStream("todo-events")
            let flow = try await PartitionedFlow.make(client, stream: stream, layout: layout)
            let document = try await PartitionedCtl.json(["trace", flow.correlationID], url: server.url, partitions: 3)
            try PartitionedFlow.check(document, flow, layout: layout)
            let text = try await PartitionedCtl.human(["trace", flow.correlationID], url: server.url, partitions: 3)
            #expect(text.hasPrefix("flow \(flow.correlationID): 4 event(s) in 3 stream(s), from "), "\(text)")
        }
    }

    @Test("the dead letters of a partition share its slot: replay's keys are one slot")
    func deadLettersShareTheirPartitionsSlot() throws {
        for count in [2, 3, 6, 16, 1024] {
            let layout = try StreamPartitions(count: count)
            for key in layout.streamKeys("todo-events") {
                #expect(
                    RedisHashSlot.slot(of: DeadLetter.streamKey(stream: key, group: "notification-service"))
                        == RedisHashSlot.slot(of: key))
            }
        }
    }
}

/// A flow of four events over the partitions of one stream: a root, two children in other
/// partitions, a grandchild; group `mail` on every partition has read everything.
struct PartitionedFlow {
    let correlationID: String
    /// Entry id and partition stream of each event: root, children, grandchild.
    let events: [(id: StreamEntryID, stream: String)]

    /// The root goes to partition `partitions[0]`, the children to `partitions[1]` and
    /// `partitions[2]`, the grandchild to `partitions[2]`.
    static func make(_ client: RedisClient, stream: String, layout: StreamPartitions, partitions: [Int] = [0, 1, 2])
        async throws -> PartitionedFlow
    {
        let correlationID = "flow-\(UUID().uuidString.lowercased())"
        let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: layout))
        let byPartition = PartitionedCtl.aggregates("order", perPartition: 1, layout).map { $0[0] }
        let aggregates = partitions.map { byPartition[$0] }
        func publish(_ aggregate: String, causedBy cause: (id: StreamEntryID, stream: String)?) async throws
            -> (id: StreamEntryID, stream: String)
        {
            let key = layout.streamKey(stream, partitionKey: aggregate)
            var context = EventContext(correlationID: correlationID)
            if let cause {
                let entry = try #require(try await client.xrange(cause.stream, from: cause.id.description, to: cause.id.description).first)
                let eventID: String = try #require(entry.string(named: "event_id"))
                context.causationID = eventID
            }
            return (try await publisher.publish(makeTodo(0, aggregate: aggregate), context: context), key)
        }
        // Another flow, on every partition, that the trace must leave out.
        for aggregate in byPartition { try await publisher.publish(makeTodo(0, aggregate: aggregate), context: EventContext(correlationID: "other")) }
        let root = try await publish(aggregates[0], causedBy: nil)
        let first = try await publish(aggregates[1], causedBy: root)
        let second = try await publish(aggregates[2], causedBy: root)
        let grandchild = try await publish(aggregates[2], causedBy: first)
        for key in layout.streamKeys(stream) {
            try await client.xgroupCreate(key, group: "mail", startAt: "0")
            _ = try await client.xreadgroup(group: "mail", consumer: "m", stream: key, count: 100)
            let pending = try await client.xpending(key, group: "mail", count: 100)
            try await client.xack(key, group: "mail", ids: pending.map(\.id))
        }
        return PartitionedFlow(correlationID: correlationID, events: [root, first, second, grandchild])
    }

    /// Checks a `trace --json` document of the flow.
    static func check(_ document: [String: Any], _ flow: PartitionedFlow, layout: StreamPartitions) throws {
        #expect(document["event_count"] as? Int == 4 && document["complete"] as? Bool == true)
        #expect(document["stream_count"] as? Int == Set(flow.events.map(\.stream)).count)
        #expect(Set(flow.events.map(\.stream)).count == 3)
        let roots = try #require(document["events"] as? [[String: Any]])
        try #require(roots.count == 1, "\(roots)")
        let root = roots[0]
        #expect(root["stream"] as? String == flow.events[0].stream && root["entry_id"] as? String == flow.events[0].id.description)
        let children = try #require(root["children"] as? [[String: Any]])
        #expect(children.map { $0["entry_id"] as? String } == [flow.events[1].id.description, flow.events[2].id.description])
        #expect(children.map { $0["stream"] as? String } == [flow.events[1].stream, flow.events[2].stream])
        let grandchildren = try #require(children.first?["children"] as? [[String: Any]])
        #expect(grandchildren.map { $0["entry_id"] as? String } == [flow.events[3].id.description])
        #expect((root["groups"] as? [[String: Any]])?.map { $0["state"] as? String } == ["handled"])
    }
}
