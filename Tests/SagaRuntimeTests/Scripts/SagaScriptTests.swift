import RedisClient
@testable import SagaRuntime
import Testing
import TestSupport

/// SagaRuntime's scripts (`commit-saga.lua`, `park-deadline.lua`,
/// `retry-parked-deadlines.lua`) called directly: each refusal writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: commit-saga, park-deadline, retry-parked-deadlines", .serialized)
struct SagaScriptTests {
    // MARK: commit-saga.lua

    static let keys = ["saga", "deadlines", "history", "running", "compensating", "completed", "compensated", "failed", "parked"]

    /// ARGV of a commit from `expected` to status `status`, with `commands` (XADDs).
    static func commit(
        expected: String = "0", version: String = "1", status: String = "running", mode: String = "set",
        retention: String = "0", commands: [[String]] = []
    ) -> [String] {
        let fields = ["version", version, "status", status, "deadline_member", mode == "set" ? "s1:0:1" : ""]
        return [expected, "\(fields.count)"] + fields
            + [mode, "s1:0:1", "1000", "started", status, "1000", "100", "s1", retention]
            + commands.flatMap { ["\($0.count)"] + $0 }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let setup: [[String]]
        let arguments: [String]
        let commandStreams: [String]
        let message: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        .init(name: "retention not a number", setup: [], arguments: commit(retention: "soon"), commandStreams: [],
              message: "ERR saga retention soon is not a number"),
        .init(name: "unknown new status", setup: [], arguments: commit(status: "paused"), commandStreams: [],
              message: "ERR saga status false -> paused unknown"),
        .init(name: "unknown stored status", setup: [["HSET", "saga", "version", "0", "status", "odd"]], arguments: commit(),
              commandStreams: [], message: "ERR saga status odd -> running unknown"),
        .init(name: "command not an XADD", setup: [], arguments: commit(commands: [["SET", "cmd", "*", "f", "v"]]),
              commandStreams: ["cmd"], message: "ERR saga command 1 is not an XADD to cmd"),
        .init(name: "command to another stream", setup: [], arguments: commit(commands: [["XADD", "other", "*", "f", "v"]]),
              commandStreams: ["cmd"], message: "ERR saga command 1 is not an XADD to cmd"),
        .init(name: "history of another type", setup: [["SET", "history", "x"]], arguments: commit(), commandStreams: [],
              message: "WRONGTYPE history is a string, not a stream"),
        .init(name: "status set of another type", setup: [["SET", "running", "x"]], arguments: commit(), commandStreams: [],
              message: "WRONGTYPE running is a string, not a zset"),
        .init(name: "old status set of another type",
              setup: [["HSET", "saga", "version", "0", "status", "compensating"], ["SET", "compensating", "x"]],
              arguments: commit(), commandStreams: [], message: "WRONGTYPE compensating is a string, not a zset"),
        .init(name: "deadlines of another type", setup: [["SET", "deadlines", "x"]], arguments: commit(), commandStreams: [],
              message: "WRONGTYPE deadlines is a string, not a zset"),
        .init(name: "parked deadlines of another type",
              setup: [["HSET", "saga", "version", "0", "status", "running", "deadline_member", "s1:0:0"], ["SET", "parked", "x"]],
              arguments: commit(mode: "clear"), commandStreams: [], message: "WRONGTYPE parked is a string, not a hash"),
        .init(name: "command stream of another type", setup: [["SET", "cmd", "x"]],
              arguments: commit(commands: [["XADD", "cmd", "*", "f", "v"]]), commandStreams: ["cmd"],
              message: "WRONGTYPE cmd is a string, not a stream"),
    ]

    @Test("commit-saga.lua refuses what would fail, writing nothing", arguments: refusals)
    func commitRefuses(_ refusal: Refusal) async throws {
        try await ScriptTesting.withClient { client in
            for command in refusal.setup { try await ScriptTesting.send(client, command) }
            let error = try await ScriptTesting.expectRefusal(
                client, LuaScripts.commitSaga, keys: Self.keys + refusal.commandStreams, refusal.arguments)
            #expect(error?.message.hasPrefix(refusal.message) == true, "\(String(describing: error))")
            #expect(error?.file == "SagaRuntime/commit-saga.lua")
        }
    }

