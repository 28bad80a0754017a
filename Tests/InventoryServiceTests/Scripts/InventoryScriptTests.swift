@testable import InventoryService
import RedisClient
import Testing
import TestSupport

/// InventoryService's scripts (`seed-stock.lua`, `reserve-stock.lua`, `release-stock.lua`,
/// `sell-stock.lua`, with `includes/stock-checks.lua` and `includes/recorded-items.lua`)
/// called directly: each refusal, and each call that changes nothing, writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: seed-stock, reserve-stock, release-stock, sell-stock", .serialized)
struct InventoryScriptTests {
    static let stock = ["HSET", "stock:a", "available", "5", "reserved", "2", "sold", "0"]
    static let reservation = ["HSET", "res:o1", "status", "reserved", "items", "[a2]"]

    static let seedCases: [ScriptCase] = [
        .init("stock key of another type", setup: [["SET", "stock:a", "x"]], keys: ["stock:a"], ["5"],
              error: "WRONGTYPE stock:a is a string, not a hash; nothing was written"),
        .init("one quantity missing", keys: ["stock:a", "stock:b"], ["5"], error: "ERR the seed needs one quantity per stock key"),
        .init("quantity not a whole number", keys: ["stock:a"], ["-5"], error: "ERR seed quantity -5 is not a whole number"),
        .init("quantity too long", keys: ["stock:a"], ["12345678901234"], error: "ERR seed quantity 12345678901234 is not a whole number"),
        .init("existing stock", setup: [stock], keys: ["stock:a"], ["9"]),
    ]

