import EventBus
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SagaRuntime
import ServiceKit

/// The order HTTP API.
///
/// - `POST /orders` → 202 `{"id", "status": "pending"}`: the order and its `order.created`
///   are written together (`OrderStore`), with the request's correlation id; the saga runs
///   afterwards. With an `Idempotency-Key` header already used for the same body within
///   24 h: 200 with that order's id and current status, nothing written; used for another
///   body: 422 `idempotency_key_reused`.
/// - `GET /orders/{id}` → 200: the order (`reason` only when cancelled) and its saga as
///   saga-coordinator's API shows it (`"saga": null` before it started); when the
///   coordinator cannot be asked, `"saga": null` and `saga_unavailable` saying why.
///
/// Errors are ServiceKit's one model (`ServiceError`, `OrderError`): 400 `invalid_json` /
/// `missing_field` for a body that cannot be read, 422 `invalid_field` for unacceptable
/// values (the message names the field: `items[0].quantity`), 404 for an unknown order,
/// 503 when Redis cannot be reached.
public struct OrderRoutes: Sendable {
    public static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!
    /// The saga type the coordinator runs for each order (saga id == order id).
    public static let sagaType = "order"
    let store: OrderStore
    let sagas: SagaViewClient

    public init(store: OrderStore, sagas: SagaViewClient) {
        self.store = store
        self.sagas = sagas
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.post("/orders") { request, context in
            let body = try await request.decodeJSON(as: CreateOrderRequest.self, context: context)
            let order = try OrderLimits.validate(body)
            let key = try OrderLimits.idempotencyKey(request.headers[Self.idempotencyHeader])
            switch try await store.create(order, idempotencyKey: key, context: context.eventContext) {
            case .created(let created):
                context.logger.info(
                    "Order created",
                    metadata: [
                        "order_id": "\(created.id)", "user_id": "\(created.userID)", "items": "\(created.items.count)",
                        "amount_cents": "\(created.amountCents)",
                    ])
                return EditedResponse(status: .accepted, response: OrderAccepted(id: created.id, status: .pending))
            case .existing(let id):
                guard let existing = try await store.find(id) else { throw OrderError.notFound(id) }
                return EditedResponse(status: .ok, response: OrderAccepted(id: id, status: existing.status))
            }
        }
        router.get("/orders/{id}") { _, context in
            let id = try context.parameters.require("id")
            // Order ids are lower-case UUIDs: anything else names no order (and no key is read).
            guard UUID(uuidString: id)?.uuidString.lowercased() == id, let order = try await store.find(id) else {
                throw OrderError.notFound(id)
            }
            do {
                return OrderResponse(order: order, saga: try await sagas.view(of: id), sagaUnavailable: nil)
            } catch let error as SagaViewClient.Unavailable {
                context.logger.warning("Order shown without its saga", metadata: ["order_id": "\(id)", "error": "\(error)"])
                return OrderResponse(order: order, saga: nil, sagaUnavailable: error.description)
            }
        }
    }
}

/// `POST /orders`'s answer.
struct OrderAccepted: ResponseEncodable {
    var id: String
    var status: OrderStatus
}

/// `GET /orders/{id}`'s answer: the order and its saga (null before the saga started).
struct OrderResponse: ResponseEncodable {
    let order: Order
    let saga: SagaView?
    /// Why the saga is not shown, when saga-coordinator could not be asked.
    let sagaUnavailable: String?

    enum CodingKeys: String, CodingKey {
        case id, status, reason, userID = "user_id", items, amountCents = "amount_cents", createdAt = "created_at", saga
        case sagaUnavailable = "saga_unavailable"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(order.id, forKey: .id)
        try container.encode(order.status, forKey: .status)
        if order.status == .cancelled { try container.encode(order.reason, forKey: .reason) }
        try container.encode(order.userID, forKey: .userID)
        try container.encode(order.items, forKey: .items)
        try container.encode(order.amountCents, forKey: .amountCents)
        try container.encode(RFC3339.string(from: order.createdAt), forKey: .createdAt)
        if let saga {
            try container.encode(saga, forKey: .saga)
        } else {
            try container.encodeNil(forKey: .saga)
        }
        try container.encodeIfPresent(sagaUnavailable, forKey: .sagaUnavailable)
    }
}
