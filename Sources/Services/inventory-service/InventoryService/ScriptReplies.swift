import RedisClient

// The replies of InventoryService's Lua scripts (`LuaScripts`, from the module's `.lua`
// files), each decoded in one place.

/// `seed-stock.lua`: the stock keys created.
struct SeedStockReply: RedisScriptReply, Equatable {
    let created: [String]
    init?(reply: RedisReply) {
        guard let parts = reply.array else { return nil }
        created = parts.compactMap(\.string)
        guard created.count == parts.count else { return nil }
    }
}

/// `reserve-stock.lua`: what the reservation is now (recorded before, or by this call).
enum ReserveStockReply: RedisScriptReply, Equatable {
    /// Reserved (or sold since): the items as JSON.
    case reserved(items: String)
    case sold(items: String)
    /// Out of stock: the first SKU short, how many were asked, how many were available.
    case outOfStock(sku: String, requested: Int, available: Int)
    /// Released already (`items` empty: released before any reserve).
    case released(items: String)

    init?(reply: RedisReply) {
        guard let parts = reply.array, parts.count == 5 else { return nil }
        let values = parts.map { $0.string ?? "" }
        switch values[0] {
        case "reserved": self = .reserved(items: values[1])
        case "sold": self = .sold(items: values[1])
        case "released": self = .released(items: values[1])
        case "out_of_stock":
            guard let requested = Int(values[3]), let available = Int(values[4]) else { return nil }
            self = .outOfStock(sku: values[2], requested: requested, available: available)
        default: return nil
        }
    }
}

/// `release-stock.lua` and `sell-stock.lua` (scripts on a reservation's recorded items).
enum RecordedItemsReply: RedisScriptReply, Equatable {
    /// The record's items changed since the caller read them: nothing written, read again.
    case stale
    /// Released: the items this order's release gave back, as JSON.
    case released(items: String)
    /// Sold.
    case sold
    /// Left as it was: its status (`none`: no reservation).
    case unchanged(status: String)

    init?(reply: RedisReply) {
        guard let values = reply.array?.compactMap(\.string), values.count == reply.array?.count else { return nil }
        switch (values.first, values.count) {
        case ("stale", 1): self = .stale
        case ("released", 2): self = .released(items: values[1])
        case ("sold", 1): self = .sold
        case ("unchanged", 2): self = .unchanged(status: values[1])
        default: return nil
        }
    }
}
