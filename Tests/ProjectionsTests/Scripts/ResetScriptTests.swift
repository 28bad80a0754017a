@testable import Projections
import RedisClient
import Testing
import TestSupport

/// `reset-read-model.lua` called directly: it deletes the keys matching its globs, whatever
/// their type, and nothing else (it has no refusal: SCAN and UNLINK accept any key).
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: reset-read-model", .serialized)
struct ResetScriptTests {
    @Test("reset-read-model.lua deletes every key matching the globs and nothing else")
    func resetDeletesMatches() async throws {
        try await ScriptTesting.withClient { client in
            for index in 0..<1500 { try await ScriptTesting.send(client, ["SET", "rm:todo:\(index)", "x"]) }
            try await ScriptTesting.send(client, ["HSET", "rm:h", "f", "v"])
            try await ScriptTesting.send(client, ["SET", "p:processed:1", "done"])
            try await ScriptTesting.send(client, ["SET", "keep", "x"])
            try await ScriptTesting.send(client, ["HSET", "state", "status", "rebuilding"])
            let reply = try await ScriptTesting.run(client, LuaScripts.resetReadModel, keys: ["state"], ["rm:*", "p:processed:*"])
            #expect(ResetReply(reply: reply)?.deleted == 1502)
            let left = (try await ScriptTesting.send(client, ["KEYS", "*"]).array ?? []).compactMap(\.string).sorted()
            #expect(left == ["keep", "state"])
        }
    }

    @Test("reset-read-model.lua with nothing matching writes nothing")
    func resetNothing() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "keep", "x"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.resetReadModel, keys: ["state"], ["rm:*"])
            #expect(ResetReply(reply: reply)?.deleted == 0)
        }
    }
}
