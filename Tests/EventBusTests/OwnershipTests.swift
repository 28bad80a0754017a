import Foundation
import LocalRedisServer
import Logging
import RedisClient
import TestSupport
import Testing

@testable import EventBus

/// Issue 18, finding 1: a delivery writes (commit, dead letter, claim renewal) only while
/// the entry is still pending to its consumer, so an event is never both applied and
/// dead-lettered, and a replay that could apply it twice is refused.
@Suite("Ownership of pending entries")
struct OwnershipTests {
    /// Entries `ids` read by `consumer` of `group` (`XREADGROUP ... >`), so they are pending to it.
    private static func read(_ client: RedisClient, _ stream: String, group: String, consumer: String) async throws {
        try await client.xgroupCreate(stream, group: group, startAt: "0")
        _ = try await client.send(RedisCommand("XREADGROUP", "GROUP", group, consumer, "STREAMS", stream, ">"))
    }

    private static func owners(_ client: RedisClient, _ stream: String, group: String) async throws -> [StreamEntryID: String] {
        var owners: [StreamEntryID: String] = [:]
        for entry in try await client.xpending(stream, group: group, count: 100) { owners[entry.id] = entry.consumer }
        return owners
    }

    @Test func aDeadLetterIsWrittenOnlyWhenItsXACKRemovedTheEntryFromThisConsumer() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            for index in 1...3 { try await fixture.publisher.publish(makeTodo(index)) }
            try await Self.read(client, stream, group: "g", consumer: "A")
            let entries = try await client.xrange(stream)
            // 1: A's commit applied and acknowledged it, but its reply was lost (A counts it failed).
            try await client.xack(stream, group: "g", ids: [entries[0].id])
            // 2: A stalled; B claimed it.
            _ = try await client.xclaim(stream, group: "g", consumer: "B", minIdle: .zero, ids: [entries[1].id])
            // 3: still A's.
            let writer = DeadLetterWriter(stream: stream, group: "g", consumer: "A")
            let moved = await writer.write(
                entries.map { DeadLetterRequest(entry: $0, reason: .maxDeliveries, error: "boom", deliveries: 5) },
                client: client, logger: Logger(label: "test"))
            #expect(moved == [entries[2].id])
            let letters = try await deadLetters(client, stream, "g")
            #expect(letters.map { $0.string(named: DeadLetter.Field.entryID) } == [entries[2].id.description])
            // Exactly today's fields: the original's, then the dlq_* ones.
            #expect(letters.first?.fields.map(\.name) == entries[2].fields.map(\.name) + DeadLetter.Field.all)
            #expect(try await Self.owners(client, stream, group: "g") == [entries[1].id: "B"])
        }
    }

    /// Consumer A is handling three events of one aggregate; while its handler runs the
    /// second one, consumer B takes that entry (as after a stall of A) and dead-letters it.
    /// A's commit must then write nothing for it (it is not A's any more) and must not
    /// dead-letter it a second time; the other two are applied once.
    @Test(arguments: [TransactionalCommit.perEvent, .perBatch])
    func aCommitAfterAnotherConsumerTookAndDeadLetteredTheEntryWritesNothing(commit: TransactionalCommit) async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let calls = Recorder<String>()
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self, commit: commit) { received in
                await calls.append(received.event.title)
                if received.event.title == "stolen" {
                    let entry = try #require(
                        try await client.xrange(stream, from: received.entryID.description, to: received.entryID.description).first)
                    _ = try await client.xclaim(stream, group: "g", consumer: "B", minIdle: .zero, ids: [entry.id])
                    let moved = await DeadLetterWriter(stream: stream, group: "g", consumer: "B").write(
                        [DeadLetterRequest(entry: entry, reason: .maxDeliveries, error: "B gave up", deliveries: 5)],
                        client: client, logger: Logger(label: "B"))
                    #expect(moved == [entry.id])
                }
                return [RedisCommand("HINCRBY", "\(stream):applied", received.event.title, "1")]
            }
            for title in ["first", "stolen", "third"] {
                try await fixture.publisher.publish(TodoCreated(todoID: "agg", userID: "u", title: title, priority: 1))
            }
            let configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "A", startPosition: .beginning))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            // The events of one aggregate commit in order: once "third" is applied, so is
            // (or is not) "stolen".
            #expect(try await eventually { try await client.send("HGET", "\(stream):applied", "third").int == 1 })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(try await client.send("HGET", "\(stream):applied", "first").int == 1)
            #expect(try await client.send("HGET", "\(stream):applied", "stolen").isNull, "applied and dead-lettered")
            #expect(try await deadLetters(client, stream, "g").count == 1)
            #expect(await calls.values == ["first", "stolen", "third"])
            await stop([task])
        }
    }

    /// A consumer renews its claim on the entries it is handling, but never takes back one
    /// that another consumer claimed meanwhile.
    @Test func claimRenewalNeverTakesBackAnEntryAnotherConsumerClaimed() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let started = Recorder<String>()
            let release = Recorder<Bool>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await started.append(received.event.title)
                while await release.count == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            for title in ["taken", "kept"] {
                try await fixture.publisher.publish(TodoCreated(todoID: "agg", userID: "u", title: title, priority: 1))
            }
            let configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "A", startPosition: .beginning))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            #expect(try await eventually { await started.values == ["taken"] })
            let entries = try await client.xrange(stream)
            _ = try await client.xclaim(stream, group: "g", consumer: "B", minIdle: .zero, ids: [entries[0].id])
            // Wait for A to renew its claim on "kept" (same batch) twice after that.
            var renewals = 0
            var lastIdle: Duration?
            let renewed = try await eventually {
                let kept = try await client.xpending(stream, group: "g", from: entries[1].id.description,
                    to: entries[1].id.description, count: 1).first
                if let idle = kept?.idle, let last = lastIdle, idle < last { renewals += 1 }
                lastIdle = kept?.idle
                return renewals >= 2
            }
            #expect(renewed)
            #expect(try await Self.owners(client, stream, group: "g") == [entries[0].id: "B", entries[1].id: "A"])
            await release.append(true)
            await stop([task])
        }
    }

    /// `dlq replay` refuses a dead letter whose original entry is older than the processed
    /// markers live (its event may have been applied, and its marker is gone: a replay would
    /// apply it twice), says why and how to override; `--force` replays it.
    @Test func replayRefusesDeadLettersOlderThanTheMarkerTTLUnlessForced() async throws {
        try await OpsFixture.withClient { server, client in
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            let old = "\(now - 200 * 3_600_000)-0"  // 200 h ago: past the default 168 h
            let recent = "\(now - 3_600_000)-0"  // 1 h ago
            let oldLetter = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries, originalID: old)
            let recentLetter = try await OpsFixture.addDeadLetter(
                client, stream: "s", group: "g", reason: .maxDeliveries, originalID: recent)
            let executable = try ChildProcess.builtExecutable(named: "streamsctl")
            func ctl(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
                let result = try await ChildProcess.run(
                    executable, arguments + ["--redis-url", server.url],
                    environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
                return (result.exitCode, result.output)
            }
            let (code, output) = try await ctl(["dlq", "replay", "s", "g", "--all"])
            #expect(code != 0, "\(output)")
            #expect(output.contains("processed") && output.contains("168") && output.contains("--force"), "\(output)")
            // The recent one is replayed, the old one stays.
            #expect(try await client.xrange("s").compactMap { $0.string(named: DeadLetter.replayedFromField) } == [recent])
            #expect(try await client.xrange(DeadLetter.streamKey(stream: "s", group: "g")).map(\.id) == [oldLetter])
            _ = recentLetter
            // A longer TTL (option or environment) accepts it; so does --force.
            let (longer, _) = try await ctl(
                ["dlq", "replay", "s", "g", "--id", oldLetter.description], environment: ["PROCESSED_MARKER_TTL_HOURS": "300"])
            #expect(longer == 0)
            #expect(try await client.xrange("s").count == 2)
            let again = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries, originalID: old)
            let (refused, _) = try await ctl(["dlq", "replay", "s", "g", "--id", again.description, "--marker-ttl-hours", "199"])
            #expect(refused != 0)
            let (forced, forcedOutput) = try await ctl(["dlq", "replay", "s", "g", "--id", again.description, "--force"])
            #expect(forced == 0, "\(forcedOutput)")
            #expect(try await client.xrange("s").count == 3)
        }
    }
}
