import Foundation
import OrderEvents
import RedisClient

/// One SKU's stock, as `GET /inventory/{sku}` shows it.
public struct Stock: Codable, Sendable, Equatable {
    public var sku: String
    public var available: Int
    public var reserved: Int
    public var sold: Int

    public init(sku: String, available: Int, reserved: Int, sold: Int) {
        self.sku = sku
        self.available = available
        self.reserved = reserved
        self.sold = sold
    }
}

/// What `inventory.reserve` did for an order (the first time, or as recorded then).
public enum ReserveOutcome: Sendable, Equatable {
    /// The items are reserved (or were, and have been sold since).
    case reserved([OrderItem])
    /// Not enough stock of `sku` (the first short one in the order's items): nothing reserved.
    case outOfStock(sku: String, requested: Int, available: Int)
    /// Refused without reserving: the order was released first, or the command is invalid.
    case refused(reason: String)
}

/// What `order.confirmed` did to the order's reservation.
public enum SaleOutcome: Sendable, Equatable {
    /// The reservation became a sale now.
    case sold
    /// Nothing changed; the reservation's status (`sold`, `released`, `out_of_stock`), or
    /// `none` when the order has no reservation.
    case unchanged(status: String)
}

/// A reservation or stock hash that the service cannot read back, or a change that kept
/// racing with another.
public struct InventoryStoreError: Error, CustomStringConvertible {
    public let description: String
}

/// inventory-service's state in Redis, under `inventory:` only.
///
/// Keys: `inventory:stock:<sku>` (hash: `available`, `reserved`, `sold`, whole numbers)
/// and `inventory:reservation:<order_id>` (hash: `status` = `reserved` | `sold` |
/// `out_of_stock` | `released`; `items`, the order's items as JSON, empty for a release
/// that came before any reserve; `released_items`, what the release gave back, as JSON;
/// for `out_of_stock`, `sku`, `requested`, `available` of the first short SKU). In the
/// cluster layout (`STREAM_PARTITIONS` > 1) every key carries one hash tag,
/// `inventory:{stock}:stock:<sku>` and `inventory:{stock}:reservation:<order_id>`: an order
/// reserves several SKUs in one script, so they share a slot (one master serves all of
/// inventory's state; its commands and replies are spread like every other stream).
///
/// Guarantees: every change is one Lua script that checks everything that can fail (the
/// keys' types, the stock hashes' numbers, the quantities, that what goes back is there)
/// before its first write, since Redis does not roll a script back: a refused change
/// writes nothing. Each order moves stock at most once per transition, whatever the
/// number of deliveries: a repeated command finds the reservation's record and answers
/// what it recorded. So, for every SKU, `available + reserved + sold` stays what the seed
/// created.
public struct InventoryStore: Sendable {
    let client: RedisClient
    /// `inventory:`, or `inventory:{stock}:` in the cluster layout.
    let prefix: String

    /// - Parameter clusterLayout: every key under the one hash tag `{stock}`.
    public init(client: RedisClient, clusterLayout: Bool = false) {
        self.client = client
        self.prefix = clusterLayout ? "inventory:{stock}:" : "inventory:"
    }

    public func stockKey(_ sku: String) -> String { "\(prefix)stock:\(sku)" }
    public func reservationKey(_ orderID: String) -> String { "\(prefix)reservation:\(orderID)" }
    /// The keys of the plain layout.
    public static func stockKey(_ sku: String) -> String { "inventory:stock:\(sku)" }
    public static func reservationKey(_ orderID: String) -> String { "inventory:reservation:\(orderID)" }

    /// The most distinct SKUs one order may reserve.
    public static let maximumItems = 1000

    // MARK: Reading

    /// The SKU's stock, or nil when the SKU does not exist.
    public func stock(sku: String) async throws -> Stock? {
        let hash = try await client.hgetall(stockKey(sku))
        guard !hash.isEmpty else { return nil }
        guard let available = hash["available"].flatMap(Int.init), let reserved = hash["reserved"].flatMap(Int.init),
            let sold = hash["sold"].flatMap(Int.init)
        else { throw InventoryStoreError(description: "\(stockKey(sku)) is not a stock hash: \(hash)") }
        return Stock(sku: sku, available: available, reserved: reserved, sold: sold)
    }

    // MARK: Changing

    /// Creates the seed's SKUs that do not exist yet (`available` as seeded, nothing
    /// reserved or sold) and returns their SKUs; existing ones are left as they are. Refused
    /// as a whole, with nothing written, when one of the keys holds something else than a
    /// hash.
    public func seed(_ seed: InventorySeed) async throws -> [String] {
        guard !seed.entries.isEmpty else { return [] }
        let reply = try await client.run(Self.seedScript, keys: seed.entries.map { stockKey($0.sku) }, as: SeedStockReply.self) {
            command in
            for entry in seed.entries { command.append(entry.available) }
        }
        return reply.created.map { String($0.dropFirst(stockKey("").count)) }
    }

