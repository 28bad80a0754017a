import Hummingbird
import ServiceKit

/// `GET /notifications?user_id=<id>`: the user's newest notifications first (at most 100).
public struct NotificationRoutes: Sendable {
    let log: NotificationLog

    public init(log: NotificationLog) {
        self.log = log
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/notifications") { request, _ in
            guard let userID = request.uri.queryParameters.get("user_id"), !userID.isEmpty else {
                throw APIError.badRequest("query parameter user_id is required", code: "missing_field")
            }
            return try await log.recent(userID: userID)
        }
    }
}

extension Notification: ResponseEncodable {}
