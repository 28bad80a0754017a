import Hummingbird
import ServiceKit

/// `GET /inventory/{sku}` → 200 `{"sku", "available", "reserved", "sold"}` (whole numbers),
/// 404 `not_found` (JSON error) for a SKU that does not exist.
public struct InventoryRoutes: Sendable {
    let store: InventoryStore

    public init(store: InventoryStore) {
        self.store = store
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/inventory/{sku}") { _, context in
            let sku = try context.parameters.require("sku")
            guard let stock = try await store.stock(sku: sku) else {
                throw APIError.notFound("SKU \(sku) does not exist")
            }
            return stock
        }
    }
}

extension Stock: ResponseEncodable {}
