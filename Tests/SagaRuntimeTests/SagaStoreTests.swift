import EventCodec
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

@testable import SagaRuntime

/// The saga store against a real redis-server: state, outbox, deadline and history in one
/// atomic step, refused on a stale version or a key of the wrong type. The tests taking a
/// `RedisBackend` run on one node and on a Redis Cluster with 6 partitions (a saga's state,
/// deadlines, history, status sets and the command streams' partitions in its partition's
/// slot): a saga completing, one compensating after a deadline, deadlines parked and retried.
@Suite("Saga store")
struct SagaStoreTests {
    /// A store of "order" sagas over the backend's partitions, and a client.
    static func withStore(_ backend: RedisBackend, _ body: (SagaStore, RedisClient) async throws -> Void) async throws {
        try await withRedis(backend) { target in
            let client = try target.makeClient()
            defer { client.close() }
            try await body(SagaStore(type: "order", client: client, partitions: target.partitions), client)
        }
    }

    /// Computes `input`'s transition from the stored state and commits it.
    static func apply(_ input: SagaInput, to id: String, in store: SagaStore, now: Int = 1_000_000)
        async throws -> (SagaStore.CommitResult, SagaState)?
    {
        let state = try await store.load(id) ?? SagaState(id: id)
        guard case .changed(let changed, let effects) = SagaStateMachineTests.order.transition(state, on: input) else { return nil }
        let next = SagaStateMachineTests.order.recording(input, from: state, to: changed, effects: effects, at: now)
        // Each command to the partition of the saga's id, as the coordinator sends it.
        let commands = effects.commands.map { command in
            let stream = store.partitions.streamKey(command.stream, partitionKey: id)
            return (stream: stream, xadd: Self.xadd(stream, ["event_type", command.type, "saga_id", id, "step", "\(command.step)"]))
        }
        let result = try await store.commit(
            next, expectedVersion: state.version, commands: commands, deadline: effects.deadline, event: "\(input)")
        return (result, next)
    }

    static func xadd(_ stream: String, _ fields: [String]) -> RedisCommand {
        var command = RedisCommand.xadd(stream, approximateMaxLength: nil)
        for field in fields { command.append(field) }
        return command
    }

    @Test(arguments: RedisBackend.allCases)
    func aTransitionWritesStateCommandsDeadlineAndHistoryTogether(_ backend: RedisBackend) async throws {
        try await Self.withStore(backend) { store, client in
            let keys = store.keys(for: "s1")
            #expect(try await Self.apply(.start, to: "s1", in: store)?.0 == .committed)
            let started = try #require(try await store.load("s1"))
            #expect(started.status == .running && started.version == 1 && started.currentStep == 0)
            let commands = try await client.xrange(store.partitions.streamKey("inventory-commands", partitionKey: "s1"))
            #expect(commands.map { $0.string(named: "event_type") } == ["inventory.reserve"])
            #expect(try await client.send("ZSCORE", keys.deadlines, "s1:0:1").string == "1005000")

            _ = try await Self.apply(.reply(step: 0, type: "inventory.reserved"), to: "s1", in: store)
            // One deadline at a time: step 0's is gone, step 1's is set.
            #expect(try await client.send("ZRANGE", keys.deadlines, "0", "-1").array?.compactMap(\.string) == ["s1:1:2"])
            _ = try await Self.apply(.reply(step: 1, type: "payment.charged"), to: "s1", in: store)
            _ = try await Self.apply(.reply(step: 2, type: "order.confirmed"), to: "s1", in: store)
            let done = try #require(try await store.load("s1"))
            #expect(done.status == .completed && done.completedSteps == [0, 1, 2] && done.version == 4)
            #expect(try await client.send("ZCARD", keys.deadlines).int == 0)
            let history = try await client.xrange(keys.history)
            #expect(history.map { $0.string(named: "status") } == ["running", "running", "running", "completed"])
            #expect(done.steps.map(\.status) == [.succeeded, .succeeded, .succeeded])
            #expect(done.steps.map(\.reply) == ["inventory.reserved", "payment.charged", "order.confirmed"])
            #expect(try await store.ids(in: .completed, limit: 10) == ["s1"])
            #expect(try await store.counts() == [.running: 0, .compensating: 0, .completed: 1, .compensated: 0, .failed: 0])
        }
    }

