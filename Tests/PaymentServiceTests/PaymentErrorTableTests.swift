import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The error model on payment-service's route: an order with no payment record is 404
/// `not_found`, as is an unknown route, each with the JSON error body.
@Suite("payment-service error table")
struct PaymentErrorTableTests {
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
        try await PaymentServiceTests.withService { h in
            try await Self.check(
                [
                    BadInput(uri: "/payments/\(UUID().uuidString.lowercased())", status: .notFound, code: "not_found"),
                    BadInput(uri: "/payments/nope", status: .notFound, code: "not_found"),
                    BadInput(uri: "/payments", status: .notFound, code: "not_found"),
                    BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
                ], on: h.http)
        }
    }
}
