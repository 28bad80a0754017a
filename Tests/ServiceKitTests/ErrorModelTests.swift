import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing

/// The one error model: how a body that cannot be read is answered (400 `invalid_json` /
/// `missing_field`, the field named as the client wrote it), that every error has the
/// same JSON shape, and that a 500 never shows its internals.
@Suite("ServiceKit error model")
struct ErrorModelTests {
    struct Sample: Decodable {
        struct Item: Decodable {
            var sku: String
            var quantity: Int
        }
        var userID: String
        var items: [Item]
        var note: String?
        enum CodingKeys: String, CodingKey { case userID = "user_id", items, note }
    }

    /// A domain error that is the server's fault.
    struct Broken: ServiceError {
        var status: HTTPResponse.Status { .internalServerError }
        var code: String { "internal_error" }
        var message: String { "hash order:1 holds SECRET-INTERNALS" }
    }

    static func router() -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: RequestLimitsMiddleware(maximumBodyBytes: 4096, timeout: .seconds(10)))
        router.post("/sample") { request, context in
            let sample = try await request.decodeJSON(as: Sample.self, context: context)
            return "\(sample.items.count)"
        }
        router.get("/broken") { _, _ -> String in throw Broken() }
        router.get("/rule") { _, _ -> String in throw APIError.invalidField("limit", "must be an integer from 1 to 10") }
        return router
    }

    static func error(_ response: TestResponse) -> (code: String?, message: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        return (error?["code"] as? String, error?["message"] as? String ?? "")
    }

    /// (body, status, code, the start of the message)
    static let bodies: [(String, HTTPResponse.Status, String, String)] = [
        ("{not json", .badRequest, "invalid_json", "the body is not valid JSON"),
        ("", .badRequest, "invalid_json", "the body is empty"),
        ("[1, 2]", .badRequest, "invalid_json", "the body must be an object"),
        ("null", .badRequest, "invalid_json", "the body must be a JSON object"),
        (#"{"items": []}"#, .badRequest, "missing_field", "field 'user_id' is missing"),
        (#"{"user_id": 42, "items": []}"#, .badRequest, "invalid_json", "field 'user_id' must be a string"),
        (#"{"user_id": null, "items": []}"#, .badRequest, "invalid_json", "field 'user_id' must not be null"),
        (#"{"user_id": "a", "items": "x"}"#, .badRequest, "invalid_json", "field 'items' must be an array"),
        (#"{"user_id": "a", "items": [5]}"#, .badRequest, "invalid_json", "field 'items[0]' must be an object"),
        (#"{"user_id": "a", "items": [{"sku": "s", "quantity": "2"}]}"#, .badRequest, "invalid_json",
         "field 'items[0].quantity' must be an integer"),
        (#"{"user_id": "a", "items": [{"sku": "s", "quantity": 1}, {"sku": "t", "quantity": 1e30}]}"#, .badRequest,
         "invalid_json", "field 'items[1].quantity' holds a value that does not fit"),
        (#"{"user_id": "a", "items": [{"sku": "s", "quantity": 1.5}]}"#, .badRequest, "invalid_json",
         "field 'items[0].quantity' holds a value that does not fit"),
        (#"{"user_id": "a", "items": [{"sku": "s", "quantity": 1}, {"quantity": 1}]}"#, .badRequest, "missing_field",
         "field 'items[1].sku' is missing"),
        (#"{"user_id": "a", "items": [{"sku": null, "quantity": 1}]}"#, .badRequest, "invalid_json",
         "field 'items[0].sku' must not be null"),
    ]

    @Test func aBodyThatCannotBeReadIs400NamingTheFieldAsWritten() async throws {
        try await Application(router: Self.router()).test(.router) { http in
            for (body, status, code, message) in Self.bodies {
                let response = try await http.execute(uri: "/sample", method: .post, body: ByteBuffer(string: body))
                let error = Self.error(response)
                #expect(response.status == status, "\(body)")
                #expect(error.code == code, "\(body): \(error.message)")
                #expect(error.message.hasPrefix(message), "\(body): \(error.message)")
                // Never Swift's coding path or debug text.
                for word in ["Index ", "Parsed JSON", "Swift", "Int.", "CodingKeys", "byte offset"] {
                    #expect(!error.message.contains(word), "\(body): \(error.message)")
                }
            }
            // An optional field may be null; the body is read.
            let ok = try await http.execute(
                uri: "/sample", method: .post,
                body: ByteBuffer(string: #"{"user_id": "a", "items": [{"sku": "s", "quantity": 1}], "note": null}"#))
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body) == "1")
        }
    }

    @Test func everyErrorHasTheSameJSONShape() async throws {
        try await Application(router: Self.router()).test(.router) { http in
            let rule = try await http.execute(uri: "/rule", method: .get)
            #expect(rule.status == .unprocessableContent)
            #expect(Self.error(rule).code == "invalid_field")
            #expect(Self.error(rule).message == "field 'limit' must be an integer from 1 to 10")
            #expect(rule.headers[.contentType] == "application/json; charset=utf-8")

            // Hummingbird's own 404 (no route) in the same shape.
            let noRoute = try await http.execute(uri: "/nowhere", method: .get)
            #expect(noRoute.status == .notFound)
            #expect(Self.error(noRoute).code == "not_found")
            #expect(noRoute.headers[.contentType] == "application/json; charset=utf-8")
        }
    }

    @Test func aServiceErrorThatIsAServerFaultShowsOnlyTheRequestID() async throws {
        try await Application(router: Self.router()).test(.router) { http in
            let response = try await http.execute(uri: "/broken", method: .get)
            #expect(response.status == .internalServerError)
            #expect(Self.error(response).code == "internal_error")
            let text = String(buffer: response.body)
            #expect(!text.contains("SECRET-INTERNALS"))
            let requestID = try #require(response.headers[CorrelationMiddleware.requestHeader])
            #expect(text.contains(requestID))
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            self.stringValue = "Index \(intValue)"
            self.intValue = intValue
        }
    }

    @Test func aCodingPathIsRenderedAsTheClientWroteIt() {
        #expect(FieldPath.render([]) == "")
        #expect(FieldPath.render([Key(stringValue: "user_id")]) == "user_id")
        #expect(FieldPath.render([Key(stringValue: "items"), Key(intValue: 0), Key(stringValue: "quantity")]) == "items[0].quantity")
        #expect(FieldPath.render([Key(stringValue: "grid"), Key(intValue: 2), Key(intValue: 10)]) == "grid[2][10]")
        #expect(FieldPath.render([Key(intValue: 3), Key(stringValue: "sku")]) == "[3].sku")
    }
}