    @Test("commit-saga.lua raises on a state key of another type, writing nothing")
    func commitStateWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "saga", "x"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.commitSaga, keys: Self.keys, Self.commit())
            #expect(error?.code == .wrongType)
        }
    }

    @Test("commit-saga.lua answers a conflict on another version, writing nothing")
    func commitConflict() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["HSET", "saga", "version", "3", "status", "running"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.commitSaga, keys: Self.keys, Self.commit(expected: "2"))
            #expect(SagaStore.CommitResult(reply: reply) == .conflict)
        }
    }

    @Test("commit-saga.lua commits: state, status index, deadline, history, commands")
    func commitCommits() async throws {
        try await ScriptTesting.withClient { client in
            let reply = try await ScriptTesting.run(
                client, LuaScripts.commitSaga, keys: Self.keys + ["cmd"], Self.commit(commands: [["XADD", "cmd", "*", "f", "v"]]))
            #expect(SagaStore.CommitResult(reply: reply) == .committed)
            #expect(try await ScriptTesting.send(client, ["HGET", "saga", "version"]).string == "1")
            #expect(try await ScriptTesting.send(client, ["ZSCORE", "deadlines", "s1:0:1"]).string == "1000")
            #expect(try await ScriptTesting.send(client, ["ZSCORE", "running", "s1"]).string == "1000")
            #expect(try await ScriptTesting.send(client, ["XLEN", "history"]).int == 1)
            #expect(try await ScriptTesting.send(client, ["XLEN", "cmd"]).int == 1)
        }
    }

    // MARK: park-deadline.lua

    @Test("park-deadline.lua refuses parked deadlines of another type")
    func parkParkedWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["ZADD", "deadlines", "5", "m"])
            try await ScriptTesting.send(client, ["SET", "parked", "x"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.parkDeadline, keys: ["deadlines", "parked"], ["m", "boom", "10"])
            #expect(error?.message == "WRONGTYPE parked is a string, not a hash; nothing was written")
            #expect(error?.file == "SagaRuntime/park-deadline.lua")
        }
    }

    @Test("park-deadline.lua refuses a time that is not a number")
    func parkBadTime() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["ZADD", "deadlines", "5", "m"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.parkDeadline, keys: ["deadlines", "parked"], ["m", "boom", "now"])
            #expect(error?.message == "ERR parking time now is not a number; nothing was written")
        }
    }

    @Test("park-deadline.lua raises on deadlines of another type")
    func parkDeadlinesWrongType() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "deadlines", "x"])
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.parkDeadline, keys: ["deadlines", "parked"], ["m", "boom", "10"])
            #expect(error?.code == .wrongType)
            #expect(error?.file == "SagaRuntime/park-deadline.lua" && (error?.line ?? 0) > 0)
        }
    }

    @Test("park-deadline.lua writes nothing for a member that is no longer a deadline, and parks one that is")
    func parkNotADeadline() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["ZADD", "deadlines", "5", "other"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.parkDeadline, keys: ["deadlines", "parked"], ["m", "boom", "10"])
            #expect(ParkReply(reply: reply)?.parked == false)
            let parked = try await ScriptTesting.run(client, LuaScripts.parkDeadline, keys: ["deadlines", "parked"], ["other", "boom", "10"])
            #expect(ParkReply(reply: parked)?.parked == true)
            #expect(try await ScriptTesting.send(client, ["ZCARD", "deadlines"]).int == 0)
            #expect(try await ScriptTesting.send(client, ["HLEN", "parked"]).int == 1)
        }
    }

    // MARK: retry-parked-deadlines.lua

    @Test("retry-parked-deadlines.lua refuses keys of another type and a time that is not a number", arguments: [
        ([["SET", "deadlines", "x"]], ["10"], "WRONGTYPE deadlines is a string, not a zset"),
        ([["SET", "parked", "x"]], ["10"], "WRONGTYPE parked is a string, not a hash"),
        ([], ["soon"], "ERR due time soon is not a number"),
    ])
    func retryRefuses(setup: [[String]], arguments: [String], message: String) async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["HSET", "parked", "m", "{}"])
            for command in setup { try await ScriptTesting.send(client, command) }
            let error = try await ScriptTesting.expectRefusal(client, LuaScripts.retryParkedDeadlines, keys: ["deadlines", "parked"], arguments)
            #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error))")
        }
    }

    @Test("retry-parked-deadlines.lua skips members that are not parked, and puts back those that are")
    func retrySkips() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["HSET", "parked", "m", "{}"])
            let reply = try await ScriptTesting.expectNoWrite(client, LuaScripts.retryParkedDeadlines, keys: ["deadlines", "parked"], ["10", "x"])
            #expect(RetryParkedReply(reply: reply)?.moved == 0)
            let moved = try await ScriptTesting.run(client, LuaScripts.retryParkedDeadlines, keys: ["deadlines", "parked"], ["10"])
            #expect(RetryParkedReply(reply: moved)?.moved == 1)
            #expect(try await ScriptTesting.send(client, ["ZSCORE", "deadlines", "m"]).string == "10")
        }
    }
}
