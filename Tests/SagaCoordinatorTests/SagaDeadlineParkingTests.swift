import EventBus
import Foundation
import HummingbirdTesting
import LocalRedisServer
import Logging
import OrderEvents
import RedisClient
import SagaCoordinatorService
import SagaRuntime
import TestSupport
import Testing

/// Deadlines that cannot run: each fails on its own, and one that will never run (a state
/// that cannot be read, an `order.created` that no longer decodes) is parked with its error
/// instead of blocking every other deadline of the saga type.
@Suite("Saga deadlines that cannot run")
struct SagaDeadlineParkingTests {
    static let parkedKey = "saga:{order}:deadlines:parked"

    /// A coordinator without cached states: each input reads the stored state. Its timeouts
    /// are long (the tests make deadlines due by hand): with the default 5 s, a stalled
    /// machine made a compensation's deadline fall due in the middle of a test.
    static func coordinator(_ client: RedisClient) -> SagaCoordinator {
        SagaCoordinator(
            definition: OrderSaga.definition(OrderSaga.Timing(stepTimeout: .seconds(600), compensationTimeout: .seconds(600))),
            client: client, publisher: EventPublisher(client: client),
            makeCommand: OrderSaga.makeCommand, logger: Logger(label: "deadlines"), stateCacheCapacity: 0)
    }

    /// Starts `ids` (each awaiting its reservation, deadline `<id>:1:1`) and makes their
    /// deadlines due now, in the order given.
    static func startDue(_ ids: [String], _ coordinator: SagaCoordinator, _ client: RedisClient) async throws {
        for (index, id) in ids.enumerated() {
            _ = try await coordinator.start(id: id, data: SagaTimelineLayoutTests.orderData, correlationID: id, causationID: id)
            let member = SagaStore.deadlineMember(id: id, step: 1, version: 1)
            #expect(try await client.send("ZADD", coordinator.store.deadlinesKey, "XX", "CH", "\(index + 1)", member).int == 1)
        }
    }

    static func deadlines(_ client: RedisClient) async throws -> [String] {
        try await client.send("ZRANGE", "saga:{order}:deadlines", "0", "-1").array?.compactMap(\.string) ?? []
    }

