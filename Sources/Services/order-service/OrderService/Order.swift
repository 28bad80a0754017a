import EventBus
import Foundation
import OrderEvents
import RedisClient

/// An order's lifecycle: pending (awaiting its saga) → confirmed, and pending or confirmed
/// → cancelled (the saga's compensation). Cancelled is final.
public enum OrderStatus: String, Codable, Sendable {
    case pending, confirmed, cancelled
}

/// An order as stored in its hash `order:<id>`. The card is kept as its last four digits
/// only; the full number travels once, in `order.created`, to the payment participant.
public struct Order: Sendable, Equatable {
    public var id: String
    public var status: OrderStatus
    /// Why the order was cancelled; empty unless cancelled.
    public var reason: String
    public var userID: String
    public var items: [OrderItem]
    public var amountCents: Int
    public var cardLast4: String
    public var createdAt: Date

    public init(
        id: String, status: OrderStatus, reason: String, userID: String, items: [OrderItem], amountCents: Int,
        cardLast4: String, createdAt: Date
    ) {
        self.id = id
        self.status = status
        self.reason = reason
        self.userID = userID
        self.items = items
        self.amountCents = amountCents
        self.cardLast4 = cardLast4
        self.createdAt = createdAt
    }
}

extension Order {
    /// The hash fields, as stored (`items` as JSON, `created_at` RFC 3339).
    func hashFields() throws -> [(String, String)] {
        [
            ("status", status.rawValue), ("user_id", userID), ("items", String(decoding: try EventDataEncoder().encode(items), as: UTF8.self)),
            ("amount_cents", "\(amountCents)"), ("card_last4", cardLast4), ("created_at", RFC3339.string(from: createdAt)),
            ("reason", reason),
        ]
    }

    /// Reads an order from its hash fields; throws when a field is missing or invalid (the
    /// hash was not written by this service).
    init(id: String, hash: [String: String]) throws {
        guard let status = hash["status"].flatMap(OrderStatus.init(rawValue:)), let userID = hash["user_id"],
            let itemsJSON = hash["items"], let amountCents = hash["amount_cents"].flatMap(Int.init),
            let createdAt = hash["created_at"].flatMap(RFC3339.date(from:))
        else {
            throw OrderError.corrupt(id: id, "status, user_id, items, amount_cents or created_at is missing or invalid")
        }
        let items: [OrderItem]
        do {
            items = try EventDataDecoder().decode([OrderItem].self, from: Array(itemsJSON.utf8))
        } catch {
            throw OrderError.corrupt(id: id, "items is not a JSON list of items: \(error)")
        }
        self.init(
            id: id, status: status, reason: hash["reason"] ?? "", userID: userID, items: items, amountCents: amountCents,
            cardLast4: hash["card_last4"] ?? "", createdAt: createdAt)
    }

    /// Reads an order from a script's `HGETALL` reply (a flat list of names and values).
    init(id: String, fields: [RedisReply]) throws {
        var hash: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string, let value = fields[index + 1].string { hash[name] = value }
            index += 2
        }
        try self.init(id: id, hash: hash)
    }
}
