import EventBus
import Foundation
import RedisClient

/// The order saga part of the run command's flow: one order confirmed, one compensated
/// after a declined card, one cancelled for lack of stock, each saga printed step by step,
/// and the declined order's flow as `streamsctl trace` shows it from the streams.
struct OrderSagaDemo {
    let order: String
    let inventory: String
    let payment: String
    let coordinator: String
    let operatorURL: String
    /// The stack's log folder, searched for card numbers with Redis.
    let logs: URL

    /// The orders the demo placed.
    struct Orders {
        let confirmed: String
        let declined: String
    }

    @discardableResult
    func run(deadline: ContinuousClock.Instant) async throws -> Orders {
        print("\n4. The order saga (order-service -> saga-coordinator -> inventory, payment, order services)")
        let cases: [(title: String, body: [String: Any])] = [
            (
                "a confirmed order", [
                    "user_id": "alice", "items": [["sku": "sku-1", "quantity": 2]], "amount_cents": 2_598, "card": "4242424242424242",
                ]
            ),
            (
                "a declined card", [
                    "user_id": "bob", "items": [["sku": "sku-1", "quantity": 1]], "amount_cents": 1_299, "card": "4000000000000002",
                ]
            ),
            (
                "not enough stock", [
                    "user_id": "carol", "items": [["sku": "sku-1", "quantity": 1], ["sku": "sku-2", "quantity": 50]],
                    "amount_cents": 64_950, "card": "4242424242424242",
                ]
            ),
        ]
        var declinedFlow: String?
        var ids: [String: String] = [:]
        for (title, body) in cases {
            // Each order its own flow (correlation id), so that its trace is its own.
            let flow = "demo-order-\(UUID().uuidString.prefix(8).lowercased())"
            if title == "a declined card" { declinedFlow = flow }
            let created = try await HTTP.request("POST", "\(order)/orders", json: body, correlationID: flow)
            guard created.status == 202, let id = created.object["id"] as? String else {
                throw StackError("POST /orders answered \(created.status): \(created.text)")
            }
            ids[title] = id
            print("\n   \(title): POST /orders -> 202 \(created.text)")
            var saga: [String: Any] = [:]
            while ContinuousClock.now < deadline {
                saga = (try? await HTTP.request("GET", "\(coordinator)/sagas/\(id)").object) ?? [:]
                if ["completed", "compensated", "failed"].contains(saga["state"] as? String ?? "") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            printTimeline(saga)
            let expected = title == "a confirmed order" ? "completed" : "compensated"
            guard saga["state"] as? String == expected else {
                throw StackError("the saga of \(title) (\(id)) is \(saga["state"] ?? "not known") after 60 s, not \(expected)")
            }
            let final = try await HTTP.request("GET", "\(order)/orders/\(id)").object
            print("   GET /orders/\(id.prefix(8))… -> status \(final["status"] ?? "?")\(final["reason"].map { ", reason \($0)" } ?? "")")
            let charge = try await HTTP.request("GET", "\(payment)/payments/\(id)")
            print("   GET /payments/\(id.prefix(8))… -> \(charge.status) \(charge.text)")
        }
        for sku in ["sku-1", "sku-2"] {
            print("   GET /inventory/\(sku) -> \(try await HTTP.request("GET", "\(inventory)/inventory/\(sku)").text)")
        }
        if let declinedFlow { try printTrace(of: declinedFlow) }
        try await checkNoCardNumbers(Array(Set(cases.compactMap { $0.body["card"] as? String })))
        return Orders(confirmed: ids["a confirmed order"] ?? "", declined: ids["a declined card"] ?? "")
    }

    /// Fails the demo if a card number it sent is in Redis or a log: order-service seals the
    /// card for payment-service, and only its last four digits are shown or stored.
    func checkNoCardNumbers(_ cards: [String]) async throws {
        let client = RedisClient(configuration: try RedisConfiguration(url: operatorURL))
        defer { client.close() }
        let scan = try await CardNumberScan(cards: cards).run(client: client, logs: logs)
        guard scan.found.isEmpty else {
            throw StackError("card numbers found where none may be: \(scan.found.joined(separator: ", "))")
        }
        print(
            "\n   No card number sent is anywhere: \(scan.keys) Redis keys read whole (streams, saga state, dead letters, "
                + "records) and \(scan.logFiles) logs; the events carry card_last4 and a payment_token only payment-service opens.")
    }

    /// `streamsctl trace <flow>` as the operator: every event of the declined order across
    /// the streams, as a tree by cause, with what each consumer group did with it.
    private func printTrace(of flow: String) throws {
        let streamsctl = ".build/debug/streamsctl"
        // On a cluster the URL names every node ($C in step 5): trace reads the streams of every master.
        let given = operatorURL.contains(",") ? "\"$C\"" : "\"$U\""
        print("\n   The declined order's flow, from the streams alone: \(streamsctl) trace \(flow) --redis-url \(given)")
        guard FileManager.default.isExecutableFile(atPath: streamsctl) else {
            print("   (\(streamsctl) is not built: swift build --product streamsctl)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: streamsctl)
        process.arguments = ["trace", flow, "--redis-url", operatorURL]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { print("     \(line)") }
    }

    /// Each step with its command and reply, then the compensations in the order they ran.
    private func printTimeline(_ saga: [String: Any]) {
        let steps = saga["steps"] as? [[String: Any]] ?? []
        let started = saga["started_at"] as? String ?? ""
        func offset(_ time: Any?) -> String {
            guard let time = time as? String, let start = RFC3339.date(from: started), let at = RFC3339.date(from: time) else { return "" }
            return String(format: "+%4.0f ms", at.timeIntervalSince(start) * 1000)
        }
        print("   saga \(saga["id"] ?? "?"): \(saga["state"] ?? "?")\(saga["reason"].map { " (\($0))" } ?? "")")
        for step in steps {
            let name = (step["name"] as? String ?? "").padding(toLength: 18, withPad: " ", startingAt: 0)
            if let command = step["command"] as? String {
                print("     \(name) \(offset(step["sent_at"])) sent \(command) -> \(offset(step["replied_at"])) \(step["reply"] ?? "(no reply)")")
            } else if step["status"] as? String != "pending" || step["reply"] != nil {
                print("     \(name) done when the order was created")
            }
        }
        for step in steps.reversed() where step["compensation"] != nil {
            let name = (step["name"] as? String ?? "").padding(toLength: 18, withPad: " ", startingAt: 0)
            print(
                "     undo \(name)\(offset(step["compensation_sent_at"])) sent \(step["compensation"] ?? "") -> "
                    + "\(offset(step["compensated_at"])) \(step["compensation_reply"] ?? "(not acknowledged)")")
        }
    }
}
