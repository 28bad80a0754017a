import Testing
import TodoEvents

/// The order saga's Redis users (`ACL DRYRUN`): each may run what its service runs, and
/// none may forge another's commands or replies or touch another's keys. Their real paths
/// run under these users in `OrderSagaStackTests`.
extension AccessControlTests {
    static let sagaUsers = ["order-service", "inventory-service", "payment-service", "saga-coordinator"]

    static func sagaAllowed(_ user: String) -> [[String]] {
        let sha = String(repeating: "a", count: 40)
        func consumer(_ stream: String) -> [[String]] {
            [
                ["XREADGROUP", "GROUP", user, "c1", "COUNT", "100", "BLOCK", "500", "STREAMS", stream, ">"],
                ["XACK", stream, user, "1-0"], ["XPENDING", stream, user], ["XINFO", "GROUPS", stream],
                ["XGROUP", "CREATE", stream, user, "$", "MKSTREAM"], ["EVALSHA", sha, "2", stream, "\(stream):dlq:\(user)", user, "c1"],
                ["XADD", "\(stream):dlq:\(user)", "*", "dlq_reason", "max_deliveries"], ["XLEN", "\(stream):dlq:\(user)"],
            ]
        }
        // On a cluster, a service's client also reads the slot map and follows ASK.
        let connect: [[String]] = [
            ["PING"], ["SELECT", "0"], ["CLIENT", "SETNAME", "\(user):x"], ["HELLO", "2"], ["SCRIPT", "LOAD", "return 1"],
            ["CLUSTER", "SLOTS"], ["ASKING"],
        ]
        // Safe trimming of the stream it publishes (STREAM_MAX_LENGTH): the trim script's commands.
        func trims(_ stream: String) -> [[String]] {
            [
                ["EVALSHA", sha, "1", stream], ["XINFO", "GROUPS", stream], ["XPENDING", stream, "g", "-", "+", "1"], ["XLEN", stream],
                ["XREVRANGE", stream, "+", "-", "COUNT", "1"], ["XTRIM", stream, "MINID", "~", "1-0"],
            ]
        }
        switch user {
        case "order-service":
            return connect + consumer("order-commands") + trims("order-events") + [
                ["EVALSHA", sha, "3", "order:o1", "order-events", "order:idempotency:k"], ["HGETALL", "order:o1"],
                ["XADD", "order-events", "*", "event_type", "order.confirmed"],
            ]
        case "inventory-service":
            return connect + consumer("inventory-commands") + consumer("order-events") + trims("inventory-events") + [
                ["EVALSHA", sha, "2", "inventory:reservation:o1", "inventory:stock:sku-1"], ["HGETALL", "inventory:stock:sku-1"],
                ["HSETNX", "inventory:stock:sku-1", "available", "5"], ["XADD", "inventory-events", "*", "event_type", "inventory.reserved"],
            ]
        case "payment-service":
            return connect + consumer("payment-commands") + trims("payment-events") + [
                ["EVALSHA", sha, "1", "payment:o1"], ["HGETALL", "payment:o1"], ["XADD", "payment-events", "*", "event_type", "payment.charged"],
            ]
        default:
            let saga = [
                "saga:{order}:o1", "saga:{order}:deadlines", "saga:{order}:history", "saga:{order}:status:running",
                "saga:{order}:status:compensating", "saga:{order}:status:completed", "saga:{order}:status:compensated",
                "saga:{order}:status:failed",
            ]
            return connect + consumer("order-events") + consumer("inventory-events") + consumer("payment-events")
                + trims("order-commands") + trims("inventory-commands") + trims("payment-commands") + [
                ["EVALSHA", sha, "10"] + saga + ["inventory-commands", "payment-commands"], ["HGETALL", "saga:{order}:o1"],
                ["ZRANGEBYSCORE", "saga:{order}:deadlines", "-inf", "1", "LIMIT", "0", "256"], ["ZREM", "saga:{order}:deadlines", "o1:1:1"],
                ["ZREVRANGE", "saga:{order}:status:failed", "0", "49"], ["ZCARD", "saga:{order}:status:failed"],
                // Counts and lists of the ended sagas still kept (retention).
                ["ZCOUNT", "saga:{order}:status:failed", "1", "+inf"],
                ["ZREVRANGEBYSCORE", "saga:{order}:status:failed", "+inf", "1", "LIMIT", "0", "50"],
                ["XADD", "inventory-commands", "*", "event_type", "inventory.reserve"],
                // Parking a deadline that cannot run (its script), the parked count.
                ["EVALSHA", sha, "2", "saga:{order}:deadlines", "saga:{order}:deadlines:parked"],
                ["ZSCORE", "saga:{order}:deadlines", "o1:1:1"], ["HSET", "saga:{order}:deadlines:parked", "o1:1:1", "{}"],
                ["HLEN", "saga:{order}:deadlines:parked"], ["TYPE", "saga:{order}:deadlines:parked"],
                // The commit removes the deadline it replaces from the parked ones too.
                ["HDEL", "saga:{order}:deadlines:parked", "o1:1:1"],
                // The commit script's retention of an ended saga.
                ["PEXPIRE", "saga:{order}:o1", "604800000"], ["ZREMRANGEBYSCORE", "saga:{order}:status:completed", "-inf", "(1"],
            ]
        }
    }