    /// Step 1's deadline falls due: the saga compensates (the refund and the release go to
    /// the saga's partitions of the command streams) and ends compensated; a deadline that
    /// cannot run is parked and put back (park-deadline.lua, retry-parked-deadlines.lua).
    @Test(arguments: RedisBackend.allCases)
    func aTimedOutStepIsCompensatedAndDeadlinesAreParkedAndRetried(_ backend: RedisBackend) async throws {
        try await Self.withStore(backend) { store, client in
            let keys = store.keys(for: "c1")
            _ = try await Self.apply(.start, to: "c1", in: store)
            _ = try await Self.apply(.reply(step: 0, type: "inventory.reserved"), to: "c1", in: store)
            // Due 5 s after the reply (at 1_000_000 ms): not before, then it is.
            #expect(try await store.dueDeadlines(nowMilliseconds: 1_004_999, limit: 10).isEmpty)
            #expect(try await store.dueDeadlines(nowMilliseconds: 1_005_000, limit: 10) == ["c1:1:2"])
            // Parked (it could not run), then put back among the deadlines.
            #expect(try await store.parkDeadline("c1:1:2", error: "no route", nowMilliseconds: 1_005_001))
            #expect(try await store.dueDeadlines(nowMilliseconds: 1_005_001, limit: 10).isEmpty)
            #expect(try await store.parkedDeadlines().map(\.member) == ["c1:1:2"])
            #expect(try await store.retryParkedDeadlines(nowMilliseconds: 1_005_002) == 1)
            #expect(try await store.parkedDeadlineCount() == 0)
            #expect(try await store.dueDeadlines(nowMilliseconds: 1_005_002, limit: 10) == ["c1:1:2"])

            _ = try await Self.apply(.deadline(step: 1), to: "c1", in: store)
            let compensating = try #require(try await store.load("c1"))
            #expect(compensating.status == .compensating && compensating.reason == "charge-payment timed out")
            let payments = try await client.xrange(store.partitions.streamKey("payment-commands", partitionKey: "c1"))
            #expect(payments.map { $0.string(named: "event_type") } == ["payment.charge", "payment.refund"])
            _ = try await Self.apply(.reply(step: 1, type: "payment.refunded"), to: "c1", in: store)
            _ = try await Self.apply(.reply(step: 0, type: "inventory.released"), to: "c1", in: store)
            let ended = try #require(try await store.load("c1"))
            #expect(ended.status == .compensated)
            let inventory = try await client.xrange(store.partitions.streamKey("inventory-commands", partitionKey: "c1"))
            #expect(inventory.map { $0.string(named: "event_type") } == ["inventory.reserve", "inventory.release"])
            #expect(try await client.send("ZCARD", keys.deadlines).int == 0)
            #expect(try await store.ids(in: .compensated, limit: 10) == ["c1"])
            #expect(try await store.counts()[.compensated] == 1)
            let history = try await client.xrange(keys.history)
            #expect(history.last?.string(named: "status") == "compensated")
        }
    }

