import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// The scripted flow the README's run command shows: todos created, completed, changed and
/// deleted through todo-service's API; notification-service notifying (one user's webhook
/// is down on purpose: retried through the pending list, then dead-lettered);
/// analytics-service counting; then the order saga: one order confirmed, one compensated
/// after a declined card, one cancelled for lack of stock. Prints what each service did and
/// how to look at it.
struct DemoFlow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow", abstract: "Drive a short scripted flow through the running stack and show the results.")

    func run() async throws {
        let stack = try LocalStack()
        func url(_ service: String) throws -> String {
            guard let definition = stack.services.first(where: { $0.name == service }), let port = stack.port(of: definition) else {
                throw StackError("\(service) is not in docker-compose.yml")
            }
            return "http://127.0.0.1:\(port)"
        }
        let todo = try url("todo-service")
        let notification = try url("notification-service")
        let analytics = try url("analytics-service")
        // The services' partitions: the partition streams and keys the flow's events went to.
        let partitions = try StreamPartitions(count: stack.partitions)
        if let cluster = stack.cluster {
            print("On the local Redis Cluster (\(StackCluster.masters) masters, \(StackCluster.masters * StackCluster.replicasPerMaster) replicas, "
                + "ports \((cluster.ports ?? []).map(String.init).joined(separator: ",")); \(partitions) per stream).")
        }
        let before = try await HTTP.request("GET", "\(analytics)/stats").object["totals"] as? [String: Any] ?? [:]

        print("\n1. todo-service: changes through the HTTP API (each appends its event to the todo's history and to todo-events atomically)")
        func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
            let reply = try await HTTP.request(method, todo + path, json: body)
            print("   \(method) \(path) -> \(reply.status) \(reply.text.prefix(110))")
            guard (200..<300).contains(reply.status) else { throw StackError("\(method) \(path) answered \(reply.status)") }
            return reply.object
        }
        let milk = try await call("POST", "/todos", ["user_id": "alice", "title": "Buy milk", "priority": "high"])
        let report = try await call("POST", "/todos", ["user_id": "bob", "title": "Write the report", "priority": "low"])
        let bank = try await call("POST", "/todos", ["user_id": "dave", "title": "Call the bank"])
        let milkID = milk["id"] as? String ?? "", reportID = report["id"] as? String ?? "", bankID = bank["id"] as? String ?? ""
        _ = try await call("POST", "/todos/\(milkID)/complete")
        _ = try await call("PUT", "/todos/\(reportID)/priority", ["priority": "urgent"])
        _ = try await call("PUT", "/todos/\(reportID)/title", ["title": "Write the quarterly report"])
        _ = try await call("DELETE", "/todos/\(reportID)")
        _ = try await call("POST", "/todos/\(bankID)/complete")
        let refused = try await HTTP.request("POST", "\(todo)/todos/\(reportID)/complete")
        print("   POST /todos/\(reportID.prefix(8))…/complete (deleted) -> \(refused.status) \(refused.text)")
        // The deleted todo's state is the fold of its events, which stay.
        let history = try await HTTP.request("GET", "\(todo)/todos/\(reportID)/history").object["events"] as? [[String: Any]] ?? []
        print("   GET /todos/\(reportID.prefix(8))…/history -> \(history.count) events:")
        for event in history {
            let data = (try? JSONSerialization.data(withJSONObject: event["data"] ?? [:], options: [.sortedKeys])) ?? Data()
            print("     v\(event["version"] ?? "?") \(event["timestamp"] ?? "?") \(event["event_type"] ?? "?") \(String(decoding: data, as: UTF8.self).prefix(90))")
        }

        print("\n2. notification-service (group notification-service): alice and bob by the notifications stream;")
        print("   dave's webhook is down on purpose, so his events are retried and then dead-lettered")
        let deadline = ContinuousClock.now + .seconds(60)
        var alice: [[String: Any]] = []
        while ContinuousClock.now < deadline {
            alice = try await HTTP.request("GET", "\(notification)/notifications?user_id=alice").json as? [[String: Any]] ?? []
            if alice.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for item in alice.reversed() { print("   alice: \(item["message"] ?? "") [\(item["channel"] ?? "")]") }

        let operatorURL = stack.operatorURL
        let client = RedisClient(configuration: try RedisConfiguration(url: operatorURL))
        defer { client.close() }
        let store = DeadLetterStore(client: client)
        var letters: [DeadLetterRecord] = []
        while ContinuousClock.now < deadline {
            letters = (try? await store.show(stream: partitions.streamKey("todo-events", partitionKey: bankID), group: "notification-service")) ?? []
            if letters.filter({ $0.eventID != nil && [bankID].contains(letterTodo($0)) }).count >= 2 { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        for letter in letters.suffix(4) {
            print(
                "   dead letter \(letter.id): \(letter.eventType ?? "?") for \(letterTodo(letter).prefix(8))…, "
                    + "reason \(letter.reasonText ?? "?") after \(letter.deliveries ?? 0) deliveries: \(letter.error ?? "")")
        }

        print("\n3. analytics-service (group analytics-service): counted exactly once per event")
        var totals: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            totals = try await HTTP.request("GET", "\(analytics)/stats").object["totals"] as? [String: Any] ?? [:]
            if (totals["deleted"] as? Int ?? 0) > (before["deleted"] as? Int ?? 0) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("   GET /stats totals: \(totals.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        let bob = try await HTTP.request("GET", "\(analytics)/stats/users/bob")
        print("   GET /stats/users/bob: \(bob.text)")

        let operatorPassword = stack.secrets.password(of: "operator")
        let sagas = OrderSagaDemo(
            order: try url("order-service"), inventory: try url("inventory-service"), payment: try url("payment-service"),
            coordinator: try url("saga-coordinator"), operatorURL: operatorURL, logs: stack.layout.logs)
        let orders = try await sagas.run(deadline: ContinuousClock.now + .seconds(60))

        // Where the flow's entries are: the partition streams and keys of its todos and orders.
        let todoStream = partitions.streamKey("todo-events", partitionKey: reportID)
        let historyKey = partitions.count == 1 ? "es:{todo-events}:\(reportID)" : "es:\(todoStream):\(reportID)"
        let daveStream = partitions.streamKey("todo-events", partitionKey: bankID)
        let order = orders.confirmed
        let sagaPrefix = partitions.count == 1 ? "saga:{order}" : "saga:order:{\(partitions.tags[partitions.partition(of: order)])}"
        let commands = partitions.streamKey("inventory-commands", partitionKey: order)
        // notification-service logs each notification in the partition of the event that caused it.
        let notifications = StreamPartitions.partitionTag(of: todoStream).map { "notifications:{\($0)}" } ?? "notifications"
        let streamsctl = ".build/debug/streamsctl"
        // streamsctl takes a stream's name for all of its partitions (--partitions, after the subcommand).
        let partitionsOption = partitions.count > 1 ? "--partitions \(partitions.count) " : ""
        var lines: [String] = []
        if let cluster = stack.cluster {
            let redisCLI = #"redis-cli -c --no-auth-warning -u "$U""#
            let asOperator = partitionsOption + #"--redis-url "$C""#
            lines = [
                "U is one node of the cluster as the operator (redis-cli takes one node; -c follows MOVED to the others),",
                "C every node (streamsctl routes each key to its node); scripts/stack.sh status prints both:",
                "U='\(cluster.nodeURL(1, user: "operator", password: operatorPassword))'",
                "C='\(operatorURL)'",
                "Each stream is \(partitions.count) partition streams (<stream>:{<tag>}); those of this flow's todos and orders:",
            ]
            lines += hints(
                redisCLI: redisCLI, streamsctl: streamsctl, asOperator: asOperator, todoStream: todoStream, history: historyKey,
                daveStream: daveStream, sagaPrefix: sagaPrefix, order: order, commands: commands, notifications: notifications)
        } else {
            lines = [
                "U is the operator's REDIS_URL, which scripts/stack.sh status prints too:",
                "U='\(operatorURL)'",
            ]
            if partitions.count > 1 {
                lines.append("Each stream is \(partitions.count) partition streams (<stream>:{<tag>}); those of this flow's todos and orders:")
            }
            lines += hints(
                redisCLI: #"redis-cli --no-auth-warning -u "$U""#, streamsctl: streamsctl, asOperator: partitionsOption + #"--redis-url "$U""#,
                todoStream: todoStream, history: historyKey, daveStream: daveStream, sagaPrefix: sagaPrefix, order: order,
                commands: commands, notifications: notifications)
        }
        lines += [
            "curl -s \(todo)/todos/\(reportID)/history ; curl -s '\(todo)/todos/\(reportID)?version=2'",
            "curl -s \(analytics)/stats ; curl -s '\(notification)/notifications?user_id=alice'",
            "curl -s \(todo)/metrics | grep events_published",
            "curl -s \(try url("saga-coordinator"))/sagas?status=compensated",
        ]
        print("\n5. Look at it yourself, as the operator (the stack keeps running; stop it with scripts/stack.sh down).")
        for line in lines { print("   " + line) }
    }

    /// The redis-cli and streamsctl commands of step 5, on the keys the flow wrote.
    private func hints(
        redisCLI: String, streamsctl: String, asOperator: String, todoStream: String, history: String, daveStream: String,
        sagaPrefix: String, order: String, commands: String, notifications: String
    ) -> [String] {
        [
            "\(redisCLI) XRANGE '\(todoStream)' - + COUNT 3",
            "\(redisCLI) XRANGE '\(history)' - +",
            "\(redisCLI) XINFO GROUPS '\(todoStream)'",
            "\(redisCLI) XPENDING '\(daveStream)' notification-service",
            "\(redisCLI) XRANGE '\(DeadLetter.streamKey(stream: daveStream, group: "notification-service"))' - +",
            "\(redisCLI) XREVRANGE '\(notifications)' + - COUNT 5",
            "\(streamsctl) groups todo-events \(asOperator)",
            "\(streamsctl) dlq list \(asOperator)",
            "\(streamsctl) dlq show todo-events notification-service \(asOperator)",
            "\(streamsctl) sagas list \(asOperator)",
            "\(streamsctl) sagas show \(order) \(asOperator)",
            "\(streamsctl) trace <correlation id> \(asOperator)",
            "\(redisCLI) HGETALL '\(sagaPrefix):\(order)'",
            "\(redisCLI) XREVRANGE '\(sagaPrefix):history' + - COUNT 10",
            "\(redisCLI) XRANGE '\(commands)' - + COUNT 3",
        ]
    }

    private func letterTodo(_ letter: DeadLetterRecord) -> String {
        letter.originalFields.first { $0.nameText == "aggregate_id" }?.valueText ?? ""
    }
}
