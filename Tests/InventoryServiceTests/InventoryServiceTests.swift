import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import InventoryService
import LocalRedisServer
import Logging
import OrderEvents
import RedisClient
import SagaRuntime
import SagaTestSupport
import ServiceKit
import TestSupport
import Testing

/// inventory-service as its `main` runs it (`buildApplication`), against a private
/// redis-server, driven the way the saga coordinator drives it: command envelopes written
/// to `inventory-commands` (with `meta.saga_*`), `order.confirmed` on `order-events`,
/// replies read back from `inventory-events`.
@Suite("inventory-service")
struct InventoryServiceTests {
    static let seed = ["sku-1": 10, "sku-2": 5]
    static let environment = ["INVENTORY_SEED": "sku-1=10,sku-2=5", "RETRY_INITIAL_BACKOFF_MS": "50", "RETRY_MAX_BACKOFF_MS": "100"]

    /// The running service and what a test needs to drive it.
    struct Harness: Sendable {
        let http: any TestClientProtocol
        let client: RedisClient
        let store: InventoryStore

        var probe: SagaParticipantProbe {
            SagaParticipantProbe(
                client: client, commandStream: OrderStreams.inventoryCommands, replyStream: OrderStreams.inventoryEvents,
                group: InventoryHandlers.group)
        }

        func send(_ command: some DomainEvent, saga: String, step: Int = 0) async throws {
            try await probe.send(command, saga: saga, step: step)
        }

        /// Publishes `order.confirmed` for the order on `order-events`.
        func confirm(_ orderID: String) async throws {
            try await EventPublisher(client: client).publish(
                OrderConfirmed(orderID: orderID, userID: "alice", items: [], amountCents: 100))
        }

        func replies(_ orderID: String) async throws -> [RawEvent] { try await probe.replies(orderID) }

        /// Waits for `count` replies about the order and returns them.
        func awaitReplies(_ orderID: String, count: Int) async throws -> [RawEvent] {
            let all = try await probe.awaitReplies(orderID, count: count)
            #expect(all.count == count, "\(count) replies for \(orderID)")
            return all
        }

        /// Waits until the group has read and acknowledged everything on `stream`.
        func awaitHandled(_ stream: String) async throws {
            #expect(
                try await eventually {
                    let group = try await StreamInspector(client: client).groups(stream: stream)
                        .first { $0.name == InventoryHandlers.group }
                    return group?.pending == 0 && group?.lag == 0
                }, "\(stream) handled")
        }

        func stock(_ sku: String) async throws -> Stock? { try await store.stock(sku: sku) }

        func reservation(_ orderID: String) async throws -> [String: String] {
            try await client.hgetall(InventoryStore.reservationKey(orderID))
        }