    @Test func aStaleVersionIsAConflictAndWritesNothing() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            _ = try await Self.apply(.start, to: "s2", in: store)
            let state = try #require(try await store.load("s2"))
            guard case .changed(let next, _) = SagaStateMachineTests.order.transition(state, on: .reply(step: 0, type: "inventory.reserved"))
            else {
                Issue.record("no transition")
                return
            }
            // Another coordinator committed the same reply first.
            #expect(try await store.commit(next, expectedVersion: 1, commands: [], deadline: nil, event: "a") == .committed)
            let lengths = (try await client.xlen(store.historyKey), try await client.xlen("payment-commands"))
            let second = try await store.commit(
                next, expectedVersion: 1, commands: [(stream: "payment-commands", xadd: Self.xadd("payment-commands", ["event_type", "payment.charge"]))],
                deadline: nil, event: "b")
            #expect(second == .conflict)
            #expect(try await client.xlen(store.historyKey) == lengths.0)
            #expect(try await client.xlen("payment-commands") == lengths.1)
        }
    }

    @Test func aKeyOfTheWrongTypeRefusesTheCommitBeforeAnyWrite() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            try await client.send("SET", store.historyKey, "not a stream")
            await #expect(throws: RedisError.self) { _ = try await Self.apply(.start, to: "s3", in: store) }
            #expect(try await store.load("s3") == nil)
            #expect(try await client.send("EXISTS", "inventory-commands", store.deadlinesKey).int == 0)
        }
    }

    @Test func aCorruptStateIsAClearError() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            try await client.send("HSET", store.stateKey("s4"), "status", "dancing", "version", "1", "current_step", "0")
            await #expect(throws: SagaStoreError.self) { _ = try await store.load("s4") }
        }
    }

    @Test func aTimelineWithAGapIsAClearError() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            var record: [UInt8] = []
            try EventDataEncoder().encode(SagaStepRecord(name: "x"), into: &record)
            let step = String(decoding: record, as: UTF8.self)
            try await client.send(
                "HSET", store.stateKey("s6"), "status", "running", "version", "1", "current_step", "0", "step.0", step, "step.2", step)
            await #expect(throws: SagaStoreError.self) { _ = try await store.load("s6") }
            // Fields that only look like steps are not steps.
            try await client.send("HSET", store.stateKey("s7"), "status", "running", "version", "1", "current_step", "0", "step.0", step, "step.x", "?")
            #expect(try await store.load("s7")?.steps.count == 1)
        }
    }
}

/// What a commit writes when it knows the state it was computed from, and the keys it
/// checks before its first write.
@Suite("Saga store commits")
struct SagaStoreCommitTests {
    @Test func aCommitFromAKnownStateWritesOnlyWhatChangedAndReadsBackWhole() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            _ = try await SagaStoreTests.apply(.start, to: "d1", in: store)
            let started = try #require(try await store.load("d1"))
            guard case .changed(let changed, let effects) = SagaStateMachineTests.order.transition(started, on: .reply(step: 0, type: "inventory.reserved"))
            else {
                Issue.record("no transition")
                return
            }
            let next = SagaStateMachineTests.order.recording(.reply(step: 0, type: "inventory.reserved"), from: started, to: changed, effects: effects, at: 1_000_500)
            let fields = try next.hashFields(changedFrom: started).map(\.0)
            #expect(!fields.contains("data") && !fields.contains("correlation_id") && !fields.contains("started_at_ms"))
            #expect(fields.contains("version") && fields.contains("updated_at_ms"))
            // One field per step, only the steps the reply changed (step 0 done, step 1 sent).
            #expect(fields.filter { $0.hasPrefix("step.") } == ["step.0", "step.1"])
            #expect(try await store.commit(next, expectedVersion: 1, commands: [], deadline: effects.deadline, event: "r", previous: started) == .committed)
            #expect(try await store.load("d1") == next)
            // A `previous` that is not the state at the expected version is not trusted.
            var wrong = next
            wrong.data = "{\"other\":1}"
            let third = SagaStateMachineTests.order.transition(next, on: .reply(step: 1, type: "payment.charged"))
            guard case .changed(let after, _) = third else {
                Issue.record("no transition")
                return
            }
            #expect(try await store.commit(after, expectedVersion: 2, commands: [], deadline: nil, event: "c", previous: wrong) == .committed)
            #expect(try await store.load("d1")?.data == next.data)
        }
    }

    @Test func aTimelineWrittenAsOneFieldIsReadAndAdvancedStepByStep() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            _ = try await SagaStoreTests.apply(.start, to: "m1", in: store)
            let started = try #require(try await store.load("m1"))
            // The hash as written before one field per step: the whole timeline in `steps`.
            var timeline: [UInt8] = []
            try EventDataEncoder().encode(started.steps, into: &timeline)
            let perStep = (0..<started.steps.count).map { "step.\($0)" }
            _ = try await client.send(RedisCommand("HDEL", arguments: [store.stateKey("m1")] + perStep))
            _ = try await client.send("HSET", store.stateKey("m1"), "steps", String(decoding: timeline, as: UTF8.self))
            #expect(try await store.load("m1") == started)
            let input = SagaInput.reply(step: 0, type: "inventory.reserved")
            guard case .changed(let changed, let effects) = SagaStateMachineTests.order.transition(started, on: input) else {
                Issue.record("no transition")
                return
            }
            let next = SagaStateMachineTests.order.recording(input, from: started, to: changed, effects: effects, at: 1_000_700)
            #expect(try await store.commit(next, expectedVersion: 1, commands: [], deadline: effects.deadline, event: "r", previous: started) == .committed)
            #expect(try await store.load("m1") == next)
        }
    }

    @Test func aParkedDeadlinesKeyOfTheWrongTypeRefusesACommitThatReplacesADeadline() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            _ = try await SagaStoreTests.apply(.start, to: "p1", in: store)
            try await client.send("SET", store.parkedDeadlinesKey, "not mine")
            await #expect(throws: RedisError.self) {
                _ = try await SagaStoreTests.apply(.reply(step: 0, type: "inventory.reserved"), to: "p1", in: store)
            }
            #expect(try await store.load("p1")?.version == 1)
            #expect(try await client.xlen(store.historyKey) == 1)
            #expect(try await client.xlen("payment-commands") == 0)
            #expect(try await client.send("ZRANGE", store.deadlinesKey, "0", "-1").array?.compactMap(\.string) == ["p1:0:1"])
        }
    }

    @Test(arguments: ["state", "status", "deadlines", "command stream"])
    func aWrittenKeyOfTheWrongTypeRefusesTheCommitBeforeAnyWrite(_ which: String) async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            let key = switch which {
            case "state": store.stateKey("w1")
            case "status": store.statusKey(.running)
            case "deadlines": store.deadlinesKey
            default: "inventory-commands"
            }
            try await client.send("SET", key, "not mine")
            await #expect(throws: RedisError.self) { _ = try await SagaStoreTests.apply(.start, to: "w1", in: store) }
            #expect(try await client.send("EXISTS", store.historyKey).int == 0)
            #expect(try await client.send("TYPE", key).string == "string")
            let others = [store.stateKey("w1"), store.statusKey(.running), store.deadlinesKey, "inventory-commands"].filter { $0 != key }
            #expect(try await client.send("EXISTS", others[0], others[1], others[2]).int == 0)
        }
    }
}

