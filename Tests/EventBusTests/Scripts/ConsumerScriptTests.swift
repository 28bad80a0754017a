@testable import EventBus
import RedisClient
import Testing
import TestSupport

/// The consumer's scripts (`Consuming/*.lua`, `DeadLetters/write-dead-letters.lua`), called
/// directly: what each refuses, and that a refusal writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: claim-pending, renew-claims, remove-idle-consumers, give-back-deliveries, write-dead-letters", .serialized)
struct ConsumerScriptTests {
    /// Stream `s`, group `g`, entries read by consumer `c` (pending to it); returns their ids.
    static func pending(_ client: RedisClient, count: Int = 1) async throws -> [String] {
        var ids: [String] = []
        for index in 0..<count {
            ids.append(try await ScriptTesting.send(client, ["XADD", "s", "*", "n", "\(index)"]).string ?? "")
        }
        try await ScriptTesting.send(client, ["XGROUP", "CREATE", "s", "g", "0"])
        try await ScriptTesting.send(client, ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"])
        return ids
    }

    // MARK: claim-pending.lua

    @Test("claim-pending.lua raises on a stream of another type, naming its file and line")
    func claimWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "s", "x"])
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.claimPending, keys: ["s", "dlq"], ["g", "c", "now", "1-1", "0", "c", "1"])
            #expect(error?.code == .wrongType)
            // Redis's user_script:N became the .lua file and its line.
            #expect(error?.message.contains("user_script") == false, "\(String(describing: error))")
            #expect(error?.file == "EventBus/Consuming/claim-pending.lua")
            #expect((error?.line ?? 0) > 9, "\(String(describing: error))")
            #expect(error?.message.contains("EventBus/Consuming/claim-pending.lua:\(error?.line ?? 0)") == true)
        }
    }

    @Test("claim-pending.lua raises on a missing group")
    func claimNoGroup() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.claimPending, keys: ["s", "dlq"], ["nope", "c", "now", ids[0], "0", "c", "1"])
            #expect(error?.code == .noGroup)
        }
    }

    @Test("claim-pending.lua leaves a deleted entry pending when its dead letter is refused")
    func claimDeadLetterRefused() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            try await ScriptTesting.send(client, ["XDEL", "s", ids[0]])
            try await ScriptTesting.send(client, ["SET", "dlq", "x"])
            let reply = try await ScriptTesting.expectNoWrite(
                client, LuaScripts.claimPending, keys: ["s", "dlq"], ["g", "d", "now", ids[0], "0", "c", "1"])
            #expect(reply.array?.count == 3 && reply.array?[2].array?.isEmpty == true, "\(reply)")
        }
    }

    @Test("claim-pending.lua claims a due entry, and dead-letters one whose body is gone")
    func claimClaimsAndDeadLetters() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client, count: 2)
            try await ScriptTesting.send(client, ["XDEL", "s", ids[1]])
            let result = try await client.runClaimScript(LuaScripts.claimPending, keys: ["s", "dlq"]) { command in
                for argument in ["g", "d", "now", ids[0], "0", "c", "1", ids[1], "0", "c", "1"] { command.append(argument) }
            }
            #expect(result.entries.map(\.id.description) == [ids[0]])
            #expect(result.deletedIDs.map(\.description) == [ids[1]])
            let letter = try await client.xrange("dlq")
            #expect(letter.count == 1)
            #expect(letter.first?.string(named: DeadLetter.Field.reason) == DeadLetter.Reason.deleted.rawValue)
            #expect(letter.first?.string(named: DeadLetter.Field.entryID) == ids[1])
        }
    }

    // MARK: renew-claims.lua

    @Test("renew-claims.lua raises on a missing group")
    func renewNoGroup() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.renewClaims, keys: ["s"], ["nope", "c", ids[0]])
            #expect(error?.code == .noGroup)
        }
    }

    @Test("renew-claims.lua does not take back an entry pending to another consumer")
    func renewOthers() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.renewClaims, keys: ["s"], ["g", "d", ids[0]])
            #expect(ScriptCount(reply: reply)?.value == 0)
            let mine = try await ScriptTesting.run(client, LuaScripts.renewClaims, keys: ["s"], ["g", "c", ids[0]])
            #expect(ScriptCount(reply: mine)?.value == 1)
        }
    }

    /// XCLAIM of an entry deleted from the stream removes it from the PEL (Redis 7) with no
    /// trace: renewing it would lose the `deleted` dead letter the reclaim loop writes for it.
    @Test("renew-claims.lua and give-back-deliveries.lua leave an entry whose body is gone pending")
    func renewAndGiveBackKeepDeletedEntriesPending() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            try await ScriptTesting.send(client, ["XDEL", "s", ids[0]])
            let renewed = try await ScriptTesting.run(client, LuaScripts.renewClaims, keys: ["s"], ["g", "c", ids[0]])
            #expect(ScriptCount(reply: renewed)?.value == 0)
            let restored = try await ScriptTesting.run(client, LuaScripts.giveBackDeliveries, keys: ["s"], ["g", "c", ids[0], "1"])
            #expect(ScriptCount(reply: restored)?.value == 0)
            let pending = try await client.send("XPENDING", "s", "g").array?.first?.int
            #expect(pending == 1, "the deleted entry left the PEL without a dead letter")
        }
    }

    // MARK: remove-idle-consumers.lua

    @Test("remove-idle-consumers.lua raises on a missing stream")
    func housekeepingNoStream() async throws {
        try await ScriptTesting.withClient { client in
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.removeIdleConsumers, keys: ["s"], ["g", "c", "0"])
            #expect(error?.message.hasPrefix("ERR") == true, "\(String(describing: error))")
        }
    }

    @Test("remove-idle-consumers.lua keeps the caller and consumers with pending entries")
    func housekeepingKeeps() async throws {
        try await ScriptTesting.withClient { client in
            _ = try await Self.pending(client)
            try await ScriptTesting.send(client, ["XGROUP", "CREATECONSUMER", "s", "g", "me"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.removeIdleConsumers, keys: ["s"], ["g", "me", "0"])
            #expect(RemovedConsumers(reply: reply)?.names == [])
            try await ScriptTesting.send(client, ["XGROUP", "CREATECONSUMER", "s", "g", "idle"])
            let removed = try await ScriptTesting.run(client, LuaScripts.removeIdleConsumers, keys: ["s"], ["g", "me", "0"])
            #expect(RemovedConsumers(reply: removed)?.names == ["idle"])
        }
    }

    // MARK: give-back-deliveries.lua

    @Test("give-back-deliveries.lua raises on a missing group")
    func giveBackNoGroup() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.giveBackDeliveries, keys: ["s"], ["nope", "c", ids[0], "0"])
            #expect(error?.code == .noGroup)
        }
    }

    @Test("give-back-deliveries.lua leaves an entry pending to another consumer alone")
    func giveBackOthers() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let reply = try await ScriptTesting.expectNoWrite(
                client, LuaScripts.giveBackDeliveries, keys: ["s"], ["g", "d", ids[0], "0"])
            #expect(ScriptCount(reply: reply)?.value == 0)
            let mine = try await ScriptTesting.run(client, LuaScripts.giveBackDeliveries, keys: ["s"], ["g", "c", ids[0], "0"])
            #expect(ScriptCount(reply: mine)?.value == 1)
            let pending = try await ScriptTesting.send(client, ["XPENDING", "s", "g", "-", "+", "1"])
            #expect(pending.array?.first?.array?[3].int == 0)
        }
    }

    // MARK: write-dead-letters.lua

    static func deadLetterArguments(_ id: String, consumer: String = "c") -> [String] {
        ["g", consumer, "2026-01-01T00:00:00Z", id, "5", "max_deliveries", "boom", "2", "n", "0"]
    }

    @Test("write-dead-letters.lua refuses a dead-letter key of another type")
    func deadLettersWrongType() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            try await ScriptTesting.send(client, ["SET", "dlq", "x"])
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.writeDeadLetters, keys: ["s", "dlq"], Self.deadLetterArguments(ids[0]))
            #expect(error?.code == .wrongType)
            #expect(error?.message.contains("dlq is a string, not a stream") == true)
            #expect(error?.file == "EventBus/DeadLetters/write-dead-letters.lua")
        }
    }

    @Test("write-dead-letters.lua raises on a missing group")
    func deadLettersNoGroup() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            var arguments = Self.deadLetterArguments(ids[0])
            arguments[0] = "nope"
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.writeDeadLetters, keys: ["s", "dlq"], arguments)
            #expect(error?.code == .noGroup)
        }
    }

    @Test("write-dead-letters.lua writes nothing for an entry not pending to the consumer")
    func deadLettersNotPending() async throws {
        try await ScriptTesting.withClient { client in
            let ids = try await Self.pending(client)
            let reply = try await ScriptTesting.expectNoWrite(
                client, LuaScripts.writeDeadLetters, keys: ["s", "dlq"], Self.deadLetterArguments(ids[0], consumer: "d"))
            #expect(ScriptFlags(reply: reply)?.flags == [false])
            let moved = try await ScriptTesting.run(client, LuaScripts.writeDeadLetters, keys: ["s", "dlq"], Self.deadLetterArguments(ids[0]))
            #expect(ScriptFlags(reply: moved)?.flags == [true])
            let letter = try await client.xrange("dlq")
            #expect(letter.first?.string(named: DeadLetter.Field.entryID) == ids[0])
            #expect(letter.first?.string(named: "n") == "0")
        }
    }
}
