@testable import EventBus
import RedisClient
import Testing
import TestSupport

/// `Operations/replay-dead-letter.lua` and `Retention/trim-safely.lua`, called directly:
/// each branch that leaves things as they are writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: replay-dead-letter, trim-safely", .serialized)
struct OperationScriptTests {
    /// A dead letter in `dlq` with `fields` (name, value, ...); returns its id.
    static func deadLetter(_ client: RedisClient, _ fields: [String]) async throws -> String {
        try await ScriptTesting.send(client, ["XADD", "dlq", "*"] + fields).string ?? ""
    }

    static let complete = ["n", "1", "dlq_stream", "s", "dlq_entry_id", "1-1", "dlq_reason", "max_deliveries"]

    static func replayArguments(_ id: String, maximumAge: Int = 0) -> [String] {
        [id, DeadLetter.replayedFromField, DeadLetter.replayForGroupField, "g", "\(maximumAge)"]
    }

    /// What the script answers for a dead letter it must leave alone.
    struct Leave: Sendable, CustomTestStringConvertible {
        let name: String
        let fields: [String]?
        let setup: [[String]]
        let maximumAge: Int
        let reply: ReplayReply
        var testDescription: String { name }
    }

    static let leaves: [Leave] = [
        .init(name: "original stream of another type", fields: complete, setup: [["SET", "s", "x"]], maximumAge: 0,
              reply: .skipped("s is a string, not a stream")),
        .init(name: "not found", fields: nil, setup: [], maximumAge: 0,
              reply: .skipped("not found (already replayed or purged)")),
        .init(name: "reason deleted", fields: ["dlq_stream", "s", "dlq_entry_id", "1-1", "dlq_reason", "deleted"], setup: [],
              maximumAge: 0, reply: .skipped("reason deleted: the event was gone when it was dead-lettered, nothing to replay")),
        .init(name: "no dlq_entry_id", fields: ["n", "1", "dlq_stream", "s"], setup: [], maximumAge: 0,
              reply: .skipped("malformed: no dlq_entry_id")),
        .init(name: "dlq_stream of another stream", fields: ["n", "1", "dlq_stream", "t", "dlq_entry_id", "1-1"], setup: [],
              maximumAge: 0, reply: .skipped("malformed: dlq_stream is t")),
        .init(name: "no original fields", fields: ["dlq_stream", "s", "dlq_entry_id", "1-1"], setup: [], maximumAge: 0,
              reply: .skipped("malformed: no original fields")),
        .init(name: "older than the marker TTL", fields: complete, setup: [], maximumAge: 3_600_000,
              reply: .refused("original entry 1-1 is \(0) h old, older than the processed-marker TTL (1 h)")),
    ]

    @Test("replay-dead-letter.lua leaves a dead letter it cannot replay, writing nothing", arguments: leaves)
    func replayLeaves(_ leave: Leave) async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["XADD", "keep", "*", "f", "v"])
            var id = "1-1"
            if let fields = leave.fields { id = try await Self.deadLetter(client, fields) }
            for command in leave.setup { try await ScriptTesting.send(client, command) }
            let reply = try await ScriptTesting.expectNoWrite(
                client, LuaScripts.replayDeadLetter, keys: ["dlq", "s"], Self.replayArguments(id, maximumAge: leave.maximumAge))
            switch (ReplayReply(reply: reply), leave.reply) {
            case (.refused(let reason)?, .refused):
                #expect(reason.hasPrefix("original entry 1-1 is ") && reason.hasSuffix("older than the processed-marker TTL (1 h)"), "\(reason)")
            case (let decoded, let expected):
                #expect(decoded == expected, "\(reply)")
            }
        }
    }

    @Test("replay-dead-letter.lua replays a complete dead letter and deletes it")
    func replayReplays() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.deadLetter(client, Self.complete)
            let reply = try await ScriptTesting.run(client, LuaScripts.replayDeadLetter, keys: ["dlq", "s"], Self.replayArguments(id))
            guard case .replayed(let newID, let originalID)? = ReplayReply(reply: reply) else {
                Issue.record("\(reply)")
                return
            }
            #expect(originalID == StreamEntryID("1-1"))
            let entries = try await client.xrange("s")
            #expect(entries.map(\.id) == [newID])
            #expect(entries.first?.string(named: DeadLetter.replayForGroupField) == "g")
            #expect(try await client.xrange("dlq").isEmpty)
        }
    }

    // MARK: trim-safely.lua

    @Test("trim-safely.lua answers missing for no stream, and writes nothing")
    func trimMissing() async throws {
        try await ScriptTesting.withClient { client in
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.trimSafely, keys: ["s"], ["", "="])
            #expect(SafeTrimReply(reply: reply) == .missing)
        }
    }

    @Test("trim-safely.lua answers wrongtype for a key of another type, and writes nothing")
    func trimWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "s", "x"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.trimSafely, keys: ["s"], ["", "="])
            #expect(SafeTrimReply(reply: reply) == .wrongType("string"))
        }
    }

    @Test("trim-safely.lua trims nothing with no group and no maxLength, or a stream shorter than maxLength")
    func trimNothing() async throws {
        try await ScriptTesting.withClient { client in
            for _ in 0..<3 { try await ScriptTesting.send(client, ["XADD", "s", "*", "f", "v"]) }
            let none = SafeTrimResult(removed: 0, minimumID: nil, limitingGroup: nil)
            let noGroup = try await ScriptTesting.expectNoWrite(client, LuaScripts.trimSafely, keys: ["s"], ["", "="])
            #expect(SafeTrimReply(reply: noGroup) == .trimmed(none))
            let short = try await ScriptTesting.expectNoWrite(client, LuaScripts.trimSafely, keys: ["s"], ["3", "="])
            #expect(SafeTrimReply(reply: short) == .trimmed(none))
        }
    }
}