    /// Reserves the order's items, all or nothing, once per order (see `ReserveOutcome`).
    /// Lines of the same SKU count together. Invalid items (none, an empty SKU, a quantity
    /// that is not from 1 to `InventorySeed.maximumQuantity`) are refused without a record.
    public func reserve(orderID: String, items requested: [OrderItem]) async throws -> ReserveOutcome {
        let items: [OrderItem]
        switch Self.validated(requested) {
        case .success(let valid): items = valid
        case .failure(let error): return .refused(reason: "invalid items: \(error.reason)")
        }
        let itemsText = try Self.encode(items)
        let reply = try await client.run(
            Self.reserveScript, keys: [reservationKey(orderID)] + items.map { stockKey($0.sku) }, as: ReserveStockReply.self
        ) { command in
            command.append(itemsText)
            for item in items {
                command.append(item.sku)
                command.append(item.quantity)
            }
        }
        switch reply {
        case .reserved(let items), .sold(let items):
            return .reserved(try Self.decode(items))
        case .outOfStock(let sku, let requested, let available):
            return .outOfStock(sku: sku, requested: requested, available: available)
        case .released(let items):
            return .refused(reason: items.isEmpty ? "released before reserve" : "already released")
        }
    }

    /// Gives the order's reservation (or sale) back, once, and marks it released; a release
    /// with no reservation leaves a `released` record with no items, so a reserve arriving
    /// later is refused. Returns the items this order's release gave back (the same ones on
    /// every repeat; empty when nothing had been reserved).
    public func release(orderID: String) async throws -> [OrderItem] {
        let reply = try await runOnRecordedItems(Self.releaseScript, orderID: orderID)
        guard case .released(let items) = reply else {
            throw InventoryStoreError(description: "\(Self.releaseScript.name) replied \(reply)")
        }
        return try Self.decode(items)
    }

    /// Turns the order's reservation into a sale (`reserved` → `sold`), once; any other
    /// state is left as it is.
    public func confirmSale(orderID: String) async throws -> SaleOutcome {
        switch try await runOnRecordedItems(Self.sellScript, orderID: orderID) {
        case .sold: return .sold
        case .unchanged(let status): return .unchanged(status: status)
        case let other: throw InventoryStoreError(description: "\(Self.sellScript.name) replied \(other)")
        }
    }

    /// Runs `script` on the order's reservation and the stock of the items it recorded: the
    /// stock keys are declared to Redis, so the items are read first, and the script answers
    /// `stale` (writing nothing) when the record's items changed in between; then it runs again.
    private func runOnRecordedItems(_ script: RedisScript, orderID: String) async throws -> RecordedItemsReply {
        let key = reservationKey(orderID)
        for _ in 0..<16 {
            let itemsText = try await client.send("HGET", key, "items").string ?? ""
            let items = try Self.decode(itemsText)
            let reply = try await client.run(script, keys: [key] + items.map { stockKey($0.sku) }, as: RecordedItemsReply.self) {
                command in
                command.append(itemsText)
                for item in items { command.append(item.quantity) }
            }
            if reply != .stale { return reply }
        }
        throw InventoryStoreError(description: "the reservation of order \(orderID) kept changing; try again")
    }

    // MARK: Items

    struct InvalidItems: Error {
        let reason: String
    }

    /// The items with lines of one SKU added up, in the order each SKU first appears.
    static func validated(_ items: [OrderItem]) -> Result<[OrderItem], InvalidItems> {
        Result { () throws(InvalidItems) in try merged(items) }
    }

    private static func merged(_ items: [OrderItem]) throws(InvalidItems) -> [OrderItem] {
        guard !items.isEmpty else { throw InvalidItems(reason: "the order has no items") }
        var skus: [String] = []
        var totals: [String: Int] = [:]
        for item in items {
            guard !item.sku.isEmpty else { throw InvalidItems(reason: "an item has an empty SKU") }
            guard (1...InventorySeed.maximumQuantity).contains(item.quantity) else {
                throw InvalidItems(
                    reason: "the quantity \(item.quantity) of \(item.sku) is not from 1 to \(InventorySeed.maximumQuantity)")
            }
            if totals[item.sku] == nil { skus.append(item.sku) }
            totals[item.sku, default: 0] += item.quantity
            guard totals[item.sku]! <= InventorySeed.maximumQuantity else {
                throw InvalidItems(reason: "the quantity of \(item.sku) is above \(InventorySeed.maximumQuantity)")
            }
        }
        guard skus.count <= maximumItems else { throw InvalidItems(reason: "more than \(maximumItems) SKUs") }
        return skus.map { OrderItem(sku: $0, quantity: totals[$0]!) }
    }

    static func encode(_ items: [OrderItem]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(items), as: UTF8.self)
    }

    /// The items of a record's JSON field; none for an empty field.
    static func decode(_ text: String) throws -> [OrderItem] {
        guard !text.isEmpty else { return [] }
        do {
            return try JSONDecoder().decode([OrderItem].self, from: Data(text.utf8))
        } catch {
            throw InventoryStoreError(description: "a reservation records items that are not valid JSON: \(text)")
        }
    }

    // MARK: Scripts

    /// KEYS: the stock hashes; ARGV[k]: the stock KEYS[k] starts with. Creates the missing
    /// ones, returns their keys.
    /// The script is `seed-stock.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let seedScript = LuaScripts.seedStock

    /// KEYS[1]: the reservation, KEYS[1 + i]: the stock of item i (distinct SKUs).
    /// ARGV[1]: the items as JSON, then per item its SKU and quantity.
    /// Returns {status, items, short sku, requested, available} (the last three for out_of_stock).
    /// The script is `reserve-stock.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let reserveScript = LuaScripts.reserveStock

    /// Returns {'released', items given back as JSON}.
    /// The script is `release-stock.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let releaseScript = LuaScripts.releaseStock

    /// Returns {'sold'} when the reservation became a sale, else {'unchanged', its status or 'none'}.
    /// The script is `sell-stock.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let sellScript = LuaScripts.sellStock
}
