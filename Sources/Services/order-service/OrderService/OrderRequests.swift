import OrderEvents

/// `POST /orders` body, as parsed: wrong JSON types and missing fields are refused (400)
/// before `OrderLimits` checks the values (422).
struct CreateOrderRequest: Decodable {
    struct Item: Decodable {
        var sku: String
        var quantity: Int
    }

    var userID: String
    var items: [Item]
    var amountCents: Int
    var card: String

    enum CodingKeys: String, CodingKey { case userID = "user_id", items, amountCents = "amount_cents", card }
}

/// A `POST /orders` body whose values are all acceptable.
struct ValidOrderRequest: Equatable {
    var userID: String
    var items: [OrderItem]
    var amountCents: Int
    var card: String

    /// What identifies the request for `Idempotency-Key`: every field in a fixed order, the
    /// card by its last four digits only (only its SHA-1 is stored, and the full number never
    /// goes to Redis, not even as a script argument). Two requests that differ only in the
    /// card's other digits count as the same request.
    var fingerprint: String {
        ([userID, "\(amountCents)", String(card.suffix(4))] + items.flatMap { [$0.sku, "\($0.quantity)"] })
            .joined(separator: "\u{0}")
    }
}

/// The limits order requests are checked against; each refusal names its field.
enum OrderLimits {
    static let userID = 128
    static let items = 100
    static let sku = 128
    static let quantity = 1...10_000
    static let amountCents = 1...100_000_000_00
    static let cardDigits = 12...19
    static let idempotencyKey = 128

    static func validate(_ request: CreateOrderRequest) throws -> ValidOrderRequest {
        guard !request.userID.isEmpty, request.userID.count <= userID else {
            throw OrderError.invalid(field: "user_id", reason: "must be 1 to \(userID) characters")
        }
        guard !request.items.isEmpty, request.items.count <= items else {
            throw OrderError.invalid(field: "items", reason: "must hold 1 to \(items) items")
        }
        var skus = Set<String>()
        for (index, item) in request.items.enumerated() {
            guard !item.sku.isEmpty, item.sku.count <= sku else {
                throw OrderError.invalid(field: "items[\(index)].sku", reason: "must be 1 to \(sku) characters")
            }
            guard skus.insert(item.sku).inserted else {
                throw OrderError.invalid(field: "items[\(index)].sku", reason: "repeats '\(item.sku)'; give each SKU once")
            }
            guard quantity.contains(item.quantity) else {
                throw OrderError.invalid(
                    field: "items[\(index)].quantity", reason: "must be from \(quantity.lowerBound) to \(quantity.upperBound)")
            }
        }
        guard amountCents.contains(request.amountCents) else {
            throw OrderError.invalid(
                field: "amount_cents", reason: "must be from \(amountCents.lowerBound) to \(amountCents.upperBound)")
        }
        guard cardDigits.contains(request.card.utf8.count), request.card.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw OrderError.invalid(
                field: "card", reason: "must be \(cardDigits.lowerBound) to \(cardDigits.upperBound) digits")
        }
        return ValidOrderRequest(
            userID: request.userID, items: request.items.map { OrderItem(sku: $0.sku, quantity: $0.quantity) },
            amountCents: request.amountCents, card: request.card)
    }

    /// The `Idempotency-Key` header: 1 to 128 visible ASCII characters, or nil when absent.
    static func idempotencyKey(_ value: String?) throws -> String? {
        guard let value else { return nil }
        guard !value.isEmpty, value.utf8.count <= idempotencyKey, value.utf8.allSatisfy({ (33...126).contains($0) }) else {
            throw OrderError.invalid(
                field: "Idempotency-Key", reason: "must be 1 to \(idempotencyKey) visible ASCII characters (no spaces)")
        }
        return value
    }
}