    @Test("seed-stock.lua refuses, or leaves existing stock, writing nothing", arguments: seedCases)
    func seedWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            if let reply = try await scriptCase.expectNoWrite(client, LuaScripts.seedStock) {
                #expect(SeedStockReply(reply: reply)?.created == [])
            }
        }
    }

    static let reserveKeys = ["res:o1", "stock:a"]

    static let reserveCases: [ScriptCase] = [
        .init("reservation of another type", setup: [["SET", "res:o1", "x"]], keys: reserveKeys, ["[a2]", "a", "2"],
              error: "WRONGTYPE res:o1 is a string, not a hash"),
        .init("stock of another type", setup: [["SET", "stock:a", "x"]], keys: reserveKeys, ["[a2]", "a", "2"],
              error: "WRONGTYPE stock:a is a string, not a hash"),
        .init("no item", keys: ["res:o1"], ["[]"], error: "ERR inventory.reserve needs a stock key, SKU and quantity per item"),
        .init("arguments missing", keys: reserveKeys, ["[a2]", "a"], error: "ERR inventory.reserve needs a stock key, SKU and quantity per item"),
        .init("unknown reservation status", setup: [["HSET", "res:o1", "status", "odd"]], keys: reserveKeys, ["[a2]", "a", "2"],
              error: "ERR res:o1 has the unknown status odd"),
        .init("quantity zero", setup: [stock], keys: reserveKeys, ["[a0]", "a", "0"], error: "ERR the quantity 0 of a is not a positive whole number"),
        .init("quantity not a number", setup: [stock], keys: reserveKeys, ["[a]", "a", "two"],
              error: "ERR the quantity two of a is not a positive whole number"),
        .init("a stock key twice", setup: [stock], keys: ["res:o1", "stock:a", "stock:a"], ["[a1a1]", "a", "1", "a", "1"],
              error: "ERR stock:a is given twice"),
        .init("malformed stock", setup: [["HSET", "stock:a", "available", "many"]], keys: reserveKeys, ["[a2]", "a", "2"],
              error: "ERR stock:a is missing or not a stock hash"),
        .init("reserved already", setup: [stock, reservation], keys: reserveKeys, ["[a2]", "a", "2"]),
        .init("released already", setup: [stock, ["HSET", "res:o1", "status", "released", "items", ""]], keys: reserveKeys,
              ["[a2]", "a", "2"]),
    ]

    @Test("reserve-stock.lua refuses, or answers what was recorded, writing nothing", arguments: reserveCases)
    func reserveWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.reserveStock) else { return }
            let expected: ReserveStockReply = scriptCase.name.hasPrefix("released") ? .released(items: "") : .reserved(items: "[a2]")
            #expect(ReserveStockReply(reply: reply) == expected)
        }
    }

    @Test("reserve-stock.lua records out of stock without touching the stock, and reserves what is there")
    func reserveReserves() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, Self.stock)
            let short = try await ScriptTesting.run(client, LuaScripts.reserveStock, keys: Self.reserveKeys, ["[a9]", "a", "9"])
            #expect(ReserveStockReply(reply: short) == .outOfStock(sku: "a", requested: 9, available: 5))
            #expect(try await ScriptTesting.send(client, ["HGET", "stock:a", "available"]).string == "5")
            let reserved = try await ScriptTesting.run(client, LuaScripts.reserveStock, keys: ["res:o2", "stock:a"], ["[a2]", "a", "2"])
            #expect(ReserveStockReply(reply: reserved) == .reserved(items: "[a2]"))
            #expect(try await ScriptTesting.send(client, ["HMGET", "stock:a", "available", "reserved"]).array?.compactMap(\.string) == ["3", "4"])
        }
    }

    /// The refusals release-stock.lua and sell-stock.lua share (includes/recorded-items.lua).
    static let recordedCases: [ScriptCase] = [
        .init("reservation of another type", setup: [["SET", "res:o1", "x"]], keys: reserveKeys, ["[a2]", "2"],
              error: "WRONGTYPE res:o1 is a string, not a hash"),
        .init("one quantity missing", setup: [stock, reservation], keys: reserveKeys, ["[a2]"],
              error: "ERR one quantity per stock key is needed"),
        .init("quantity not a whole number", setup: [stock, reservation], keys: reserveKeys, ["[a2]", "two"],
              error: "ERR the quantity two is not a whole number"),
        .init("unknown reservation status", setup: [stock, ["HSET", "res:o1", "status", "odd", "items", "[a2]"]], keys: reserveKeys,
              ["[a2]", "2"], error: "ERR res:o1 has the unknown status odd"),
        .init("stale items", setup: [stock, reservation], keys: reserveKeys, ["[a3]", "3"]),
        .init("stale: no record but items", setup: [stock], keys: reserveKeys, ["[a2]", "2"]),
        .init("less reserved than recorded", setup: [stock, ["HSET", "res:o1", "status", "reserved", "items", "[a9]"]],
              keys: reserveKeys, ["[a9]", "9"], error: "ERR stock:a has 2 reserved, less than the 9 of res:o1"),
        .init("malformed stock", setup: [["HSET", "stock:a", "available", "1"], reservation], keys: reserveKeys, ["[a2]", "2"],
              error: "ERR stock:a is missing or not a stock hash"),
    ]

    @Test("release-stock.lua refuses, or answers stale, writing nothing", arguments: recordedCases)
    func releaseWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.releaseStock) else { return }
            #expect(RecordedItemsReply(reply: reply) == .stale)
        }
    }

    @Test("sell-stock.lua refuses, or answers stale, writing nothing", arguments: recordedCases)
    func sellWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.sellStock) else { return }
            #expect(RecordedItemsReply(reply: reply) == .stale)
        }
    }

    @Test("sell-stock.lua leaves a reservation that is not reserved, writing nothing", arguments: [
        ScriptCase("no reservation", setup: [stock], keys: ["res:o1"], [""]),
        ScriptCase("released", setup: [stock, ["HSET", "res:o1", "status", "released", "items", "[a2]"]], keys: reserveKeys, ["[a2]", "2"]),
        ScriptCase("out of stock", setup: [stock, ["HSET", "res:o1", "status", "out_of_stock", "items", "[a2]"]], keys: reserveKeys,
                   ["[a2]", "2"]),
    ])
    func sellUnchanged(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            let reply = try #require(try await scriptCase.expectNoWrite(client, LuaScripts.sellStock))
            let status = scriptCase.name == "no reservation" ? "none" : scriptCase.name == "released" ? "released" : "out_of_stock"
            #expect(RecordedItemsReply(reply: reply) == .unchanged(status: status))
        }
    }

    @Test("release-stock.lua gives a reservation back once; sell-stock.lua sells one")
    func releaseAndSell() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, Self.stock)
            try await ScriptTesting.send(client, Self.reservation)
            let sold = try await ScriptTesting.run(client, LuaScripts.sellStock, keys: Self.reserveKeys, ["[a2]", "2"])
            #expect(RecordedItemsReply(reply: sold) == .sold)
            let released = try await ScriptTesting.run(client, LuaScripts.releaseStock, keys: Self.reserveKeys, ["[a2]", "2"])
            #expect(RecordedItemsReply(reply: released) == .released(items: "[a2]"))
            #expect(try await ScriptTesting.send(client, ["HMGET", "stock:a", "available", "reserved", "sold"]).array?.compactMap(\.string)
                == ["7", "0", "0"])
            let again = try await ScriptTesting.expectNoWrite(client, LuaScripts.releaseStock, keys: Self.reserveKeys, ["[a2]", "2"])
            #expect(RecordedItemsReply(reply: again) == .released(items: "[a2]"))
        }
    }
}
