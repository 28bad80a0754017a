import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import Testing

/// The error model on saga-coordinator's routes: a query parameter that breaks its rule
/// is 422 `invalid_field` naming it, an unknown saga or route 404 `not_found`.
@Suite("saga-coordinator error table")
struct SagaErrorTableTests {

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
            try await ErrorTable.check(cases, on: http)
            #expect(try await http.execute(uri: "/sagas?status=completed&limit=5", method: .get).status == .ok)
        }
    }
}
