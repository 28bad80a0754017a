import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import OrderEvents
import RedisClient
import SagaCoordinatorService
import SagaRuntime
import ServiceKit
import TestSupport
import Testing

/// saga-coordinator as its `main` runs it, against a private redis-server; the test plays
/// the participants: it reads their command streams and writes their replies.
@Suite("saga-coordinator")
struct OrderSagaCoordinatorTests {
    /// Timeouts far above any pause of a loaded machine, for tests where no step should time out.
    static let patient = timing(step: 30_000, compensation: 30_000)

    static func timing(step: Int, compensation: Int) -> [String: String] {
        [
            "SAGA_STEP_TIMEOUT_MS": "\(step)", "SAGA_COMPENSATION_TIMEOUT_MS": "\(compensation)", "SAGA_MAX_COMPENSATION_ATTEMPTS": "3",
            "SAGA_DEADLINE_POLL_MS": "20",
        ]
    }

    /// Runs the coordinator and gives `body` a client and the HTTP test client.
    static func withCoordinator(
        _ timing: [String: String] = patient, _ body: @escaping @Sendable (Participants, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let configuration = try SagaCoordinatorConfiguration(environment: EnvironmentReader(timing))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "saga-test"))
            try await app.test(.router) { http in try await body(Participants(client: client, url: server.url), http) }
        }
    }

    /// The participants, played by the test.
    struct Participants {
        let client: RedisClient
        let url: String

        func createOrder(_ id: String, card: String = "4242424242424242") async throws -> OrderCreated {
            let order = OrderCreated(
                orderID: id, userID: "ann", items: [OrderItem(sku: "sku-1", quantity: 2)], amountCents: 1250, cardLast4: String(card.suffix(4)),
                paymentToken: "pt1.sealed-for-payment-service.\(card.suffix(4))")
            try await EventPublisher(client: client).publish(order, context: EventContext(correlationID: "corr-\(id)"))
            return order
        }

        /// The commands of `type` sent for saga `id` to `stream`, in order.
        func commands(_ type: String, for id: String, on stream: String) async throws -> [RawEvent] {
            try await client.xrange(stream).map { try RawEvent(stream: stream, entry: $0) }.filter {
                $0.envelope.eventType == type && $0.envelope.metadata[SagaMessageMetadata.sagaID] == id
            }
        }

        /// Waits for the command, then answers it with `reply`.
        func answer<Reply: DomainEvent>(_ type: String, for id: String, on stream: String, with reply: Reply) async throws {
            var command: RawEvent?
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    command = try await commands(type, for: id, on: stream).last
                    return command != nil
                }, "no \(type) for \(id)")
            guard let command else { return }
            try await EventPublisher(client: client).publish(reply, context: .replying(to: command.envelope))
        }

        func saga(_ id: String) async throws -> SagaState? { try await SagaStore(type: "order", client: client).load(id) }

        func waitFor(_ id: String, _ status: SagaStatus) async throws -> SagaState? {
            var state: SagaState?
            _ = try await eventually(timeout: .seconds(30)) {
                state = try await saga(id)
                return state?.status == status
            }
            #expect(state?.status == status, "saga \(id) is \(state?.status.rawValue ?? "missing"), not \(status.rawValue)")
            return state
        }
    }

    @Test func anOrderRunsEveryStepAndCompletesAndDuplicatesChangeNothing() async throws {
        try await Self.withCoordinator { participants, http in
            let order = try await participants.createOrder("o1")
            try await participants.answer(
                InventoryReserve.eventType, for: "o1", on: OrderStreams.inventoryCommands,
                with: InventoryReserved(orderID: "o1", items: order.items))
            let reserve = try #require(try await participants.commands(InventoryReserve.eventType, for: "o1", on: OrderStreams.inventoryCommands).first)
            #expect(reserve.envelope.correlationID == "corr-o1")
            #expect(reserve.envelope.metadata == ["saga_id": "o1", "saga_type": "order", "saga_step": "1"])
            #expect(try EventDataDecoder().decode(InventoryReserve.self, from: reserve.data).items == order.items)
            try await participants.answer(
                PaymentCharge.eventType, for: "o1", on: OrderStreams.paymentCommands, with: PaymentCharged(orderID: "o1", amountCents: 1250))
            try await participants.answer(
                OrderConfirm.eventType, for: "o1", on: OrderStreams.orderCommands,
                with: OrderConfirmed(orderID: "o1", userID: "ann", items: order.items, amountCents: 1250))
            let done = try #require(try await participants.waitFor("o1", .completed))
            #expect(done.steps.map(\.status) == [.succeeded, .succeeded, .succeeded, .succeeded])

            // Every reply again, and the order again: nothing moves.
            try await participants.answer(
                PaymentCharge.eventType, for: "o1", on: OrderStreams.paymentCommands, with: PaymentCharged(orderID: "o1", amountCents: 1250))
            try await participants.answer(
                InventoryReserve.eventType, for: "o1", on: OrderStreams.inventoryCommands,
                with: InventoryReserved(orderID: "o1", items: order.items))
            _ = try await participants.createOrder("o1")
            let history = try await participants.client.xlen("saga:{order}:history")
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    // All three read and acknowledged by the coordinator's groups.
                    let pending = try await [OrderStreams.orderEvents, OrderStreams.inventoryEvents, OrderStreams.paymentEvents]
                        .asyncMap { try await participants.client.send("XPENDING", $0, "saga-coordinator").array?.first?.int ?? 0 }
                    let lags = try await [OrderStreams.orderEvents, OrderStreams.inventoryEvents, OrderStreams.paymentEvents]
                        .asyncMap { try await Self.lag(participants.client, $0) }
                    return pending.allSatisfy { $0 == 0 } && lags.allSatisfy { $0 == 0 }
                })
            #expect(try await participants.saga("o1") == done)
            #expect(try await participants.client.xlen("saga:{order}:history") == history)
            #expect(try await participants.commands(PaymentCharge.eventType, for: "o1", on: OrderStreams.paymentCommands).count == 1)

            let response = try await http.execute(uri: "/sagas/o1", method: .get)
            #expect(response.status == .ok)
            let view = try JSONDecoder().decode(SagaView.self, from: Data(buffer: response.body))
            #expect(view.state == "completed" && view.steps.map(\.name) == ["create-order", "reserve-inventory", "charge-payment", "confirm-order"])
            #expect(try await http.execute(uri: "/sagas/nope", method: .get).status == .notFound)
            #expect(try await http.execute(uri: "/sagas?status=dancing", method: .get).status == .unprocessableContent)
        }
    }

    @Test func aDeclinedPaymentReleasesTheStockAndCancelsTheOrder() async throws {
        try await Self.withCoordinator { participants, _ in
            let order = try await participants.createOrder("o2", card: "4000000000000002")
            try await participants.answer(
                InventoryReserve.eventType, for: "o2", on: OrderStreams.inventoryCommands,
                with: InventoryReserved(orderID: "o2", items: order.items))
            try await participants.answer(
                PaymentCharge.eventType, for: "o2", on: OrderStreams.paymentCommands,
                with: PaymentDeclined(orderID: "o2", reason: "card_declined"))
            try await participants.answer(
                InventoryRelease.eventType, for: "o2", on: OrderStreams.inventoryCommands,
                with: InventoryReleased(orderID: "o2", items: order.items))
            try await participants.answer(
                OrderCancel.eventType, for: "o2", on: OrderStreams.orderCommands,
                with: OrderCancelled(orderID: "o2", reason: "charge-payment failed: payment.declined"))
            let saga = try #require(try await participants.waitFor("o2", .compensated))
            #expect(saga.reason == "charge-payment failed: payment.declined")
            #expect(saga.steps.map(\.status) == [.compensated, .compensated, .failed, .pending])
            let sentCancel = try #require(try await participants.commands(OrderCancel.eventType, for: "o2", on: OrderStreams.orderCommands).first)
            #expect(try EventDataDecoder().decode(OrderCancel.self, from: sentCancel.data).reason == "charge-payment failed: payment.declined")
            // Nothing was charged, so nothing is refunded.
            #expect(try await participants.commands(PaymentRefund.eventType, for: "o2", on: OrderStreams.paymentCommands).isEmpty)
        }
    }

    @Test func aStepPastItsTimeoutIsCompensatedAndItsLateReplyChangesNothing() async throws {
        // 8 s for the test to answer the reserve (even when the whole suite loads the machine);
        // the charge is never answered.
        try await Self.withCoordinator(Self.timing(step: 8000, compensation: 30_000)) { participants, _ in
            let order = try await participants.createOrder("o3")
            try await participants.answer(
                InventoryReserve.eventType, for: "o3", on: OrderStreams.inventoryCommands,
                with: InventoryReserved(orderID: "o3", items: order.items))
            // payment-service does not answer: past the step timeout, the charge is undone first.
            try await participants.answer(
                PaymentRefund.eventType, for: "o3", on: OrderStreams.paymentCommands, with: PaymentRefunded(orderID: "o3", refundedCents: 0))
            try await participants.answer(
                InventoryRelease.eventType, for: "o3", on: OrderStreams.inventoryCommands,
                with: InventoryReleased(orderID: "o3", items: order.items))
            try await participants.answer(
                OrderCancel.eventType, for: "o3", on: OrderStreams.orderCommands,
                with: OrderCancelled(orderID: "o3", reason: "charge-payment timed out"))
            let saga = try #require(try await participants.waitFor("o3", .compensated))
            #expect(saga.reason == "charge-payment timed out")
            #expect(saga.steps[2].reply == "timeout")
            // The late charge reply: the saga stays as it is.
            try await participants.answer(
                PaymentCharge.eventType, for: "o3", on: OrderStreams.paymentCommands, with: PaymentCharged(orderID: "o3", amountCents: 1250))
            #expect(try await eventually { try await Self.lag(participants.client, OrderStreams.paymentEvents) == 0 })
            #expect(try await participants.saga("o3") == saga)
        }
    }

    @Test func aCompensationNeverAcknowledgedEndsFailedAndListed() async throws {
        // Nobody answers anything here: short timeouts.
        try await Self.withCoordinator(Self.timing(step: 300, compensation: 300)) { participants, http in
            _ = try await participants.createOrder("o4")
            // No participant answers at all: the reserve times out, its release is sent 3 times.
            let saga = try #require(try await participants.waitFor("o4", .failed))
            #expect(try await participants.commands(InventoryRelease.eventType, for: "o4", on: OrderStreams.inventoryCommands).count == 3)
            #expect(saga.reason?.contains("unacknowledged after 3 sends") == true)
            #expect(try await participants.client.send("ZCARD", "saga:{order}:deadlines").int == 0)
            let response = try await http.execute(uri: "/sagas?status=failed", method: .get)
            let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
            let listed = (body?["sagas"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(listed == ["o4"])

            // The operator's view: streamsctl sagas list --status failed, sagas show.
            let url = participants.url
            let list = try await Self.streamsctl(["sagas", "list", "--status", "failed"], url: url)
            #expect(list.code == 0 && list.output.contains("failed 1") && list.output.contains("o4"), "\(list.output)")
            let listJSON = try await Self.streamsctl(["sagas", "list", "--status", "failed", "--json"], url: url)
            let document = try JSONSerialization.jsonObject(with: Data(listJSON.output.utf8)) as? [String: Any]
            #expect(((document?["sagas"] as? [[String: Any]])?.first?["id"] as? String) == "o4")
            let show = try await Self.streamsctl(["sagas", "show", "o4"], url: url)
            #expect(show.code == 0, "\(show.output)")
            #expect(show.output.contains("order saga o4: failed") && show.output.contains("inventory.release"), "\(show.output)")
            #expect(show.output.contains("reserve-inventory") && show.output.contains("timeout"), "\(show.output)")
            let missing = try await Self.streamsctl(["sagas", "show", "nope"], url: url)
            #expect(missing.code == 1 && missing.output.contains("no order saga nope"))
        }
    }

    /// Two coordinators apply the same replies at the same time: each saga moves once.
    @Test func twoCoordinatorsNeverAdvanceASagaTwice() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinators = (0..<2).map { _ in
                SagaCoordinator(
                    definition: OrderSaga.definition(), client: client, publisher: EventPublisher(client: client),
                    makeCommand: OrderSaga.makeCommand, logger: Logger(label: "race"))
            }
            let ids = (0..<100).map { "race-\($0)" }
            let data = String(
                decoding: try EventDataEncoder().encode(
                    OrderCreated(orderID: "x", userID: "u", items: [OrderItem(sku: "s", quantity: 1)], amountCents: 1, cardLast4: "4242", paymentToken: "pt1.a.b")),
                as: UTF8.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    for coordinator in coordinators {
                        group.addTask { try await coordinator.start(id: id, data: data, correlationID: id, causationID: id) }
                    }
                }
                try await group.waitForAll()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    let reply = EventEnvelope(
                        eventID: "r-\(id)", eventType: InventoryReserved.eventType, eventVersion: 1, aggregateType: "inventory",
                        aggregateID: id, timestampMicroseconds: 0, correlationID: id, causationID: id,
                        metadata: ["saga_id": id, "saga_type": "order", "saga_step": "1"])
                    for coordinator in coordinators { group.addTask { try await coordinator.reply(reply) } }
                }
                try await group.waitForAll()
            }
            #expect(try await client.xlen(OrderStreams.inventoryCommands) == ids.count)
            #expect(try await client.xlen(OrderStreams.paymentCommands) == ids.count)
            for id in ids.prefix(10) {
                let saga = try #require(try await SagaStore(type: "order", client: client).load(id))
                #expect(saga.version == 2 && saga.currentStep == 2)
            }
        }
    }

    /// A coordinator computes a saga's next input from the state it last committed; when
    /// another coordinator moved the saga on meanwhile, that guess is never what it acts on.
    @Test func aCoordinatorWhoseLastCommitIsStaleDecidesFromTheStoredState() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let (first, second) = (Self.coordinator(client), Self.coordinator(client))
            let data = String(
                decoding: try EventDataEncoder().encode(
                    OrderCreated(orderID: "x", userID: "u", items: [OrderItem(sku: "s", quantity: 1)], amountCents: 1, cardLast4: "4242", paymentToken: "pt1.a.b")),
                as: UTF8.self)
            func reply(_ type: String, step: Int, id: String) -> EventEnvelope {
                EventEnvelope(
                    eventID: "r-\(id)-\(step)", eventType: type, eventVersion: 1, aggregateType: "t", aggregateID: id,
                    timestampMicroseconds: 0, correlationID: id, causationID: id,
                    metadata: ["saga_id": id, "saga_type": "order", "saga_step": "\(step)"])
            }
            // `first` starts both sagas (its cache: version 1); `second` takes the reservations.
            for id in ["stale-a", "stale-b", "stale-c"] {
                guard case .changed = try await first.start(id: id, data: data, correlationID: id, causationID: id) else {
                    Issue.record("\(id) did not start")
                    return
                }
                guard case .changed = try await second.reply(reply(InventoryReserved.eventType, step: 1, id: id)) else {
                    Issue.record("\(id)'s reservation was ignored")
                    return
                }
            }
            // A reply the stale state would call unexpected (it awaits step 1) is the next step's.
            guard case .changed(let charged) = try await first.reply(reply(PaymentCharged.eventType, step: 2, id: "stale-a")) else {
                Issue.record("the charge reply was ignored on a stale state")
                return
            }
            #expect(charged.version == 3 && charged.currentStep == 3)
            // A redelivered reservation the stale state would act on changes nothing.
            guard case .ignored = try await first.reply(reply(InventoryReserved.eventType, step: 1, id: "stale-b")) else {
                Issue.record("a duplicate reply advanced the saga")
                return
            }
            #expect(try await client.xlen(OrderStreams.paymentCommands) == 3)
            #expect(try await SagaStore(type: "order", client: client).load("stale-b")?.version == 2)
            // A deadline set by `second` (version 2) is acted on, not dropped as stale.
            guard case .changed(let compensating) = try await first.deadline(SagaStore.deadlineMember(id: "stale-c", step: 2, version: 2))
            else {
                Issue.record("the deadline of version 2 was ignored on a stale state")
                return
            }
            #expect(compensating.status == .compensating && compensating.version == 3)
        }
    }

    @Test func endedSagasAreKeptSevenDaysUnlessConfiguredOtherwise() throws {
        #expect(try SagaCoordinatorConfiguration(environment: EnvironmentReader([:])).endedSagaRetention == .seconds(7 * 24 * 3600))
        #expect(try SagaCoordinatorConfiguration(environment: EnvironmentReader(["SAGA_RETENTION_HOURS": "0"])).endedSagaRetention == nil)
        #expect(try SagaCoordinatorConfiguration(environment: EnvironmentReader(["SAGA_RETENTION_HOURS": "2"])).endedSagaRetention == .seconds(7200))
        #expect(throws: ConfigurationError.self) {
            _ = try SagaCoordinatorConfiguration(environment: EnvironmentReader(["SAGA_RETENTION_HOURS": "a week"]))
        }
    }

    static func coordinator(_ client: RedisClient) -> SagaCoordinator {
        SagaCoordinator(
            definition: OrderSaga.definition(), client: client, publisher: EventPublisher(client: client),
            makeCommand: OrderSaga.makeCommand, logger: Logger(label: "stale"))
    }

    static func streamsctl(_ arguments: [String], url: String) async throws -> (code: Int32, output: String) {
        let result = try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streamsctl"), arguments + ["--redis-url", url], environment: ["PATH": "/usr/bin:/bin"])
        return (result.exitCode, result.output)
    }

    static func lag(_ client: RedisClient, _ stream: String) async throws -> Int {
        for group in try await client.send("XINFO", "GROUPS", stream).array ?? [] {
            let fields = group.array ?? []
            var values: [String: RedisReply] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) { values[fields[index].string ?? ""] = fields[index + 1] }
            if values["name"]?.string == "saga-coordinator" {
                return (values["lag"]?.int ?? 1) + (values["pending"]?.int ?? 0)
            }
        }
        return 1
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
