import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import Testing

/// The error model on inventory-service's route: a SKU that does not exist is 404
/// `not_found`, as is an unknown route, each with the JSON error body.
@Suite("inventory-service error table")
struct InventoryErrorTableTests {

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await InventoryServiceTests.withService { h in
            try await ErrorTable.check(
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
