import Hummingbird
import ServiceKit

/// `GET /notifications?user_id=<id>`: the user's newest notifications first (at most 100).
/// Errors (ServiceKit's model): 400 `missing_field` without `user_id`, 422 `invalid_field`
/// for an empty one.
public struct NotificationRoutes: Sendable {
    let log: NotificationLog

    public init(log: NotificationLog) {
        self.log = log
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/notifications") { request, _ in
            guard let userID = request.uri.queryParameters.get("user_id") else { throw APIError.missingField("user_id") }
            guard !userID.isEmpty else { throw APIError.invalidField("user_id", "must not be empty") }
            return try await log.recent(userID: userID)
        }
    }
}

extension Notification: ResponseEncodable {}
