@testable import EventBus
import RedisClient
import Testing
import TestSupport

/// `Idempotency/commit-event.lua` and `Idempotency/commit-batch.lua`, called directly: every
/// refusal answers an error naming the script and writes nothing, even after a valid write.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: commit-event.lua, commit-batch.lua", .serialized)
struct CommitScriptTests {
    /// A refused write and the state it meets (commands run before the script).
    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let setup: [[String]]
        let write: [String]
        let message: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        .init(name: "unsupported command", setup: [], write: ["GETDEL", "k"], message: "getdel is not a supported transactional write"),
        .init(name: "missing argument", setup: [], write: ["HSET", "h", "f"], message: "hset has the wrong number of arguments"),
        .init(name: "no key", setup: [], write: ["INCR"], message: "incr has the wrong number of arguments"),
        .init(name: "key of another type", setup: [["SET", "h", "x"]], write: ["HSET", "h", "f", "v"], message: "hset on h, which is a string"),
        .init(name: "HINCRBY increment not an integer", setup: [], write: ["HINCRBY", "h", "f", "1.5"], message: "not"),
        .init(name: "HINCRBY on text", setup: [["HSET", "h", "f", "abc"]], write: ["HINCRBY", "h", "f", "1"], message: "h f"),
        .init(name: "HINCRBYFLOAT increment not a number", setup: [], write: ["HINCRBYFLOAT", "h", "f", "abc"], message: "not a number"),
        .init(name: "HINCRBYFLOAT on text", setup: [["HSET", "h", "f", "abc"]], write: ["HINCRBYFLOAT", "h", "f", "1"], message: "h f"),
        .init(name: "INCRBY argument not an integer", setup: [], write: ["INCRBY", "n", "x"], message: "not a number"),
        .init(name: "INCR on text", setup: [["SET", "n", "abc"]], write: ["INCR", "n"], message: "not a number"),
        .init(name: "INCR on a float", setup: [["SET", "n", "1.5"]], write: ["INCR", "n"], message: "not a number"),
        .init(name: "ZINCRBY increment not a number", setup: [], write: ["ZINCRBY", "z", "x", "m"], message: "ZINCRBY increment"),
        .init(name: "ZADD score not a number", setup: [], write: ["ZADD", "z", "x", "m"], message: "ZADD score"),
        .init(name: "LTRIM bounds not integers", setup: [], write: ["LTRIM", "l", "a", "1"], message: "LTRIM takes two integers"),
        .init(name: "EXPIRE not an integer", setup: [], write: ["EXPIRE", "k", "soon"], message: "takes an integer"),
        .init(name: "XADD without *", setup: [], write: ["XADD", "x", "1-1", "f", "v"], message: "XADD"),
        .init(name: "XADD MAXLEN without ~", setup: [], write: ["XADD", "x", "MAXLEN", "10", "*", "f", "v"], message: "MAXLEN ~"),
        .init(name: "XADD odd fields", setup: [], write: ["XADD", "x", "*", "f", "v", "g"], message: "XADD must be XADD key"),
        .init(name: "SET with options", setup: [], write: ["SET", "k", "v", "PX", "10"], message: "SET takes a key and a value only"),
    ]

    /// A stream `s` with group `g` and entry `id` pending to consumer `c`.
    static func pendingEntry(_ client: RedisClient) async throws -> String {
        let id = try await client.send(RedisCommand("XADD", "s", "*", "f", "v")).string ?? ""
        _ = try await client.send(RedisCommand("XGROUP", "CREATE", "s", "g", "0"))
        _ = try await client.send(RedisCommand("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"))
        return id
    }

    static func counted(_ writes: [[String]]) -> [String] {
        writes.flatMap { ["\($0.count)"] + $0 }
    }

    static let valid = ["HSET", "done", "a", "1"]

    @Test("commit-event.lua refuses a write it cannot vouch for, writing nothing", arguments: refusals)
    func commitEventRefuses(_ refusal: Refusal) async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            for command in refusal.setup { try await ScriptTesting.send(client, command) }
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.commitEvent, keys: ["s", "g:processed:e1"],
                ["g", id, "60000", "c"] + Self.counted([Self.valid, refusal.write]))
            #expect(error?.message.hasPrefix("ERR transactional write refused, nothing written: ") == true, "\(String(describing: error))")
            #expect(error?.message.contains(refusal.message) == true, "\(String(describing: error))")
            #expect(error?.file == "EventBus/Idempotency/commit-event.lua")
        }
    }

    @Test("commit-event.lua refuses a stream key of another type")
    func commitEventWrongStreamType() async throws {
        try await ScriptTesting.withClient { client in
            _ = try await client.send(RedisCommand("SET", "s", "x"))
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.commitEvent, keys: ["s", "m"], ["g", "1-1", "60000", ""] + Self.counted([Self.valid]))
            #expect(error?.message.contains("s is a string, not a stream") == true)
        }
    }

    @Test("commit-event.lua writes nothing for an entry not pending to the consumer (-1)")
    func commitEventNotPending() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            let reply = try await ScriptTesting.expectNoWrite(
                client, LuaScripts.commitEvent, keys: ["s", "m"], ["g", id, "60000", "other"] + Self.counted([Self.valid]))
            #expect(ProcessedEventTransaction.Result(reply: reply) == .superseded)
        }
    }

    @Test("commit-event.lua applies once: applied, then acknowledged only")
    func commitEventAppliesOnce() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            let arguments = ["g", id, "60000", "c"] + Self.counted([["HINCRBY", "h", "n", "1"]])
            let first = try await ScriptTesting.run(client, LuaScripts.commitEvent, keys: ["s", "m"], arguments)
            #expect(ProcessedEventTransaction.Result(reply: first) == .applied)
            let second = try await ScriptTesting.run(client, LuaScripts.commitEvent, keys: ["s", "m"], ["g", id, "60000", ""] + Self.counted([["HINCRBY", "h", "n", "1"]]))
            #expect(ProcessedEventTransaction.Result(reply: second) == .alreadyApplied)
            #expect(try await client.send(RedisCommand("HGET", "h", "n")).string == "1")
            #expect(try await client.send(RedisCommand("XPENDING", "s", "g")).array?.first?.int == 0)
        }
    }

    // MARK: commit-batch.lua

    /// KEYS and ARGV for a batch of events `events` (entry id, writes), consumer `c`.
    static func batch(_ events: [(id: String, writes: [[String]])], consumer: String = "c") -> (keys: [String], arguments: [String]) {
        let keys = ["s"] + events.indices.map { "g:processed:e\($0)" }
        let arguments = ["g", "60000", consumer] + events.flatMap { [$0.id, "\($0.writes.count)"] + counted($0.writes) }
        return (keys, arguments)
    }

    @Test("commit-batch.lua refuses the whole batch for a write it cannot vouch for", arguments: refusals)
    func commitBatchRefuses(_ refusal: Refusal) async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            for command in refusal.setup { try await ScriptTesting.send(client, command) }
            // The refused write is the second event's; the first event's write is valid.
            let call = Self.batch([(id, [Self.valid]), (id, [refusal.write])])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.commitBatch, keys: call.keys, call.arguments)
            #expect(error?.message.hasPrefix(BatchedEventTransaction.refusal + " ") == true, "\(String(describing: error))")
            #expect(error?.file == "EventBus/Idempotency/commit-batch.lua")
        }
    }

    @Test("commit-batch.lua refuses a write on a key an earlier write of the batch may expire")
    func commitBatchExpiredInBatch() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            let call = Self.batch([(id, [["PEXPIRE", "h", "0"], ["HSET", "h", "f", "v"]])])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.commitBatch, keys: call.keys, call.arguments)
            #expect(error?.message == "BATCHREFUSED h may have expired in this batch")
        }
    }

    @Test("commit-batch.lua refuses an increment of text an earlier write of the batch set")
    func commitBatchTextFromEarlierWrite() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            let call = Self.batch([(id, [["HSET", "h", "f", "abc"]]), (id, [["HINCRBY", "h", "f", "1"]])])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.commitBatch, keys: call.keys, call.arguments)
            #expect(error?.message == "BATCHREFUSED h f is not a number")
        }
    }

    @Test("commit-batch.lua refuses a stream key of another type")
    func commitBatchWrongStreamType() async throws {
        try await ScriptTesting.withClient { client in
            _ = try await client.send(RedisCommand("SET", "s", "x"))
            let call = Self.batch([("1-1", [Self.valid])], consumer: "")
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.commitBatch, keys: call.keys, call.arguments)
            #expect(error?.message == "BATCHREFUSED s is a string, not a stream")
        }
    }

    @Test("commit-batch.lua leaves out an event not pending to the consumer, and commits the others")
    func commitBatchLeavesOutSuperseded() async throws {
        try await ScriptTesting.withClient { client in
            let id = try await Self.pendingEntry(client)
            let other = try await client.send(RedisCommand("XADD", "s", "*", "f", "v")).string ?? ""
            _ = try await client.send(RedisCommand("XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">"))
            let call = Self.batch([(id, [["HINCRBY", "h", "a", "1"]]), (other, [["HINCRBY", "h", "b", "1"]])])
            let reply = try await ScriptTesting.run(client, LuaScripts.commitBatch, keys: call.keys, call.arguments)
            #expect(ScriptFlags(reply: reply)?.flags == [true, false])
            #expect(try await client.send(RedisCommand("HGETALL", "h")).array?.compactMap(\.string) == ["a", "1"])
            #expect(try await client.send(RedisCommand("EXISTS", "g:processed:e1")).int == 0)
        }
    }
}
