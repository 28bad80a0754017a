import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import RedisClient
import Testing
import TodoEvents

/// The error model across every todo route that takes a body or parameters: the same bad
/// inputs (malformed JSON, wrong type, null, a number too large, a missing field, a rule
/// broken, an unknown id) each get the status, code and field name the model promises,
/// and nothing is written for any of them.
@Suite("todo-service error table")
struct TodoErrorTableTests {

    /// `object` as JSON with `key` set to the raw JSON text `raw` (absent when nil).
    static func json(_ object: [String: Any], _ key: String, raw: String?) -> String {
        var object = object
        object[key] = raw.map { _ in "@@RAW@@" }
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        return raw.map { text.replacingOccurrences(of: "\"@@RAW@@\"", with: $0) } ?? text
    }

    /// The same bad bodies for a route: `field` (a string field of `valid`) set wrong every
    /// way, `broken` a well-formed value that breaks its rule; `unknownURI` the route with
    /// an id that names nothing.
    static func badBodies(
        _ method: HTTPRequest.Method, _ uri: String, valid: [String: Any], field: String, broken: String, unknownURI: String?
    ) -> [BadInput] {
        let body = { (raw: String?) in json(valid, field, raw: raw) }
        var cases = [
            BadInput(method: method, uri: uri, body: "{\"\(field)\": ", status: .badRequest, code: "invalid_json"),
            BadInput(method: method, uri: uri, body: "", status: .badRequest, code: "invalid_json"),
            BadInput(method: method, uri: uri, body: "[]", status: .badRequest, code: "invalid_json"),
            BadInput(method: method, uri: uri, body: body("42"), status: .badRequest, code: "invalid_json", field: field),
            BadInput(method: method, uri: uri, body: body("[\"x\"]"), status: .badRequest, code: "invalid_json", field: field),
            BadInput(method: method, uri: uri, body: body("null"), status: .badRequest, code: "invalid_json", field: field),
            BadInput(method: method, uri: uri, body: body("1e999"), status: .badRequest, code: "invalid_json", field: field),
            BadInput(method: method, uri: uri, body: body(nil), status: .badRequest, code: "missing_field", field: field),
            BadInput(method: method, uri: uri, body: body(broken), status: .unprocessableContent, code: "invalid_field", field: field),
        ]
        if let unknownURI {
            cases.append(BadInput(method: method, uri: unknownURI, body: json(valid, "-", raw: nil), status: .notFound, code: "not_found"))
        }
        return cases
    }

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await TodoAPITests().withTodoAPI { http, redis in
            let created = try await http.execute(
                uri: "/todos", method: .post, body: ByteBuffer(string: #"{"user_id": "alice", "title": "t"}"#))
            let id = try #require(TodoAPITests.object(created)["id"] as? String)
            let events = try await redis.xlen(TodoEvents.stream)

            var cases: [BadInput] = []
            cases += Self.badBodies(.post, "/todos", valid: ["user_id": "alice", "title": "t"], field: "title", broken: "\"  \"", unknownURI: nil)
            cases += Self.badBodies(.post, "/todos", valid: ["user_id": "alice", "title": "t"], field: "user_id", broken: "\"bad user!\"", unknownURI: nil)
            cases += Self.badBodies(
                .put, "/todos/\(id)/title", valid: ["title": "u"], field: "title", broken: "\"\(String(repeating: "x", count: 201))\"",
                unknownURI: "/todos/nope/title")
            cases += Self.badBodies(
                .put, "/todos/\(id)/priority", valid: ["priority": "high"], field: "priority", broken: "\"whenever\"",
                unknownURI: "/todos/nope/priority")
            // An optional field: null is its absence, a wrong type or a broken rule is not.
            cases += [
                BadInput(method: .post, uri: "/todos", body: #"{"user_id": "a", "title": "t", "priority": 3}"#, status: .badRequest,
                         code: "invalid_json", field: "priority"),
                BadInput(method: .post, uri: "/todos", body: #"{"user_id": "a", "title": "t", "description": false}"#,
                         status: .badRequest, code: "invalid_json", field: "description"),
                BadInput(method: .post, uri: "/todos", body: #"{"user_id": "a", "title": "t", "priority": "soon"}"#,
                         status: .unprocessableContent, code: "invalid_field", field: "priority"),
            ]
            // Parameters: a rule broken is 422 naming the parameter, an unknown id 404.
            cases += [
                BadInput(method: .get, uri: "/todos/\(id)?version=abc", status: .unprocessableContent, code: "invalid_field", field: "version"),
                BadInput(method: .get, uri: "/todos/\(id)?version=0", status: .unprocessableContent, code: "invalid_field", field: "version"),
                BadInput(method: .get, uri: "/todos/\(id)?version=99999999999999999999", status: .unprocessableContent,
                         code: "invalid_field", field: "version"),
                BadInput(method: .get, uri: "/todos/\(id)?version=9", status: .notFound, code: "not_found"),
                BadInput(method: .get, uri: "/todos/nope", status: .notFound, code: "not_found"),
                BadInput(method: .get, uri: "/todos/nope?version=1", status: .notFound, code: "not_found"),
                BadInput(method: .get, uri: "/todos/nope/history", status: .notFound, code: "not_found"),
                BadInput(method: .get, uri: "/users/bad!user/todos", status: .unprocessableContent, code: "invalid_field", field: "user_id"),
                BadInput(method: .get, uri: "/users/\(String(repeating: "u", count: 65))/todos", status: .unprocessableContent,
                         code: "invalid_field", field: "user_id"),
                BadInput(method: .post, uri: "/todos/nope/complete", status: .notFound, code: "not_found"),
                BadInput(method: .delete, uri: "/todos/nope", status: .notFound, code: "not_found"),
                BadInput(method: .get, uri: "/no/such/route", status: .notFound, code: "not_found"),
            ]
            try await ErrorTable.check(cases, on: http)
            #expect(try await redis.xlen(TodoEvents.stream) == events)  // nothing written for a refused request
        }
    }
}
