import RedisClient

// The replies of SagaRuntime's Lua scripts (`LuaScripts`, from the module's `.lua` files),
// each decoded in one place.

extension SagaStore.CommitResult: RedisScriptReply {
    /// `commit-saga.lua`: 'OK', or nil on a version conflict.
    public init?(reply: RedisReply) {
        if reply.isNull {
            self = .conflict
        } else if reply.string == "OK" {
            self = .committed
        } else {
            return nil
        }
    }
}

/// `park-deadline.lua`: whether the deadline was parked (false: it was no longer a deadline).
struct ParkReply: RedisScriptReply, Equatable {
    let parked: Bool
    init?(reply: RedisReply) {
        guard let value = reply.int, value == 0 || value == 1 else { return nil }
        parked = value == 1
    }
}

/// `retry-parked-deadlines.lua`: how many deadlines were put back.
struct RetryParkedReply: RedisScriptReply, Equatable {
    let moved: Int
    init?(reply: RedisReply) {
        guard let value = reply.int, value >= 0 else { return nil }
        moved = value
    }
}
