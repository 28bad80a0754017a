import AnalyticsService
import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import LocalRedisServer
import Logging
import RedisClient
import ServiceKit
import Testing

/// The error model on analytics-service's routes: a user no event mentioned is 404
/// `not_found`, as is an unknown route, each with the JSON error body.
@Suite("analytics-service error table")
struct AnalyticsErrorTableTests {

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let configuration = try AnalyticsServiceConfiguration(environment: EnvironmentReader([:]))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "analytics-test"))
            try await app.test(.router) { http in
                try await ErrorTable.check(
                    [
                        BadInput(uri: "/stats/users/nobody", status: .notFound, code: "not_found"),
                        BadInput(uri: "/stats/users/%20", status: .notFound, code: "not_found"),
                        BadInput(uri: "/stats/users", status: .notFound, code: "not_found"),
                        BadInput(uri: "/no/such/route", status: .notFound, code: "not_found"),
                    ], on: http)
                #expect(try await http.execute(uri: "/stats", method: .get).status == .ok)
            }
        }
    }
}