    static func sagaForbidden(_ user: String) -> [[String]] {
        let owned: [String: [[String]]] = [
            "order-service": [["HSET", "order:o1", "status", "confirmed"], ["XADD", "order-events", "*", "event_type", "order.confirmed"]],
            "inventory-service": [
                ["HSET", "inventory:stock:sku-1", "available", "1000"], ["XADD", "inventory-events", "*", "event_type", "inventory.reserved"],
            ],
            "payment-service": [["HSET", "payment:o1", "status", "refunded"], ["XADD", "payment-events", "*", "event_type", "payment.charged"]],
            "saga-coordinator": [
                ["HSET", "saga:{order}:o1", "status", "completed"], ["XADD", "inventory-commands", "*", "event_type", "inventory.release"],
                ["XADD", "payment-commands", "*", "event_type", "payment.refund"], ["XADD", "order-commands", "*", "event_type", "order.cancel"],
            ],
        ]
        var commands = owned.filter { $0.key != user }.values.flatMap { $0 } + [
            ["FLUSHALL"], ["KEYS", "*"], ["EVAL", "return 1", "0"], ["XADD", TodoEvents.stream, "*", "forged", "1"],
            ["HSET", "todos:t1", "title", "forged"], ["DEL", "order-events"], ["XTRIM", TodoEvents.stream, "MAXLEN", "0"],
            ["XGROUP", "DESTROY", "payment-commands", "payment-service"],
        ]
        switch user {
        case "order-service":
            // It reads no saga key (GET /orders/{id} asks the coordinator's API); it does not
            // command itself, nor trim its commands, nor expire its event stream (its root's
            // EXPIRE is for its idempotency records).
            commands += [
                ["EXPIRE", "order-events", "1"], ["EXPIRE", "order-commands", "1"],
                ["HSET", "saga:{order}:o1", "status", "completed"], ["HGETALL", "saga:{order}:o1"], ["HGET", "saga:{order}:o1", "status"],
                ["XADD", "order-commands", "*", "event_type", "order.confirm"],
                ["XTRIM", "order-commands", "MAXLEN", "0"],
            ]
        case "saga-coordinator":
            // It sends commands, never a participant's reply or its state; it reads no command
            // stream, and trims only those it writes; the commit script's declared keys do not
            // open its saga commands to the command streams.
            commands += [
                ["PEXPIRE", "order-commands", "1"], ["HSET", "inventory-commands", "f", "v"], ["ZADD", "payment-commands", "1", "m"],
                ["XREADGROUP", "GROUP", "inventory-service", "c", "STREAMS", "inventory-commands", ">"], ["DEL", "inventory-commands"],
                ["XTRIM", "order-events", "MAXLEN", "0"], ["XTRIM", "payment-events", "MINID", "1-0"],
            ]
        default:
            // A participant trims the stream it publishes, never the command stream it reads.
            let commandStream = "\(user.dropLast("-service".count))-commands"
            commands += [["XADD", commandStream, "*", "event_type", "forged"], ["XTRIM", commandStream, "MAXLEN", "0"]]
        }
        return commands
    }

