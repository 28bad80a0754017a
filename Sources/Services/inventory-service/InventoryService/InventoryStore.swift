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
/// for `out_of_stock`, `sku`, `requested`, `available` of the first short SKU).
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

    public init(client: RedisClient) {
        self.client = client
    }

    public static func stockKey(_ sku: String) -> String { "inventory:stock:\(sku)" }
    public static func reservationKey(_ orderID: String) -> String { "inventory:reservation:\(orderID)" }

    /// The most distinct SKUs one order may reserve.
    public static let maximumItems = 1000

    // MARK: Reading

    /// The SKU's stock, or nil when the SKU does not exist.
    public func stock(sku: String) async throws -> Stock? {
        let hash = try await client.hgetall(Self.stockKey(sku))
        guard !hash.isEmpty else { return nil }
        guard let available = hash["available"].flatMap(Int.init), let reserved = hash["reserved"].flatMap(Int.init),
            let sold = hash["sold"].flatMap(Int.init)
        else { throw InventoryStoreError(description: "\(Self.stockKey(sku)) is not a stock hash: \(hash)") }
        return Stock(sku: sku, available: available, reserved: reserved, sold: sold)
    }

    // MARK: Changing

    /// Creates the seed's SKUs that do not exist yet (`available` as seeded, nothing
    /// reserved or sold) and returns their SKUs; existing ones are left as they are. Refused
    /// as a whole, with nothing written, when one of the keys holds something else than a
    /// hash.
    public func seed(_ seed: InventorySeed) async throws -> [String] {
        guard !seed.entries.isEmpty else { return [] }
        let reply = try await client.run(Self.seedScript, keys: seed.entries.map { Self.stockKey($0.sku) }) { command in
            for entry in seed.entries { command.append(entry.available) }
        }
        return (reply.array ?? []).compactMap(\.string).map { String($0.dropFirst("inventory:stock:".count)) }
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
            Self.reserveScript, keys: [Self.reservationKey(orderID)] + items.map { Self.stockKey($0.sku) }
        ) { command in
            command.append(itemsText)
            for item in items {
                command.append(item.sku)
                command.append(item.quantity)
            }
        }
        let values = (reply.array ?? []).map { $0.string ?? "" }
        guard values.count == 5 else { throw InventoryStoreError(description: "inventory.reserve replied \(reply)") }
        switch values[0] {
        case "reserved", "sold":
            return .reserved(try Self.decode(values[1]))
        case "out_of_stock":
            guard let requested = Int(values[3]), let available = Int(values[4]) else {
                throw InventoryStoreError(description: "reservation of order \(orderID) records out_of_stock as \(values)")
            }
            return .outOfStock(sku: values[2], requested: requested, available: available)
        default:  // released
            return .refused(reason: values[1].isEmpty ? "released before reserve" : "already released")
        }
    }

    /// Gives the order's reservation (or sale) back, once, and marks it released; a release
    /// with no reservation leaves a `released` record with no items, so a reserve arriving
    /// later is refused. Returns the items this order's release gave back (the same ones on
    /// every repeat; empty when nothing had been reserved).
    public func release(orderID: String) async throws -> [OrderItem] {
        let values = try await runOnRecordedItems(Self.releaseScript, orderID: orderID)
        guard values.count == 2, values[0] == "released" else {
            throw InventoryStoreError(description: "inventory.release replied \(values)")
        }
        return try Self.decode(values[1])
    }

    /// Turns the order's reservation into a sale (`reserved` → `sold`), once; any other
    /// state is left as it is.
    public func confirmSale(orderID: String) async throws -> SaleOutcome {
        let values = try await runOnRecordedItems(Self.sellScript, orderID: orderID)
        switch (values.first, values.count) {
        case ("sold", 1): return .sold
        case ("unchanged", 2): return .unchanged(status: values[1])
        default: throw InventoryStoreError(description: "the sale script replied \(values)")
        }
    }

    /// Runs `script` on the order's reservation and the stock of the items it recorded: the
    /// stock keys are declared to Redis, so the items are read first, and the script answers
    /// `stale` (writing nothing) when the record's items changed in between; then it runs again.
    private func runOnRecordedItems(_ script: RedisScript, orderID: String) async throws -> [String] {
        let key = Self.reservationKey(orderID)
        for _ in 0..<16 {
            let itemsText = try await client.send("HGET", key, "items").string ?? ""
            let items = try Self.decode(itemsText)
            let reply = try await client.run(script, keys: [key] + items.map { Self.stockKey($0.sku) }) { command in
                command.append(itemsText)
                for item in items { command.append(item.quantity) }
            }
            let values = (reply.array ?? []).map { $0.string ?? "" }
            if values != ["stale"] { return values }
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

    /// What every script starts with: checks of the keys' types and of the stock hashes.
    /// Each script calls these before its first write and returns the error they give.
    static let prelude = """
        #!lua
        local function refuse(message) return redis.error_reply('ERR ' .. message .. '; nothing was written') end
        local function checkTypes()
          for k = 1, #KEYS do
            local t = redis.call('TYPE', KEYS[k]).ok
            if t ~= 'none' and t ~= 'hash' then
              return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a hash; nothing was written')
            end
          end
          return nil
        end
        local function isCount(s) return type(s) == 'string' and #s <= 13 and string.match(s, '^%d+$') ~= nil end
        -- The stock hash KEYS[k] (its fields as text), or nil and the error when it is missing or not one.
        local function stock(k)
          local v = redis.call('HMGET', KEYS[k], 'available', 'reserved', 'sold')
          if not (isCount(v[1]) and isCount(v[2]) and isCount(v[3])) then
            return nil, refuse(KEYS[k] .. ' is missing or not a stock hash (available, reserved, sold as whole numbers)')
          end
          return {available = v[1], reserved = v[2], sold = v[3]}
        end
        local statuses = {reserved = true, sold = true, out_of_stock = true, released = true}
        -- The reservation KEYS[1]: nil when there is none, else its status and fields, or the error.
        local function reservation(...)
          if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
          local r = redis.call('HMGET', KEYS[1], 'status', ...)
          if not statuses[r[1] or ''] then
            return nil, refuse(KEYS[1] .. ' has the unknown status ' .. tostring(r[1]))
          end
          return r
        end

        """

    /// KEYS: the stock hashes; ARGV[k]: the stock KEYS[k] starts with. Creates the missing
    /// ones, returns their keys.
    static let seedScript = RedisScript(
        prelude + """
            local err = checkTypes()
            if err then return err end
            if #ARGV ~= #KEYS then return refuse('the seed needs one quantity per stock key') end
            for k = 1, #KEYS do
              if not isCount(ARGV[k]) then return refuse('seed quantity ' .. tostring(ARGV[k]) .. ' is not a whole number') end
            end
            local created = {}
            for k = 1, #KEYS do
              if redis.call('EXISTS', KEYS[k]) == 0 then
                redis.call('HSET', KEYS[k], 'available', ARGV[k], 'reserved', '0', 'sold', '0')
                created[#created + 1] = KEYS[k]
              end
            end
            return created
            """)

    /// KEYS[1]: the reservation, KEYS[1 + i]: the stock of item i (distinct SKUs).
    /// ARGV[1]: the items as JSON, then per item its SKU and quantity.
    /// Returns {status, items, short sku, requested, available} (the last three for out_of_stock).
    static let reserveScript = RedisScript(
        prelude + """
            local err = checkTypes()
            if err then return err end
            local n = #KEYS - 1
            if n < 1 or #ARGV ~= 1 + 2 * n then return refuse('inventory.reserve needs a stock key, SKU and quantity per item') end
            local r, e = reservation('items', 'sku', 'requested', 'available')
            if e then return e end
            if r then
              -- Reserved, sold, out of stock or released already: answer what was recorded, change nothing.
              return {r[1], r[2] or '', r[3] or '', r[4] or '', r[5] or ''}
            end
            local seen = {}
            for i = 1, n do
              local q = ARGV[2 * i + 1]
              if not isCount(q) or tonumber(q) < 1 then
                return refuse('the quantity ' .. tostring(q) .. ' of ' .. ARGV[2 * i] .. ' is not a positive whole number')
              end
              if seen[KEYS[1 + i]] then return refuse(KEYS[1 + i] .. ' is given twice') end
              seen[KEYS[1 + i]] = true
            end
            local short = nil
            for i = 1, n do
              local available = '0'  -- an unknown SKU has none
              if redis.call('EXISTS', KEYS[1 + i]) == 1 then
                local s, se = stock(1 + i)
                if se then return se end
                available = s.available
              end
              if short == nil and tonumber(available) < tonumber(ARGV[2 * i + 1]) then
                short = {ARGV[2 * i], ARGV[2 * i + 1], available}
              end
            end
            -- Every check passed: the writes below cannot fail.
            if short then
              redis.call('HSET', KEYS[1], 'status', 'out_of_stock', 'items', ARGV[1], 'sku', short[1], 'requested', short[2],
                'available', short[3])
              return {'out_of_stock', ARGV[1], short[1], short[2], short[3]}
            end
            for i = 1, n do
              local q = ARGV[2 * i + 1]
              redis.call('HINCRBY', KEYS[1 + i], 'available', '-' .. q)
              redis.call('HINCRBY', KEYS[1 + i], 'reserved', q)
            end
            redis.call('HSET', KEYS[1], 'status', 'reserved', 'items', ARGV[1])
            return {'reserved', ARGV[1], '', '', ''}
            """)

    /// The start of the scripts that work on a reservation's recorded items. KEYS[1]: the
    /// reservation, KEYS[1 + i]: the stock of recorded item i. ARGV[1]: the `items` field as
    /// the caller read it (empty: none), ARGV[1 + i]: the quantity of item i. Answers
    /// {'stale'} when the record's items are no longer those.
    static let recordedItemsPrelude = """
        local err = checkTypes()
        if err then return err end
        local n = #KEYS - 1
        if #ARGV ~= 1 + n then return refuse('one quantity per stock key is needed') end
        for i = 1, n do
          if not isCount(ARGV[1 + i]) then return refuse('the quantity ' .. tostring(ARGV[1 + i]) .. ' is not a whole number') end
        end
        local r, e = reservation('items', 'released_items')
        if e then return e end
        if r and (r[2] or '') ~= ARGV[1] then return {'stale'} end
        if not r and ARGV[1] ~= '' then return {'stale'} end
        -- Moves each item's quantity from the stock field `from` to `to`, after checking that
        -- every stock hash holds it.
        local function move(from, to)
          for i = 1, n do
            local s, se = stock(1 + i)
            if se then return se end
            if tonumber(s[from]) < tonumber(ARGV[1 + i]) then
              return refuse(KEYS[1 + i] .. ' has ' .. s[from] .. ' ' .. from .. ', less than the ' .. ARGV[1 + i] .. ' of ' .. KEYS[1])
            end
          end
          for i = 1, n do
            redis.call('HINCRBY', KEYS[1 + i], from, '-' .. ARGV[1 + i])
            redis.call('HINCRBY', KEYS[1 + i], to, ARGV[1 + i])
          end
          return nil
        end

        """

    /// Returns {'released', items given back as JSON}.
    static let releaseScript = RedisScript(
        prelude + recordedItemsPrelude + """
            if not r then
              -- Released before any reserve: a tombstone, so that a late reserve is refused.
              redis.call('HSET', KEYS[1], 'status', 'released', 'items', '', 'released_items', '[]')
              return {'released', '[]'}
            end
            if r[1] == 'released' then return {'released', r[3] or '[]'} end
            if r[1] == 'out_of_stock' then
              redis.call('HSET', KEYS[1], 'status', 'released', 'released_items', '[]')
              return {'released', '[]'}
            end
            -- reserved or sold: the stock goes back to available.
            local me = move(r[1], 'available')
            if me then return me end
            redis.call('HSET', KEYS[1], 'status', 'released', 'released_items', ARGV[1])
            return {'released', ARGV[1]}
            """)

    /// Returns {'sold'} when the reservation became a sale, else {'unchanged', its status or 'none'}.
    static let sellScript = RedisScript(
        prelude + recordedItemsPrelude + """
            if not r then return {'unchanged', 'none'} end
            if r[1] ~= 'reserved' then return {'unchanged', r[1]} end
            local me = move('reserved', 'sold')
            if me then return me end
            redis.call('HSET', KEYS[1], 'status', 'sold')
            return {'sold'}
            """)
}
