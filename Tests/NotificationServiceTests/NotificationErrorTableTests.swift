import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The error model on notification-service's route: a missing query parameter is 400
/// `missing_field`, one that breaks its rule 422 `invalid_field`, both naming it; a user
/// with no notifications is an empty list (a filter, not an id), an unknown route 404.
@Suite("notification-service error table")
struct NotificationErrorTableTests {
    /// One bad request and the answer it must get.
    struct BadInput: CustomStringConvertible {
        var method: HTTPRequest.Method = .get
        var uri: String
        var status: HTTPResponse.Status
        var code: String
        /// The field the message must name, as the client wrote it.
        var field: String?
        var description: String { "\(method) \(uri)" }
    }

    static func check(_ cases: [BadInput], on http: any TestClientProtocol) async throws {
        for bad in cases {
            let response = try await http.execute(uri: bad.uri, method: bad.method)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            let message = error?["message"] as? String ?? ""
            #expect(response.status == bad.status, "\(bad): \(String(buffer: response.body))")
            #expect(error?["code"] as? String == bad.code, "\(bad): \(String(buffer: response.body))")
            #expect(response.headers[.contentType] == "application/json; charset=utf-8", "\(bad)")
            if let field = bad.field { #expect(message.contains("field '\(field)'"), "\(bad): \(message)") }
            #expect(!message.isEmpty, "\(bad)")
        }
    }

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await NotificationServiceTests().withService { http, _, _ in
            try await Self.check(
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
