import Hummingbird
import ServiceKit

/// `GET /payments/{order_id}` → 200 `{"order_id", "status", "charged_cents",
/// "refunded_cents", "reason"}`, 404 `not_found` (JSON error) for an order with no payment
/// record.
public struct PaymentRoutes: Sendable {
    let store: PaymentStore

    public init(store: PaymentStore) {
        self.store = store
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/payments/{order_id}") { _, context in
            let orderID = try context.parameters.require("order_id")
            guard let payment = try await store.payment(orderID: orderID) else {
                throw APIError.notFound("order \(orderID) has no payment")
            }
            return payment
        }
    }
}

extension Payment: ResponseEncodable {}
