@testable import EventStore
import RedisClient
import Testing
import TestSupport

/// EventStore's scripts (`append-events.lua`, `save-snapshot.lua`) called directly: each
/// refusal writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: append-events, save-snapshot", .serialized)
struct EventStoreScriptTests {
    static let keys = ["history", "todo"]

    /// ARGV of an append at `expected` of `events` (XADDs) and `writes`.
    static func append(expected: String = "0", events: [[String]] = [["XADD", "todo", "*", "f", "v"]], writes: [[String]] = [])
        -> [String]
    {
        var arguments = [expected, "\(events.count)"]
        for event in events { arguments += ["\(event.count)"] + event }
        arguments.append("\(writes.count)")
        for write in writes { arguments += ["\(write.count)"] + write }
        return arguments
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let setup: [[String]]
        let arguments: [String]
        let message: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        .init(name: "type stream of another type", setup: [["SET", "todo", "x"]], arguments: append(),
              message: "WRONGTYPE todo is a string, not a stream; nothing was written"),
        .init(name: "event not an XADD", setup: [], arguments: append(events: [["SET", "todo", "*", "f", "v"]]),
              message: "ERR event 1 is not an XADD to todo; nothing was written"),
        .init(name: "event to another stream", setup: [], arguments: append(events: [["XADD", "other", "*", "f", "v"]]),
              message: "ERR event 1 is not an XADD to todo; nothing was written"),
        .init(name: "unsupported extra write", setup: [], arguments: append(writes: [["SADD", "{todo}:s", "m"]]),
              message: "ERR extra write 1 is not a ZADD, ZREM, HSET or DEL; nothing was written"),
        .init(name: "extra write outside the tag", setup: [], arguments: append(writes: [["HSET", "elsewhere", "f", "v"]]),
              message: "ERR extra write 1 key elsewhere is outside {todo}; nothing was written"),
        .init(name: "extra write on a key of another type", setup: [["SET", "{todo}:h", "x"]],
              arguments: append(writes: [["HSET", "{todo}:h", "f", "v"]]),
              message: "WRONGTYPE {todo}:h is a string, not a hash; nothing was written"),
    ]

    @Test("append-events.lua refuses what would fail, writing nothing", arguments: refusals)
    func appendRefuses(_ refusal: Refusal) async throws {
        try await ScriptTesting.withClient { client in
            for command in refusal.setup { try await ScriptTesting.send(client, command) }
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.appendEvents, keys: Self.keys, refusal.arguments)
            #expect(error?.message == refusal.message, "\(String(describing: error))")
            #expect(error?.file == "EventStore/append-events.lua")
        }
    }

    @Test("append-events.lua raises on a history of another type, writing nothing")
    func appendHistoryWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "history", "x"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.appendEvents, keys: Self.keys, Self.append())
            #expect(error?.code == .wrongType)
        }
    }

    @Test("append-events.lua answers a conflict on another version, writing nothing")
    func appendConflict() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["XADD", "history", "0-1", "f", "v"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.appendEvents, keys: Self.keys, Self.append(expected: "0"))
            #expect(AppendReply(reply: reply) == .conflict(actual: 1))
        }
    }

    @Test("append-events.lua appends to the history at 0-<version> and to the type stream")
    func appendAppends() async throws {
        try await ScriptTesting.withClient { client in
            let reply = try await ScriptTesting.run(
                client, LuaScripts.appendEvents, keys: Self.keys, Self.append(writes: [["ZADD", "{todo}:z", "1", "m"]]))
            guard case .appended(let ids)? = AppendReply(reply: reply) else {
                Issue.record("\(reply)")
                return
            }
            #expect(ids.count == 1)
            #expect(try await client.xrange("history").map(\.id.description) == ["0-1"])
            #expect(try await ScriptTesting.send(client, ["ZCARD", "{todo}:z"]).int == 1)
        }
    }

    @Test("save-snapshot.lua raises on a key of another type, writing nothing")
    func snapshotWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "snap", "x"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.saveSnapshot, keys: ["snap"], ["3", "1", "{}"])
            #expect(error?.code == .wrongType)
            #expect(error?.file == "EventStore/save-snapshot.lua" && (error?.line ?? 0) > 0)
        }
    }

    @Test("save-snapshot.lua refuses a version that is not a whole number, writing nothing")
    func snapshotBadVersion() async throws {
        try await ScriptTesting.withClient { client in
            for versions in [["three", "1"], ["3", "one"], ["-1", "1"]] {
                let error = try await ScriptTesting.expectRefusal(client, LuaScripts.saveSnapshot, keys: ["snap"], versions + ["{}"])
                #expect(error?.message.hasSuffix("is not a whole number; nothing was written") == true, "\(String(describing: error))")
                #expect(error?.file == "EventStore/save-snapshot.lua")
            }
        }
    }

    @Test("save-snapshot.lua keeps a newer snapshot of the same schema, and replaces an older one")
    func snapshotKeepsNewer() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["HSET", "snap", "version", "5", "schema_version", "1", "state", "{}"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.saveSnapshot, keys: ["snap"], ["4", "1", "{\"a\":1}"])
            #expect(SnapshotReply(reply: reply)?.saved == false)
            let saved = try await ScriptTesting.run(client, LuaScripts.saveSnapshot, keys: ["snap"], ["6", "1", "{\"a\":1}"])
            #expect(SnapshotReply(reply: saved)?.saved == true)
        }
    }
}