        /// available + reserved + sold == the seed, for every seeded SKU.
        func expectInvariant(_ seed: [String: Int] = InventoryServiceTests.seed) async throws {
            for (sku, seeded) in seed {
                let stock = try #require(try await self.stock(sku))
                #expect(stock.available + stock.reserved + stock.sold == seeded, "\(stock)")
                #expect(stock.available >= 0 && stock.reserved >= 0 && stock.sold >= 0, "\(stock)")
            }
        }
    }

    /// Runs `body` against the service on a fresh redis-server (or on `server`).
    static func withService(
        environment: [String: String] = Self.environment, server: LocalRedisServer? = nil,
        _ body: @escaping @Sendable (Harness) async throws -> Void
    ) async throws {
        if let server {
            try await run(environment: environment, server: server, body)
        } else {
            try await withLocalRedisServer { server in try await run(environment: environment, server: server, body) }
        }
    }

    private static func run(
        environment: [String: String], server: LocalRedisServer, _ body: @escaping @Sendable (Harness) async throws -> Void
    ) async throws {
        let redis = try RedisConfiguration(url: server.url)
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        let configuration = try InventoryServiceConfiguration(environment: EnvironmentReader(environment))
        let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "inventory-test"))
        try await app.test(.router) { http in
            let harness = Harness(http: http, client: client, store: InventoryStore(client: client))
            // The seed is applied at start.
            #expect(try await eventually { try await harness.stock("sku-1") != nil || configuration.seed.entries.isEmpty })
            try await body(harness)
        }
    }

    static func decode<Event: DomainEvent>(_ type: Event.Type, _ raw: RawEvent) throws -> Event {
        try SagaParticipantProbe.decode(type, raw)
    }

    // MARK: Reserve

    @Test func reserveMovesStockOnceAndRepliesWithTheSagaFields() async throws {
        try await Self.withService { service in
            let command = InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3), .init(sku: "sku-2", quantity: 2)])
            try await service.send(command, saga: "s1", step: 0)
            try await service.send(command, saga: "s1", step: 0)  // the coordinator resends
            let replies = try await service.awaitReplies("o1", count: 2)
            for reply in replies {
                #expect(try Self.decode(InventoryReserved.self, reply) == InventoryReserved(orderID: "o1", items: command.items))
                #expect(reply.envelope.metadata == ["saga_id": "s1", "saga_type": "order", "saga_step": "0"])
                #expect(reply.envelope.correlationID == "flow-s1")
                #expect(reply.envelope.aggregateType == "inventory")
                #expect(SagaMessageMetadata.correlation(of: reply.envelope)?.id == "s1")
            }
            #expect(Array(replies[0].data) == Array(replies[1].data))
            // Each reply is caused by its own command.
            let commands = try await service.client.xrange(OrderStreams.inventoryCommands)
                .map { try RawEvent(stream: OrderStreams.inventoryCommands, entry: $0).envelope.eventID }
            #expect(replies.map(\.envelope.causationID) == commands)
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 7, reserved: 3, sold: 0))
            #expect(try await service.stock("sku-2") == Stock(sku: "sku-2", available: 3, reserved: 2, sold: 0))
            #expect(try await service.reservation("o1")["status"] == "reserved")
            try await service.expectInvariant()
        }
    }

    @Test func outOfStockReservesNothingAcrossTheOrdersItems() async throws {
        try await Self.withService { service in
            // sku-1 is there, sku-2 is short: neither is reserved.
            let command = InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3), .init(sku: "sku-2", quantity: 6)])
            try await service.send(command, saga: "s1")
            try await service.send(command, saga: "s1")
            let replies = try await service.awaitReplies("o1", count: 2)
            for reply in replies {
                #expect(
                    try Self.decode(InventoryOutOfStock.self, reply)
                        == InventoryOutOfStock(orderID: "o1", sku: "sku-2", requested: 6, available: 5))
                #expect(reply.envelope.metadata["saga_id"] == "s1")
            }
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            #expect(try await service.stock("sku-2") == Stock(sku: "sku-2", available: 5, reserved: 0, sold: 0))
            #expect(try await service.reservation("o1")["status"] == "out_of_stock")

            // Lines of one SKU count together: 6 + 5 of sku-1 is more than its 10.
            try await service.send(
                InventoryReserve(orderID: "o2", items: [.init(sku: "sku-1", quantity: 6), .init(sku: "sku-1", quantity: 5)]), saga: "s2")
            let merged = try await service.awaitReplies("o2", count: 1)
            #expect(
                try Self.decode(InventoryOutOfStock.self, merged[0])
                    == InventoryOutOfStock(orderID: "o2", sku: "sku-1", requested: 11, available: 10))

            // Stock freed by nobody: a later order for what is there still gets it.
            try await service.send(InventoryReserve(orderID: "o3", items: [.init(sku: "sku-2", quantity: 5)]), saga: "s3")
            #expect(try await service.awaitReplies("o3", count: 1)[0].envelope.eventType == InventoryReserved.eventType)
            #expect(try await service.stock("sku-2") == Stock(sku: "sku-2", available: 0, reserved: 5, sold: 0))
            try await service.expectInvariant()
        }
    }

    @Test func anUnknownSkuIsOutOfStockAndInvalidItemsAreRefused() async throws {
        try await Self.withService { service in
            try await service.send(
                InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 1), .init(sku: "nope", quantity: 2)]), saga: "s1")
            let replies = try await service.awaitReplies("o1", count: 1)
            #expect(
                try Self.decode(InventoryOutOfStock.self, replies[0])
                    == InventoryOutOfStock(orderID: "o1", sku: "nope", requested: 2, available: 0))
            #expect(try await service.stock("nope") == nil)  // nothing created for it
            #expect(try await service.client.send("EXISTS", InventoryStore.stockKey("nope")).int == 0)

            try await service.send(InventoryReserve(orderID: "o2", items: [.init(sku: "sku-1", quantity: 0)]), saga: "s2")
            try await service.send(InventoryReserve(orderID: "o3", items: []), saga: "s3")
            let zero = try Self.decode(InventoryReservationRefused.self, try await service.awaitReplies("o2", count: 1)[0])
            #expect(zero.reason.hasPrefix("invalid items"))
            let empty = try Self.decode(InventoryReservationRefused.self, try await service.awaitReplies("o3", count: 1)[0])
            #expect(empty.reason.hasPrefix("invalid items"))
            #expect(try await service.reservation("o2").isEmpty)
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            try await service.expectInvariant()
        }
    }

    // MARK: Release

    @Test func releaseGivesTheReservationBackOnce() async throws {
        try await Self.withService { service in
            let items = [OrderItem(sku: "sku-1", quantity: 4), OrderItem(sku: "sku-2", quantity: 1)]
            try await service.send(InventoryReserve(orderID: "o1", items: items), saga: "s1", step: 0)
            _ = try await service.awaitReplies("o1", count: 1)
            try await service.send(InventoryRelease(orderID: "o1"), saga: "s1", step: 0)
            try await service.send(InventoryRelease(orderID: "o1"), saga: "s1", step: 0)
            let replies = try await service.awaitReplies("o1", count: 3)
            for reply in replies.dropFirst() {
                #expect(try Self.decode(InventoryReleased.self, reply) == InventoryReleased(orderID: "o1", items: items))
                #expect(reply.envelope.metadata == ["saga_id": "s1", "saga_type": "order", "saga_step": "0"])
            }
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            #expect(try await service.stock("sku-2") == Stock(sku: "sku-2", available: 5, reserved: 0, sold: 0))
            #expect(try await service.reservation("o1")["status"] == "released")

            // A reserve arriving after the release (a late command) is refused.
            try await service.send(InventoryReserve(orderID: "o1", items: items), saga: "s1", step: 0)
            let late = try await service.awaitReplies("o1", count: 4)[3]
            #expect(
                try Self.decode(InventoryReservationRefused.self, late)
                    == InventoryReservationRefused(orderID: "o1", reason: "already released"))
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            try await service.expectInvariant()
        }
    }

    @Test func aReleaseBeforeTheReserveMakesTheLateReserveRefused() async throws {
        try await Self.withService { service in
            try await service.send(InventoryRelease(orderID: "o1"), saga: "s1")
            let released = try await service.awaitReplies("o1", count: 1)
            #expect(try Self.decode(InventoryReleased.self, released[0]) == InventoryReleased(orderID: "o1", items: []))
            #expect(try await service.reservation("o1")["status"] == "released")

            try await service.send(InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 2)]), saga: "s1")
            try await service.send(InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 2)]), saga: "s1")
            let replies = try await service.awaitReplies("o1", count: 3)
            for reply in replies.dropFirst() {
                #expect(
                    try Self.decode(InventoryReservationRefused.self, reply)
                        == InventoryReservationRefused(orderID: "o1", reason: "released before reserve"))
            }
            // A second release of the tombstone gives nothing back either.
            try await service.send(InventoryRelease(orderID: "o1"), saga: "s1")
            let again = try await service.awaitReplies("o1", count: 4)[3]
            #expect(try Self.decode(InventoryReleased.self, again) == InventoryReleased(orderID: "o1", items: []))
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))

            // Releasing an out-of-stock order gives nothing back and closes it.
            try await service.send(InventoryReserve(orderID: "o2", items: [.init(sku: "sku-2", quantity: 9)]), saga: "s2")
            _ = try await service.awaitReplies("o2", count: 1)
            try await service.send(InventoryRelease(orderID: "o2"), saga: "s2")
            let closed = try await service.awaitReplies("o2", count: 2)[1]
            #expect(try Self.decode(InventoryReleased.self, closed) == InventoryReleased(orderID: "o2", items: []))
            #expect(try await service.reservation("o2")["status"] == "released")
            try await service.expectInvariant()
        }
    }

    // MARK: Sale

    @Test func aConfirmedOrderIsSoldOnceAndAReleaseAfterTheSaleGivesTheStockBack() async throws {
        try await Self.withService { service in
            try await service.send(InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3)]), saga: "s1")
            _ = try await service.awaitReplies("o1", count: 1)
            try await service.confirm("o1")
            try await service.confirm("o1")  // a duplicate
            try await service.confirm("o-unknown")  // no reservation: nothing
            try await EventPublisher(client: service.client).publish(OrderCancelled(orderID: "o1", reason: "x"))  // not handled here
            try await service.awaitHandled(OrderStreams.orderEvents)
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 7, reserved: 0, sold: 3))
            #expect(try await service.reservation("o1")["status"] == "sold")
            #expect(try await service.reservation("o-unknown").isEmpty)
            try await service.expectInvariant()

            // A repeated reserve of a sold order answers reserved, and moves nothing.
            try await service.send(InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3)]), saga: "s1")
            #expect(try await service.awaitReplies("o1", count: 2)[1].envelope.eventType == InventoryReserved.eventType)

            // The saga compensates after the sale: the sold stock goes back.
            try await service.send(InventoryRelease(orderID: "o1"), saga: "s1")
            let released = try await service.awaitReplies("o1", count: 3)[2]
            #expect(
                try Self.decode(InventoryReleased.self, released) == InventoryReleased(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3)]))
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))

            // order.confirmed for a released reservation changes nothing.
            try await service.confirm("o1")
            try await service.awaitHandled(OrderStreams.orderEvents)
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            #expect(try await service.reservation("o1")["status"] == "released")
            try await service.expectInvariant()
        }
    }

    // MARK: Invariant

    @Test func theStockAddsUpUnderManyConcurrentOrdersAndDuplicates() async throws {
        try await Self.withService { service in
            let orders = (0..<40).map { index in
                InventoryReserve(
                    orderID: "o\(index)",
                    items: index % 3 == 0
                        ? [.init(sku: "sku-1", quantity: 1 + index % 2), .init(sku: "sku-2", quantity: 1)]
                        : [.init(sku: index % 2 == 0 ? "sku-1" : "sku-2", quantity: 1)])
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, order) in orders.enumerated() {
                    group.addTask {
                        try await service.send(order, saga: "s\(index)")
                        if index % 4 == 0 { try await service.send(order, saga: "s\(index)") }
                        if index % 5 == 0 { try await service.send(InventoryRelease(orderID: order.orderID), saga: "s\(index)") }
                        if index % 7 == 0 { try await service.confirm(order.orderID) }
                    }
                }
                try await group.waitForAll()
            }
            try await service.awaitHandled(OrderStreams.inventoryCommands)
            try await service.awaitHandled(OrderStreams.orderEvents)
            try await service.expectInvariant()
            // What is reserved and sold is exactly what the reserved and sold orders hold.
            var held: [String: (reserved: Int, sold: Int)] = [:]
            var statuses: [String: Int] = [:]
            for order in orders {
                let status = try await service.reservation(order.orderID)["status"]
                statuses[status ?? "none", default: 0] += 1
                for item in order.items where status == "reserved" || status == "sold" {
                    var entry = held[item.sku] ?? (0, 0)
                    if status == "reserved" { entry.reserved += item.quantity } else { entry.sold += item.quantity }
                    held[item.sku] = entry
                }
            }
            // Some orders got their stock, some did not (10 and 5 units for 40 orders).
            #expect((statuses["reserved"] ?? 0) + (statuses["sold"] ?? 0) > 0, "\(statuses)")
            #expect(statuses["out_of_stock"] ?? 0 > 0, "\(statuses)")
            for sku in ["sku-1", "sku-2"] {
                let stock = try #require(try await service.stock(sku))
                #expect(stock.reserved == held[sku]?.reserved ?? 0, "\(sku)")
                #expect(stock.sold == held[sku]?.sold ?? 0, "\(sku)")
            }
        }
    }

    // MARK: Seed

    @Test(arguments: [
        ("sku-1", "no '='"), ("sku-1=ten", "not a number"), ("sku-1=-1", "negative"), ("=5", "empty SKU"),
        ("sku-1=1,sku-1=2", "given twice"), ("sku-1=1,,sku-2=2", "empty entry"), ("sku 1=1", "space in the SKU"),
        ("sku-1=1000000000001", "above the maximum"), ("sku-1=1.5", "not whole"),
    ])
    func aMalformedSeedIsAConfigurationError(seed: String, why: String) throws {
        let error = #expect(throws: ConfigurationError.self, "\(why)") {
            try InventoryServiceConfiguration(environment: EnvironmentReader(["INVENTORY_SEED": seed]))
        }
        #expect(error?.description.contains("INVENTORY_SEED") == true, "\(String(describing: error))")
    }

    @Test func theSeedIsParsed() throws {
        let seed = try InventorySeed(parsing: " sku-1=100 , sku-2 = 5,sku-3=0 ")
        #expect(seed.entries == [.init(sku: "sku-1", available: 100), .init(sku: "sku-2", available: 5), .init(sku: "sku-3", available: 0)])
        #expect(try InventorySeed(parsing: "").entries.isEmpty)
        #expect(try InventoryServiceConfiguration(environment: EnvironmentReader([:])).seed.entries.isEmpty)
        let configuration = try InventoryServiceConfiguration(environment: EnvironmentReader([:]))
        #expect(configuration.service.httpPort == 8085)
        #expect(configuration.commands.stream == "inventory-commands" && configuration.commands.group == "inventory-service")
        #expect(configuration.orderEvents.stream == "order-events" && configuration.orderEvents.unhandledTypes == .acknowledge)
    }

    @Test func aRestartKeepsTheStockItHas() async throws {
        try await withLocalRedisServer { server in
            try await Self.withService(server: server) { service in
                try await service.send(InventoryReserve(orderID: "o1", items: [.init(sku: "sku-1", quantity: 3)]), saga: "s1")
                _ = try await service.awaitReplies("o1", count: 1)
            }
            // Started again with the seed and a new SKU: only the new one is created.
            var environment = Self.environment
            environment["INVENTORY_SEED"] = "sku-1=10,sku-2=5,sku-3=8"
            try await Self.withService(environment: environment, server: server) { service in
                #expect(try await eventually { try await service.stock("sku-3") != nil })
                #expect(try await service.stock("sku-3") == Stock(sku: "sku-3", available: 8, reserved: 0, sold: 0))
                #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 7, reserved: 3, sold: 0))
                try await service.expectInvariant()
            }
        }
    }

    // MARK: Failures

    @Test func aKeyOfTheWrongTypeIsAClearErrorThatWritesNothingAndTheCommandIsRetried() async throws {
        var environment = Self.environment
        environment["MAX_DELIVERIES"] = "1000"
        try await Self.withService(environment: environment) { service in
            // Someone overwrote sku-2's stock with a string.
            _ = try await service.client.send("DEL", InventoryStore.stockKey("sku-2"))
            _ = try await service.client.send("SET", InventoryStore.stockKey("sku-2"), "5")
            let items = [OrderItem(sku: "sku-1", quantity: 2), OrderItem(sku: "sku-2", quantity: 1)]
            try await service.send(InventoryReserve(orderID: "o1", items: items), saga: "s1")
            // The script refuses before its first write: nothing moved, no record, no reply; the
            // command stays pending and is delivered again.
            #expect(try await service.probe.awaitRedelivered(times: 3))
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 10, reserved: 0, sold: 0))
            #expect(try await service.reservation("o1").isEmpty)
            #expect(try await service.replies("o1").isEmpty)
            let failure = await SagaParticipantProbe.failure { _ = try await service.store.reserve(orderID: "o1", items: items) }
            #expect(failure?.contains("WRONGTYPE inventory:stock:sku-2 is a string, not a hash; nothing was written") == true)

            // Repaired (in one step: a redelivery between a DEL and an HSET would find no such
            // SKU and record the order as out of stock), the next delivery reserves.
            _ = try await service.client.send(
                "EVAL", "redis.call('DEL', KEYS[1]); return redis.call('HSET', KEYS[1], 'available', '5', 'reserved', '0', 'sold', '0')",
                "1", InventoryStore.stockKey("sku-2"))
            let replies = try await service.awaitReplies("o1", count: 1)
            #expect(try Self.decode(InventoryReserved.self, replies[0]) == InventoryReserved(orderID: "o1", items: items))
            try await service.expectInvariant()
            #expect(
                try await service.client.xlen(DeadLetter.streamKey(stream: OrderStreams.inventoryCommands, group: InventoryHandlers.group))
                    == 0)

            // A reservation key of the wrong type: the release is refused the same way.
            _ = try await service.client.send("SET", InventoryStore.reservationKey("o2"), "x")
            let releaseFailure = await SagaParticipantProbe.failure { _ = try await service.store.release(orderID: "o2") }
            #expect(releaseFailure?.contains("WRONGTYPE") == true)
            #expect(try await service.client.send("GET", InventoryStore.reservationKey("o2")).string == "x")
        }
    }

    @Test func aReplyThatCouldNotBePublishedIsPublishedByTheRedeliveryWithoutMovingStockAgain() async throws {
        var environment = Self.environment
        environment["MAX_DELIVERIES"] = "1000"
        try await Self.withService(environment: environment) { service in
            // The reply's XADD fails (as if the process died between the script and the publish).
            _ = try await service.client.send("SET", OrderStreams.inventoryEvents, "not a stream")
            let items = [OrderItem(sku: "sku-1", quantity: 2)]
            try await service.send(InventoryReserve(orderID: "o1", items: items), saga: "s1")
            #expect(try await service.probe.awaitRedelivered(times: 3))
            // The stock moved on the first delivery and only then.
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 8, reserved: 2, sold: 0))
            _ = try await service.client.send("DEL", OrderStreams.inventoryEvents)
            let replies = try await service.awaitReplies("o1", count: 1)
            #expect(try Self.decode(InventoryReserved.self, replies[0]) == InventoryReserved(orderID: "o1", items: items))
            #expect(replies[0].envelope.metadata["saga_id"] == "s1")
            try await service.awaitHandled(OrderStreams.inventoryCommands)
            #expect(try await service.stock("sku-1") == Stock(sku: "sku-1", available: 8, reserved: 2, sold: 0))
        }
    }

    // MARK: HTTP

    @Test func theStockIsReadOverHTTP() async throws {
        try await Self.withService { service in
            let response = try await service.http.execute(uri: "/inventory/sku-2", method: .get)
            #expect(response.status == .ok)
            let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
            #expect(body["sku"] as? String == "sku-2")
            #expect(body["available"] as? Int == 5)
            #expect(body["reserved"] as? Int == 0)
            #expect(body["sold"] as? Int == 0)

            let missing = try await service.http.execute(uri: "/inventory/nope", method: .get)
            #expect(missing.status == .notFound)
            let error = try JSONSerialization.jsonObject(with: Data(buffer: missing.body)) as? [String: Any]
            #expect((error?["error"] as? [String: Any])?["code"] as? String == "not_found")
            #expect(try await service.http.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await eventually { try await service.http.execute(uri: "/ready", method: .get).status == .ok })
        }
    }
}
