import RedisClient

// The replies of EventStore's Lua scripts (`LuaScripts`, from the module's `.lua` files),
// each decoded in one place.

/// `append-events.lua`.
enum AppendReply: RedisScriptReply, Equatable {
    /// Appended: the events' ids on the type stream.
    case appended([String])
    /// The history holds `actual` events, not the expected number: nothing written.
    case conflict(actual: Int)

    init?(reply: RedisReply) {
        guard let parts = reply.array else { return nil }
        if parts.count == 2, parts[0].string == "conflict" {
            guard let actual = parts[1].int else { return nil }
            self = .conflict(actual: actual)
            return
        }
        let ids = parts.compactMap(\.string)
        guard ids.count == parts.count else { return nil }
        self = .appended(ids)
    }
}

/// `save-snapshot.lua`: whether the snapshot was saved (false: a newer one is stored).
struct SnapshotReply: RedisScriptReply, Equatable {
    let saved: Bool
    init?(reply: RedisReply) {
        guard let value = reply.int, value == 0 || value == 1 else { return nil }
        saved = value == 1
    }
}