    static func parked(_ client: RedisClient) async throws -> [String: String] {
        let fields = try await client.send("HGETALL", parkedKey).array?.compactMap(\.string) ?? []
        return Dictionary(uniqueKeysWithValues: stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0], fields[$0 + 1]) })
    }

    @Test(arguments: ["a state that cannot be read", "an order.created that no longer decodes"])
    func aDeadlineThatCannotRunIsParkedAndTheOthersStillRun(_ corruption: String) async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinator = Self.coordinator(client)
            // The broken saga's deadline falls due first.
            try await Self.startDue(["broken", "fine"], coordinator, client)
            if corruption.hasPrefix("a state") {
                try await client.send("HSET", coordinator.store.stateKey("broken"), "status", "dancing")
            } else {
                try await client.send("HSET", coordinator.store.stateKey("broken"), "data", #"{"order_id":5}"#)
            }
            let scheduler = SagaDeadlineScheduler(coordinator: coordinator, logger: Logger(label: "deadlines"))
            #expect(try await scheduler.runDue() == 2)

            // The other saga's step timed out: compensating, its release sent.
            let fine = try #require(try await coordinator.store.load("fine"))
            #expect(fine.status == .compensating && fine.reason == "reserve-inventory timed out")
            #expect(try await client.xrange(OrderStreams.inventoryCommands).compactMap { $0.string(named: "event_type") }.contains(InventoryRelease.eventType))
            // The broken one is parked with its error, out of the deadlines.
            #expect(try await Self.deadlines(client) == [SagaStore.deadlineMember(id: "fine", step: 1, version: 2)])
            let parked = try await Self.parked(client)
            #expect(Array(parked.keys) == ["broken:1:1"])
            #expect(parked["broken:1:1"]?.contains("\"error\"") == true, "\(parked)")
            // The next round finds nothing due, and leaves it parked.
            #expect(try await scheduler.runDue() == 0)
            #expect(try await Self.parked(client).count == 1)
            let listed = try await coordinator.store.parkedDeadlines()
            #expect(listed.map(\.member) == ["broken:1:1"] && listed.first?.dueAtMs == 1 && (listed.first?.parkedAtMs ?? 0) > 1)

            // Retried unrepaired: parked again. Repaired, then retried: it runs.
            #expect(try await coordinator.store.retryParkedDeadlines(nowMilliseconds: 5) == 1)
            #expect(try await Self.deadlines(client).first == "broken:1:1")
            #expect(try await scheduler.runDue() == 1)
            #expect(try await Self.parked(client).keys.sorted() == ["broken:1:1"])
            try await client.send("HSET", coordinator.store.stateKey("broken"), "status", "running", "data", SagaTimelineLayoutTests.orderData)
            #expect(try await coordinator.store.retryParkedDeadlines(["broken:1:1", "not:1:1"], nowMilliseconds: 5) == 1)
            #expect(try await scheduler.runDue() == 1)
            #expect(try await coordinator.store.load("broken")?.status == .compensating)
            #expect(try await Self.parked(client).isEmpty)
        }
    }

    /// A saga that moves on (repaired, then answered) leaves no parked deadline behind: the
    /// commit that replaces its deadline removes the parked one too.
    @Test func aSagaThatMovesOnLeavesNoParkedDeadlineBehind() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinator = Self.coordinator(client)
            try await Self.startDue(["later"], coordinator, client)
            try await client.send("HSET", coordinator.store.stateKey("later"), "data", #"{"order_id":5}"#)
            let scheduler = SagaDeadlineScheduler(coordinator: coordinator, logger: Logger(label: "deadlines"))
            #expect(try await scheduler.runDue() == 1)
            #expect(try await Self.parked(client).keys.sorted() == ["later:1:1"])
            try await client.send("HSET", coordinator.store.stateKey("later"), "data", SagaTimelineLayoutTests.orderData)
            guard case .changed = try await coordinator.reply(SagaTimelineLayoutTests.reply(InventoryReserved.eventType, step: 1, id: "later"))
            else {
                Issue.record("the reservation was ignored")
                return
            }
            #expect(try await Self.parked(client).isEmpty)
            #expect(try await Self.deadlines(client) == ["later:2:2"])
        }
    }

    /// A state naming a step the definition does not have (written by another version of
    /// the saga) is parked, not acted on.
    @Test func aStateNamingAStepTheDefinitionLacksIsParked() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinator = Self.coordinator(client)
            try await Self.startDue(["future", "fine"], coordinator, client)
            try await client.send("HSET", coordinator.store.stateKey("future"), "current_step", "9")
            try await client.send("ZADD", coordinator.store.deadlinesKey, "0", "future:9:1")
            let scheduler = SagaDeadlineScheduler(coordinator: coordinator, logger: Logger(label: "deadlines"))
            #expect(try await scheduler.runDue() == 3)
            #expect(try await Self.parked(client).keys.sorted() == ["future:1:1", "future:9:1"])
            #expect(try await coordinator.store.load("fine")?.status == .compensating)
            #expect(try await coordinator.store.load("future")?.version == 1)
        }
    }

    /// A failure that may go away on its own (here Redis refuses writes: out of memory)
    /// leaves the deadline due, never parked; it runs once Redis accepts writes again.
    @Test func aDeadlineFailingWhileRedisRefusesWritesStaysDueAndRunsLater() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinator = Self.coordinator(client)
            try await Self.startDue(["first", "second"], coordinator, client)
            let scheduler = SagaDeadlineScheduler(coordinator: coordinator, logger: Logger(label: "deadlines"))
            try await client.send("CONFIG", "SET", "maxmemory", "1")
            #expect(try await scheduler.runDue() == 2)
            #expect(try await Self.deadlines(client) == ["first:1:1", "second:1:1"])
            #expect(try await Self.parked(client).isEmpty)
            #expect(try await coordinator.store.load("first")?.status == .running)

            try await client.send("CONFIG", "SET", "maxmemory", "0")
            #expect(try await scheduler.runDue() == 2)
            #expect(try await coordinator.store.load("first")?.status == .compensating)
            #expect(try await coordinator.store.load("second")?.status == .compensating)
            #expect(try await Self.parked(client).isEmpty)
        }
    }

    /// What an operator sees of a parked deadline (saga-coordinator's `/metrics`,
    /// `streamsctl sagas parked`, `sagas list`), and how it is put back once repaired.
    @Test func anOperatorSeesAParkedDeadlineAndRetriesItOnceRepaired() async throws {
        let timing = OrderSagaCoordinatorTests.timing(step: 30_000, compensation: 30_000).merging(["METRICS_SAMPLE_INTERVAL_MS": "20"]) { $1 }
        try await OrderSagaCoordinatorTests.withCoordinator(timing) { participants, http in
            let client = participants.client
            @Sendable func scrape() async throws -> PrometheusText {
                PrometheusText(String(buffer: try await http.execute(uri: "/metrics", method: .get).body))
            }
            let before = try await scrape()
            // Started by another coordinator (the application's has no cached state of it),
            // its order.created then broken, its deadline due now.
            let other = Self.coordinator(client)
            _ = try await other.start(id: "p1", data: SagaTimelineLayoutTests.orderData, correlationID: "p1", causationID: "p1")
            try await client.send("HSET", other.store.stateKey("p1"), "data", #"{"order_id":5}"#)
            try await client.send("ZADD", other.store.deadlinesKey, "XX", "1", "p1:1:1")
            #expect(try await eventually(timeout: .seconds(30)) { try await Self.parked(client).keys.sorted() == ["p1:1:1"] })

            // The counter is counted just after the parking script returns: awaited too.
            var metrics = before
            let order = ["saga_type": "order"]
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    metrics = try await scrape()
                    let parkedTotal = metrics.value("saga_deadlines_parked_total", order) ?? 0
                    return metrics.value("saga_parked_deadlines", order) == 1
                        && parkedTotal - (before.value("saga_deadlines_parked_total", order) ?? 0) >= 1
                },
                "\(metrics.samples("saga_parked_deadlines", order).map(\.value)) \(metrics.samples("saga_deadlines_parked_total", order).map(\.value))")

            let url = participants.url
            let parked = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "parked"], url: url)
            #expect(parked.code == 0 && parked.output.contains("p1:1:1") && parked.output.contains("cannot be built"), "\(parked.output)")
            let json = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "parked", "--json"], url: url)
            let document = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
            #expect(document?.first?["member"] as? String == "p1:1:1" && document?.first?["due_at_ms"] as? Int == 1, "\(json.output)")
            let list = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "list"], url: url)
            #expect(list.code == 0 && list.output.contains("1 parked deadline"), "\(list.output)")
            let neither = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "retry-parked"], url: url)
            #expect(neither.code != 0)

            // Repaired, put back: the application's scheduler runs it.
            try await client.send("HSET", other.store.stateKey("p1"), "data", SagaTimelineLayoutTests.orderData)
            let retried = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "retry-parked", "--all"], url: url)
            #expect(retried.code == 0 && retried.output.contains("1 parked deadline put back"), "\(retried.output)")
            _ = try await participants.waitFor("p1", .compensating)
            #expect(try await Self.parked(client).isEmpty)
            let none = try await OrderSagaCoordinatorTests.streamsctl(["sagas", "parked"], url: url)
            #expect(none.output.contains("no parked order saga deadlines"), "\(none.output)")
        }
    }

    @Test func onlyErrorsThatComeBackEveryTimeArePermanent() {
        #expect(SagaDeadlineScheduler.isPermanent(SagaInputError("x")))
        #expect(SagaDeadlineScheduler.isPermanent(RedisError.server("WRONGTYPE Operation against a key holding the wrong kind of value")))
        for error in [
            RedisError(.connectionFailed, "refused"), RedisError(.connectionLost, "reset"), RedisError(.timeout, "slow"),
            RedisError.server("OOM command not allowed"), RedisError.server("LOADING Redis is loading"), RedisError.server("NOPERM no"),
            RedisError.server("READONLY replica"), RedisError.server("BUSY script"),
        ] {
            #expect(!SagaDeadlineScheduler.isPermanent(error), "\(error)")
        }
        #expect(!SagaDeadlineScheduler.isPermanent(CancellationError()))
    }
}
