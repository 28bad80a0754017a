import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// The order saga across real processes (order-service, inventory-service,
/// payment-service, saga-coordinator, redis-server under its ACL users).
@Suite("Order saga across processes", .serialized)
struct OrderSagaStackTests {
    @Test func confirmedDeclinedOutOfStockLatePaymentDuplicateRepliesAndAFailingCompensation() async throws {
        let stack = try await SagaStack.start([
            "INVENTORY_SEED": "sku-1=100,sku-2=5", "SAGA_STEP_TIMEOUT_MS": "5000", "SAGA_COMPENSATION_TIMEOUT_MS": "3000",
            "SAGA_MAX_COMPENSATION_ATTEMPTS": "5", "RETRY_INITIAL_BACKOFF_MS": "200", "MAX_DELIVERIES": "3",
            // Partitioned: every stream in three partition streams, the participants' groups ordered.
            "STREAM_PARTITIONS": "3", "PARTITION_LEASE_MS": "2000",
        ])
        do {
            try await Self.scenarios(stack)
        } catch {
            await stack.down()
            throw error
        }
        await stack.down()
    }

    static func scenarios(_ stack: SagaStack) async throws {
        let ports = stack.ports
        // Confirmed: stock sold once, payment charged once.
        let confirmed = try await stack.order(items: [("sku-1", 2)], amount: 2500)
        #expect(try await stack.waitForSaga(confirmed, "completed"))
        let (_, order) = try await stack.json("GET", stack.url(ports.order, "/orders/\(confirmed)"))
        #expect(order["status"] as? String == "confirmed")
        let saga = order["saga"] as? [String: Any]
        #expect(saga?["state"] as? String == "completed")
        #expect((saga?["steps"] as? [[String: Any]])?.map { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded", "succeeded"])
        #expect(try await eventually { try await stack.stock("sku-1") == (98, 0, 2) })
        let (_, payment) = try await stack.json("GET", stack.url(ports.payment, "/payments/\(confirmed)"))
        #expect(payment["status"] as? String == "charged" && payment["charged_cents"] as? Int == 2500)
        #expect(payment["refunded_cents"] as? Int == 0)
        // Each service process records its consumers' metrics (swift-metrics is bootstrapped
        // before its consumers are made: a counter made earlier would record nowhere).
        for (service, port) in [("payment-service", ports.payment), ("inventory-service", ports.inventory)] {
            let (data, _) = try await URLSession.shared.data(from: URL(string: stack.url(port, "/metrics"))!)
            let text = String(decoding: data, as: UTF8.self)
            let handled = text.split(separator: "\n").filter { $0.hasPrefix("events_handled_total{") && $0.contains(service) }
            #expect(!handled.isEmpty, "\(service)'s /metrics has no events_handled_total of its group")
        }
        let (_, sagaView) = try await stack.json("GET", stack.url(ports.saga, "/sagas/\(confirmed)"))
        #expect(sagaView["state"] as? String == "completed")

        // Declined card: the reservation is released, the order cancelled, nothing charged.
        let declined = try await stack.order(items: [("sku-1", 3)], amount: 900, card: "4000000000000002")
        #expect(try await stack.waitForSaga(declined, "compensated"))
        let (_, cancelled) = try await stack.json("GET", stack.url(ports.order, "/orders/\(declined)"))
        #expect(cancelled["status"] as? String == "cancelled")
        #expect((cancelled["reason"] as? String)?.contains("payment.declined") == true, "\(cancelled)")
        #expect(try await stack.stock("sku-1") == (98, 0, 2))
        let (_, declinedPayment) = try await stack.json("GET", stack.url(ports.payment, "/payments/\(declined)"))
        #expect(declinedPayment["charged_cents"] as? Int == 0 && declinedPayment["status"] as? String == "declined")

        // Out of stock: cancelled, nothing reserved, nothing charged.
        let short = try await stack.order(items: [("sku-1", 1), ("sku-2", 6)], amount: 100)
        #expect(try await stack.waitForSaga(short, "compensated"))
        let (_, shortOrder) = try await stack.json("GET", stack.url(ports.order, "/orders/\(short)"))
        #expect(shortOrder["status"] as? String == "cancelled")
        #expect(try await stack.stock("sku-2") == (5, 0, 0))
        #expect(try await stack.stock("sku-1") == (98, 0, 2))
        #expect(try await stack.json("GET", stack.url(ports.payment, "/payments/\(short)")).0 == 404)

        // payment-service is down past the step timeout: compensated once it is back; its late
        // charge is refunded and its late reply changes nothing.
        try await stack.stop("payment-service", signal: SIGTERM)
        let late = try await stack.order(items: [("sku-1", 1)], amount: 700)
        #expect(try await stack.waitForSaga(late, "compensating"))
        #expect(try await stack.sagaField(late, "reason") == "charge-payment timed out")
        let othersBefore = try ["order-service", "inventory-service", "saga-coordinator"].map { try stack.pid(of: $0) }
        try await stack.up()
        #expect(try ["order-service", "inventory-service", "saga-coordinator"].map { try stack.pid(of: $0) } == othersBefore,
            "up restarted services that were running")
        #expect(try await stack.waitForSaga(late, "compensated"))
        #expect(try await eventually { try await stack.coordinatorBacklog("payment-events") == 0 })
        let lateVersion = try await stack.sagaField(late, "version")
        let (_, latePayment) = try await stack.json("GET", stack.url(ports.payment, "/payments/\(late)"))
        #expect(latePayment["charged_cents"] as? Int == latePayment["refunded_cents"] as? Int, "\(latePayment)")
        #expect(try await stack.stock("sku-1") == (98, 0, 2))
        #expect(try await stack.sagaField(late, "version") == lateVersion)

