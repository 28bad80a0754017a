import RedisClient

// The replies of Projections' Lua scripts (`LuaScripts`, from the module's `.lua` files),
// each decoded in one place.

/// `reset-read-model.lua`: how many keys were deleted.
struct ResetReply: RedisScriptReply, Equatable {
    let deleted: Int
    init?(reply: RedisReply) {
        guard let value = reply.int, value >= 0 else { return nil }
        deleted = value
    }
}
