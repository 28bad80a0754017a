import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import Testing

/// The error model on payment-service's route: an order with no payment record is 404
/// `not_found`, as is an unknown route, each with the JSON error body.
@Suite("payment-service error table")
struct PaymentErrorTableTests {

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await PaymentServiceTests.withService { h in
            try await ErrorTable.check(
                [
                    BadInput(uri: "/payments/\(UUID().uuidString.lowercased())", status: .notFound, code: "not_found"),
                    BadInput(uri: "/payments/nope", status: .notFound, code: "not_found"),
                    BadInput(uri: "/payments", status: .notFound, code: "not_found"),
                    BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
                ], on: h.http)
        }
    }
}