        // Duplicate replies injected with redis-cli: ignored, no second effect.
        let version = try await stack.sagaField(confirmed, "version")
        let commandsBefore = try await stack.length("payment-commands")
        for (stream, type) in [("inventory-events", "inventory.reserved"), ("payment-events", "payment.charged")] {
            let entry = try #require(
                try await stack.entries(stream).first {
                    $0.string(named: "aggregate_id") == confirmed && $0.string(named: "event_type") == type
                })
            var arguments = ["-u", stack.operatorURL, "XADD", stack.streamKey(stream, for: confirmed), "*"]
            for field in entry.fields { arguments += [field.name, field.value] }
            let injected = try await ChildProcess.run("/usr/bin/redis-cli", arguments)
            #expect(injected.exitCode == 0, "\(injected.output)")
            #expect(try await eventually { try await stack.coordinatorBacklog(stream) == 0 })
        }
        #expect(try await stack.sagaField(confirmed, "version") == version)
        #expect(try await stack.length("payment-commands") == commandsBefore)
        #expect(try await stack.stock("sku-1") == (98, 0, 2))

        // A compensation that always fails (the order to cancel does not exist): the saga ends
        // `failed`, is listed, and the coordinator waits without spinning.
        let coordinator = try stack.pid(of: "saga-coordinator")
        let ticksBefore = SagaStack.cpuTicks(coordinator)
        let started = ContinuousClock.now
        let phantom = "phantom-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await ChildProcess.run(
            "/usr/bin/redis-cli",
            [
                "-u", stack.operatorURL, "XADD", stack.streamKey("order-events", for: phantom), "*", "event_id", UUID().uuidString.lowercased(), "event_type",
                "order.created", "event_version", "2", "aggregate_type", "order", "aggregate_id", phantom, "timestamp",
                "2026-12-01T00:00:00.000000Z", "correlation_id", "c-\(phantom)", "causation_id", "c-\(phantom)", "data",
                #"{"order_id":"\#(phantom)","user_id":"ghost","items":[{"sku":"sku-unknown","quantity":1}],"amount_cents":100,"card_last4":"4242","payment_token":"pt1.none.none","created_at":"2026-12-01T00:00:00Z"}"#,
            ])
        #expect(created.exitCode == 0, "\(created.output)")
        #expect(try await stack.waitForSaga(phantom, "failed"))
        let elapsed = ContinuousClock.now - started
        let cpuSeconds = Double(SagaStack.cpuTicks(coordinator) - ticksBefore) / Double(sysconf(Int32(_SC_CLK_TCK)))
        let wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        #expect(cpuSeconds < wallSeconds * 0.25, "the coordinator used \(cpuSeconds) s of CPU in \(wallSeconds) s while waiting")
        #expect(try await stack.entries("order-commands").filter {
            $0.string(named: "aggregate_id") == phantom && $0.string(named: "event_type") == "order.cancel"
        }.count == 5)
        var environment = ProcessInfo.processInfo.environment
        environment["STREAM_PARTITIONS"] = "\(stack.partitions.count)"
        let listed = try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streamsctl"), ["sagas", "list", "--status", "failed", "--redis-url", stack.operatorURL],
            environment: environment)
        #expect(listed.exitCode == 0 && listed.output.contains(phantom), "\(listed.output)")

        // No card number sent above is anywhere in Redis (any key, any stream entry, dead
        // letters and saga state included) or in any service's log.
        let cards = ["4242424242424242", "4000000000000002"]
        let found = try await Self.keysContaining(cards, client: stack.operatorClient)
        #expect(found.isEmpty, "card numbers in Redis: \(found)")
        let logs = stack.directory + "/logs"
        for file in try FileManager.default.contentsOfDirectory(atPath: logs) {
            let text = try String(contentsOfFile: logs + "/" + file, encoding: .utf8)
            #expect(!text.isEmpty || file.hasPrefix("redis"), "\(file) is empty")
            for card in cards { #expect(!text.contains(card), "\(file) contains the card number \(card)") }
        }
    }

    /// The keys whose value (any field, member, element or stream entry) contains one of
    /// `needles`, with what they are; every key of the database is read (SCAN).
    static func keysContaining(_ needles: [String], client: RedisClient) async throws -> [String] {
        var found: [String] = []
        var cursor = "0"
        var scanned = 0
        repeat {
            let reply = try await client.send("SCAN", cursor, "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            for key in (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string) {
                scanned += 1
                let type = try await client.send("TYPE", key).string ?? ""
                let text: String
                switch type {
                case "string": text = try await client.send("GET", key).string ?? ""
                case "hash": text = "\(try await client.send("HGETALL", key))"
                case "list": text = "\(try await client.send("LRANGE", key, "0", "-1"))"
                case "set": text = "\(try await client.send("SMEMBERS", key))"
                case "zset": text = "\(try await client.send("ZRANGE", key, "0", "-1", "WITHSCORES"))"
                case "stream": text = "\(try await client.send("XRANGE", key, "-", "+"))"
                default: text = ""
                }
                if needles.contains(where: { text.contains($0) || key.contains($0) }) { found.append("\(key) (\(type))") }
            }
        } while cursor != "0"
        #expect(scanned > 20, "only \(scanned) keys scanned")
        return found
    }

    /// Two coordinators in one group, each killed with SIGKILL at random moments and
    /// restarted, across 500 concurrent sagas: every saga ends, and stock and money add up.
    /// On one redis-server, and on a local Redis Cluster with 6 partitions, where each saga's
    /// state and the commands it sends are co-partitioned (one slot, one script per step).
    @Test(arguments: [false, true])
    func twoCoordinatorsKilledAtRandomAcross500SagasLoseNothing(onCluster: Bool) async throws {
        let seed = ["sku-1": 600, "sku-2": 150, "sku-3": 40]
        let stack = try await SagaStack.start(
            [
                "INVENTORY_SEED": seed.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","), "SAGA_STEP_TIMEOUT_MS": "5000",
                "SAGA_COMPENSATION_TIMEOUT_MS": "3000", "SAGA_MAX_COMPENSATION_ATTEMPTS": "20", "RETRY_INITIAL_BACKOFF_MS": "200",
                "PAYMENT_FAILURE_PERCENT": "15",
            ], cluster: onCluster)
        let second = SecondCoordinator(stack: stack)
        do {
            try second.start()
            try await Self.chaos(stack, second: second, seed: seed)
        } catch {
            await second.stop()
            await stack.down()
            throw error
        }
        await second.stop()
        await stack.down()
    }

    /// The second coordinator: the same executable, its own consumer name and port.
    final class SecondCoordinator: Sendable {
        let stack: SagaStack
        let port = TestPorts.free(1)[0]
        let process = Mutex<ChildProcess?>(nil)

        init(stack: SagaStack) { self.stack = stack }

        func start() throws {
            var environment = ["PATH": "/usr/bin:/bin", "REDIS_URL": try stack.redisURL(user: "saga-coordinator")]
            environment["HTTP_PORT"] = "\(port)"
            environment["CONSUMER_NAME"] = "coordinator-b"
            for (key, value) in stack.settings where key.hasPrefix("SAGA_") || key.hasPrefix("RETRY_") || key == "STREAM_PARTITIONS" {
                environment[key] = value
            }
            let child = try ChildProcess(
                executable: try ChildProcess.builtExecutable(named: "saga-coordinator"), environment: environment,
                outputPath: stack.directory + "/logs/saga-coordinator-b.log")
            process.withLock { $0 = child }
        }

        func kill9() async {
            guard let child = process.withLock({ $0 }) else { return }
            child.send(SIGKILL)
            await child.exited()
        }

        func stop() async {
            guard let child = process.withLock({ $0 }) else { return }
            child.send(SIGTERM)
            await child.exited()
        }
    }

    /// Sagas completed or compensated.
    static func endedSagas(_ stack: SagaStack) async throws -> Int {
        try await sagas(in: ["completed", "compensated"], stack)
    }

    /// Sagas in any of `statuses`, over every partition.
    static func sagas(in statuses: [String], _ stack: SagaStack) async throws -> Int {
        try await stack.sagaPrefixes.asyncSum { prefix in
            try await statuses.asyncSum { try await stack.operatorClient.send("ZCARD", "\(prefix):status:\($0)").int ?? 0 }
        }
    }

    static func chaos(_ stack: SagaStack, second: SecondCoordinator, seed: [String: Int]) async throws {
        struct Order: Sendable {
            let id: String
            let items: [(String, Int)]
            let amount: Int
        }
        let skus = seed.keys.sorted()
        // As fast as order-service takes them (32 at a time): hundreds of sagas run at once.
        let posted = Atomic<Bool>(false)
        let posting = Task {
            defer { posted.store(true, ordering: .releasing) }
            return try await withThrowingTaskGroup(of: Order.self) { group in
                var orders: [Order] = []
                for index in 0..<500 {
                    if index >= 32 { orders.append(try await group.next()!) }
                    group.addTask {
                        let items = [(skus[index % skus.count], 1 + index % 3)]
                        let amount = 100 + (index * 37) % 5000
                        let card = index % 20 == 7 ? "4000000000000002" : "4242424242424242"
                        return Order(id: try await stack.order(user: "u\(index % 17)", items: items, amount: amount, card: card), items: items, amount: amount)
                    }
                }
                for try await order in group { orders.append(order) }
                return orders
            }
        }
        // Kill one coordinator or the other at random moments while the orders come in and
        // until the sagas have ended (at most 30 kills).
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        while true {
            var running = !posted.load(ordering: .acquiring)
            if !running { running = try await Self.endedSagas(stack) < 500 }
            if kills >= 30 || (kills >= 8 && !running) { break }
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...500, using: &generator)))
            if Bool.random(using: &generator) {
                try await stack.stop("saga-coordinator", signal: SIGKILL)
                try await stack.up()
            } else {
                await second.kill9()
                try second.start()
            }
            kills += 1
        }
        let orders = try await posting.value
        #expect(orders.count == 500)
        print("order saga chaos (\(stack.upArguments.contains("--cluster") ? "cluster" : "one node")): \(kills) coordinator kills")

        // Every saga ends completed or compensated.
        let ended = try await eventually(timeout: .seconds(180)) { try await Self.endedSagas(stack) == 500 }
        #expect(ended, "not every saga ended")
        for status in ["running", "compensating", "failed"] {
            #expect(try await Self.sagas(in: [status], stack) == 0, "sagas left \(status)")
        }

        // Orders agree with their sagas; stock and money add up.
        var soldBySKU: [String: Int] = [:]
        var confirmedCount = 0
        for order in orders {
            let status = try await stack.operatorClient.send("HGET", stack.orderKey(order.id), "status").string
            let saga = try await stack.sagaField(order.id, "status")
            let payment = try await stack.operatorClient.hgetall("payment:\(order.id)")
            let charged = Int(payment["charged_cents"] ?? "0") ?? 0
            let refunded = Int(payment["refunded_cents"] ?? "0") ?? 0
            #expect(charged == 0 || charged == order.amount, "order \(order.id) charged \(charged) of \(order.amount)")
            #expect(refunded == 0 || refunded == charged, "order \(order.id) refunded \(refunded) of \(charged)")
            if status == "confirmed" {
                confirmedCount += 1
                #expect(saga == "completed", "confirmed order \(order.id) has a \(saga ?? "missing") saga")
                #expect(charged - refunded == order.amount, "confirmed order \(order.id): charged \(charged), refunded \(refunded)")
                for (sku, quantity) in order.items { soldBySKU[sku, default: 0] += quantity }
            } else {
                #expect(status == "cancelled", "order \(order.id) is \(status ?? "missing")")
                #expect(saga == "compensated", "cancelled order \(order.id) has a \(saga ?? "missing") saga")
                #expect(charged - refunded == 0, "cancelled order \(order.id): charged \(charged), refunded \(refunded)")
            }
        }
        #expect(confirmedCount > 0 && confirmedCount < 500)
        // Confirmed reservations become sales once inventory-service reads order.confirmed.
        for sku in seed.keys.sorted() {
            let settled = try await eventually(timeout: .seconds(60)) {
                let stock = try await stack.stock(sku)
                return stock.reserved == 0 && stock.sold == soldBySKU[sku, default: 0]
            }
            let stock = try await stack.stock(sku)
            #expect(settled, "\(sku): \(stock), sold should be \(soldBySKU[sku, default: 0])")
            #expect(stock.available + stock.reserved + stock.sold == seed[sku], "\(sku): \(stock) does not add up to \(seed[sku]!)")
        }
    }
}

extension Array {
    func asyncSum(_ value: (Element) async throws -> Int) async rethrows -> Int {
        var total = 0
        for element in self { total += try await value(element) }
        return total
    }
}
