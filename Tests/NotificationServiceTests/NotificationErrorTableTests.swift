import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import Testing

/// The error model on notification-service's route: a missing query parameter is 400
/// `missing_field`, one that breaks its rule 422 `invalid_field`, both naming it; a user
/// with no notifications is an empty list (a filter, not an id), an unknown route 404.
@Suite("notification-service error table")
struct NotificationErrorTableTests {

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await NotificationServiceTests().withService { http, _, _ in
            try await ErrorTable.check(
                [
                    BadInput(uri: "/notifications", status: .badRequest, code: "missing_field", field: "user_id"),
                    BadInput(uri: "/notifications?userid=alice", status: .badRequest, code: "missing_field", field: "user_id"),
                    BadInput(uri: "/notifications?user_id=", status: .unprocessableContent, code: "invalid_field", field: "user_id"),
                    BadInput(uri: "/notifications/alice", status: .notFound, code: "not_found"),
                    BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
                ], on: http)
            let none = try await http.execute(uri: "/notifications?user_id=nobody", method: .get)
            #expect(none.status == .ok)
            #expect(String(buffer: none.body) == "[]")
        }
    }
}
