import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The error model on saga-coordinator's routes: a query parameter that breaks its rule
/// is 422 `invalid_field` naming it, an unknown saga or route 404 `not_found`.
@Suite("saga-coordinator error table")
struct SagaErrorTableTests {
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
        try await OrderSagaCoordinatorTests.withCoordinator { _, http in
            var cases = [
                BadInput(uri: "/sagas/nope", status: .notFound, code: "not_found"),
                BadInput(uri: "/sagas/\(UUID().uuidString.lowercased())", status: .notFound, code: "not_found"),
                BadInput(uri: "/sagas?status=dancing", status: .unprocessableContent, code: "invalid_field", field: "status"),
                BadInput(uri: "/sagas?status=", status: .unprocessableContent, code: "invalid_field", field: "status"),
                BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
            ]
            for limit in ["0", "-1", "abc", "1.5", "10001", "99999999999999999999", ""] {
                cases.append(BadInput(uri: "/sagas?limit=\(limit)", status: .unprocessableContent, code: "invalid_field", field: "limit"))
            }
            try await Self.check(cases, on: http)
            #expect(try await http.execute(uri: "/sagas?status=completed&limit=5", method: .get).status == .ok)
        }
    }
}
