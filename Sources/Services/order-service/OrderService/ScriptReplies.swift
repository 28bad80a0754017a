import RedisClient

// The replies of OrderService's Lua scripts (`LuaScripts`, from the module's `.lua` files),
// each decoded in one place.

/// `create-order.lua`.
enum CreateOrderReply: RedisScriptReply, Equatable {
    /// Created: the order and its `order.created` were written.
    case created(orderID: String)
    /// The idempotency key's earlier order, for the same request: nothing written.
    case existing(orderID: String)
    /// The idempotency key was used for another request: nothing written.
    case reused(orderID: String)

    init?(reply: RedisReply) {
        guard let parts = reply.array, parts.count == 2, let id = parts[1].string else { return nil }
        switch parts[0].string {
        case "created": self = .created(orderID: id)
        case "existing": self = .existing(orderID: id)
        case "reused": self = .reused(orderID: id)
        default: return nil
        }
    }
}

/// `transition-order.lua`.
enum TransitionOrderReply: RedisScriptReply, Equatable {
    /// No such order: nothing written.
    case notFound
    /// The order after the script (its `HGETALL`), and whether this call changed its status.
    case found(changed: Bool, fields: [RedisReply])

    init?(reply: RedisReply) {
        if reply.isNull {
            self = .notFound
            return
        }
        guard let parts = reply.array, parts.count == 2, let changed = parts[0].int, changed == 0 || changed == 1,
            let fields = parts[1].array
        else { return nil }
        self = .found(changed: changed == 1, fields: fields)
    }
}