@Suite("Saga store retention")
struct SagaStoreRetentionTests {
    @Test func anEndedSagaExpiresAndOlderEndedSagasLeaveTheStatusSet() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client, endedRetention: .seconds(60))
            let now = 1_000_000_000
            let completed = store.statusKey(.completed)
            // Ended before this saga: one past the retention (by the sagas' clock), one within.
            try await client.send("ZADD", completed, "\(now - 60_001)", "ancient", "\(now - 1_000)", "recent")
            _ = try await SagaStoreTests.apply(.start, to: "r1", in: store, now: now)
            #expect(try await client.send("PTTL", store.stateKey("r1")).int == -1, "a running saga does not expire")
            _ = try await SagaStoreTests.apply(.reply(step: 0, type: "inventory.reserved"), to: "r1", in: store, now: now)
            _ = try await SagaStoreTests.apply(.reply(step: 1, type: "payment.charged"), to: "r1", in: store, now: now)
            _ = try await SagaStoreTests.apply(.reply(step: 2, type: "order.confirmed"), to: "r1", in: store, now: now)
            #expect(try await store.load("r1")?.status == .completed)
            let ttl = try #require(try await client.send("PTTL", store.stateKey("r1")).int)
            #expect(ttl > 0 && ttl <= 60_000)
            #expect(try await client.send("ZRANGE", completed, "0", "-1").array?.compactMap(\.string) == ["recent", "r1"])
        }
    }

    @Test func withoutRetentionAnEndedSagaIsKept() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = SagaStore(type: "order", client: client)
            try await client.send("ZADD", store.statusKey(.completed), "1", "ancient")
            for input in [SagaInput.start, .reply(step: 0, type: "inventory.reserved"), .reply(step: 1, type: "payment.charged"),
                .reply(step: 2, type: "order.confirmed")] {
                _ = try await SagaStoreTests.apply(input, to: "k1", in: store)
            }
            #expect(try await client.send("PTTL", store.stateKey("k1")).int == -1)
            #expect(try await client.send("ZCARD", store.statusKey(.completed)).int == 2)
        }
    }
}
