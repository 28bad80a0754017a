import Foundation
import HTTPTypes
import Hummingbird
import HTTPTestSupport
import HummingbirdTesting
import OrderEvents
import Testing

/// The error model across every order route that takes a body or parameters: the same bad
/// inputs (malformed JSON, wrong type, null, a number too large, a missing field, a rule
/// broken, an unknown id) each get the status, code and field name (as the client wrote
/// it: `items[0].quantity`) the model promises, and nothing is written for any of them.
@Suite("order-service error table")
struct OrderErrorTableTests {
    typealias H = OrderHarness

    /// `object` as JSON with `key` set to the raw JSON text `raw` (absent when nil).
    static func json(_ object: [String: Any], _ key: String, raw: String?) -> String {
        var object = object
        object[key] = raw.map { _ in "@@RAW@@" }
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        return raw.map { text.replacingOccurrences(of: "\"@@RAW@@\"", with: $0) } ?? text
    }

    /// The same bad values for one field of `POST /orders`: `body(raw)` is a valid body
    /// with the field set to the raw JSON `raw` (absent when nil); `wrongType` a value of
    /// another JSON type, `broken` a well-formed value that breaks the field's rule.
    static func badValues(field: String, wrongType: String, broken: String, _ body: (String?) -> String) -> [BadInput] {
        func bad(_ raw: String?, _ status: HTTPResponse.Status, _ code: String) -> BadInput {
            BadInput(method: .post, uri: "/orders", body: body(raw), status: status, code: code, field: field)
        }
        return [
            bad(wrongType, .badRequest, "invalid_json"),
            bad("null", .badRequest, "invalid_json"),
            bad("1e999", .badRequest, "invalid_json"),
            bad("99999999999999999999", .badRequest, "invalid_json"),
            bad(nil, .badRequest, "missing_field"),
            bad(broken, .unprocessableContent, "invalid_field"),
        ]
    }

    @Test func everyRouteAnswersTheSameBadInputsTheSameWay() async throws {
        try await H.run { h in
            let valid = H.validBody
            let item: [String: Any] = ["sku": "sku-1", "quantity": 2]
            var cases: [BadInput] = [
                BadInput(method: .post, uri: "/orders", body: "{\"items\": [", status: .badRequest, code: "invalid_json"),
                BadInput(method: .post, uri: "/orders", body: "", status: .badRequest, code: "invalid_json"),
                BadInput(method: .post, uri: "/orders", body: "[]", status: .badRequest, code: "invalid_json"),
                BadInput(method: .post, uri: "/orders", body: "\"order\"", status: .badRequest, code: "invalid_json"),
            ]
            cases += Self.badValues(field: "user_id", wrongType: "42", broken: "\"\"") { Self.json(valid, "user_id", raw: $0) }
            cases += Self.badValues(field: "amount_cents", wrongType: "\"4999\"", broken: "0") { Self.json(valid, "amount_cents", raw: $0) }
            cases += Self.badValues(field: "items", wrongType: "{}", broken: "[]") { Self.json(valid, "items", raw: $0) }
            cases += Self.badValues(field: "items[0].quantity", wrongType: "\"2\"", broken: "0") {
                Self.json(valid, "items", raw: "[\(Self.json(item, "quantity", raw: $0))]")
            }
            cases += Self.badValues(field: "items[1].sku", wrongType: "7", broken: "\"\"") {
                Self.json(valid, "items", raw: "[\(Self.json(item, "-", raw: nil)), \(Self.json(["quantity": 1], "sku", raw: $0))]")
            }
            cases += [
                // A fraction where an integer is due: not readable as the field's type.
                BadInput(
                    method: .post, uri: "/orders", body: Self.json(valid, "items", raw: "[\(Self.json(item, "quantity", raw: "1.5"))]"),
                    status: .badRequest, code: "invalid_json", field: "items[0].quantity"),
                BadInput(
                    method: .post, uri: "/orders", body: Self.json(valid, "items", raw: "[7]"), status: .badRequest, code: "invalid_json",
                    field: "items[0]"),
            ]
            // Parameters: an order id that names nothing is 404, whatever its form.
            for id in [UUID().uuidString.lowercased(), "nope", UUID().uuidString.uppercased()] {
                cases.append(BadInput(method: .get, uri: "/orders/\(id)", status: .notFound, code: "not_found"))
            }
            cases.append(BadInput(method: .get, uri: "/no/such/route", status: .notFound, code: "not_found"))
            try await ErrorTable.check(cases, on: h.http)

            // The Idempotency-Key header is a field too: a broken one is 422 naming it.
            let key = try await h.post(H.json(valid), headers: [HTTPField.Name("Idempotency-Key")!: "has space"])
            #expect(key.status == .unprocessableContent)
            #expect(H.error(key).code == "invalid_field")
            #expect(H.error(key).message.contains("field 'Idempotency-Key'"))

            #expect(try await h.redis.send("KEYS", "order:*").array?.isEmpty == true)
            #expect(try await h.redis.send("EXISTS", OrderStreams.orderEvents).int == 0)
        }
    }

}