    /// The commands that destroy a stream, or its groups and pending entries, by its key;
    /// and those that would put another type in its place (once it is gone, or before it
    /// was made).
    static func destroying(_ stream: String) -> [[String]] {
        [
            ["EXPIRE", stream, "1"], ["PEXPIRE", stream, "1"], ["EXPIREAT", stream, "1"], ["RENAME", stream, "\(stream):renamed"],
            ["UNLINK", stream], ["DEL", stream], ["XTRIM", stream, "MAXLEN", "0"], ["XSETID", stream, "1-0"],
            ["HSET", stream, "f", "v"], ["ZADD", stream, "1", "m"], ["SET", stream, "v"],
        ]
    }

    /// Every stream of the stack (the load test's receipts and each group's dead letters too).
    static let everyStream = [
        TodoEvents.stream, "order-events", "inventory-events", "payment-events", "order-commands", "inventory-commands",
        "payment-commands", "receipts", "saga:{order}:history", "es:{todo-events}:t1",
        "todo-events:dlq:notification-service", "todo-events:dlq:analytics-service", "order-commands:dlq:order-service",
        "inventory-commands:dlq:inventory-service", "order-events:dlq:inventory-service", "payment-commands:dlq:payment-service",
        "order-events:dlq:saga-coordinator", "inventory-events:dlq:saga-coordinator", "payment-events:dlq:saga-coordinator",
    ]

    /// The streams a user publishes to (and trims safely: `XTRIM` is allowed there, nothing
    /// else that destroys), and the keys that are its own (its dead letters, its store).
    static func streams(of user: String) -> (published: [String], own: [String]) {
        switch user {
        case "todo-service": ([TodoEvents.stream], ["es:{todo-events}:t1"])
        case "notification-service", "analytics-service": ([], ["todo-events:dlq:\(user)"])
        case "order-service": (["order-events"], ["order-commands:dlq:order-service"])
        case "inventory-service": (["inventory-events"], ["inventory-commands:dlq:inventory-service", "order-events:dlq:inventory-service"])
        case "payment-service": (["payment-events"], ["payment-commands:dlq:payment-service"])
        case "saga-coordinator":
            (
                ["order-commands", "inventory-commands", "payment-commands"],
                ["saga:{order}:history", "order-events:dlq:saga-coordinator", "inventory-events:dlq:saga-coordinator",
                 "payment-events:dlq:saga-coordinator"]
            )
        default: ([], [])
        }
    }

    /// No service may destroy a stream it does not own (one it reads, or only appends to),
    /// nor the stream it publishes other than by trimming it.
    @Test func noServiceMayDestroyAStreamItDoesNotOwn() async throws {
        try await withServer { fixture in
            for user in ["healthcheck"] + Self.services + Self.sagaUsers {
                let (published, own) = Self.streams(of: user)
                for stream in Self.everyStream where !own.contains(stream) {
                    for command in Self.destroying(stream) {
                        if published.contains(stream) && command[0] == "XTRIM" { continue }
                        let refusal = try await fixture.refusal(user, command)
                        #expect(refusal != nil, "\(user) must not be allowed \(command.joined(separator: " "))")
                    }
                }
                for stream in published {
                    #expect(try await fixture.refusal(user, ["XTRIM", stream, "MINID", "~", "1-0"]) == nil, "\(user) trims \(stream)")
                }
            }
        }
    }

    @Test func theSagaUsersMayRunWhatTheirServicesRunAndNothingOfTheOthers() async throws {
        try await withServer { fixture in
            for user in Self.sagaUsers {
                for command in Self.sagaAllowed(user) {
                    let refusal = try await fixture.refusal(user, command)
                    #expect(refusal == nil, "\(user) should be allowed \(command.joined(separator: " ")): \(refusal ?? "")")
                }
                for command in Self.sagaForbidden(user) {
                    let refusal = try await fixture.refusal(user, command)
                    #expect(refusal != nil, "\(user) must not be allowed \(command.joined(separator: " "))")
                }
            }
        }
    }
}
