import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The error model on inventory-service's route: a SKU that does not exist is 404
/// `not_found`, as is an unknown route, each with the JSON error body.
@Suite("inventory-service error table")
struct InventoryErrorTableTests {
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
        try await InventoryServiceTests.withService { h in
            try await Self.check(
                [
                    BadInput(uri: "/inventory/nope", status: .notFound, code: "not_found"),
                    BadInput(uri: "/inventory/SKU-1", status: .notFound, code: "not_found"),
                    BadInput(uri: "/inventory", status: .notFound, code: "not_found"),
                    BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
                ], on: h.http)
            #expect(try await h.http.execute(uri: "/inventory/sku-1", method: .get).status == .ok)
        }
    }
}
