import Hummingbird
import ServiceKit

/// `GET /stats` (totals, by priority, by day, mean completion time) and
/// `GET /stats/users/{id}` (404 for a user no event mentioned).
public struct AnalyticsRoutes: Sendable {
    let store: AnalyticsStore

    public init(store: AnalyticsStore) {
        self.store = store
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/stats") { _, _ in try await store.statistics() }
        router.get("/stats/users/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let statistics = try await store.statistics(userID: id) else {
                throw APIError.notFound("no events for user \(id)")
            }
            return statistics
        }
    }
}

extension Statistics: ResponseEncodable {}
extension UserStatistics: ResponseEncodable {}
