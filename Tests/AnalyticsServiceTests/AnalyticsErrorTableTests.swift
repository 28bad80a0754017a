import AnalyticsService
import Foundation
import HTTPTypes
import Hummingbird
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
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let configuration = try AnalyticsServiceConfiguration(environment: EnvironmentReader([:]))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "analytics-test"))
            try await app.test(.router) { http in
                try await Self.check(
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
