import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// One bad request of a service's error table and the answer the error model promises.
public struct BadInput: CustomStringConvertible, Sendable {
    public var method: HTTPRequest.Method
    public var uri: String
    public var body: String?
    public var status: HTTPResponse.Status
    public var code: String
    /// The field the message must name, as the client wrote it (`items[0].quantity`).
    public var field: String?

    public init(
        method: HTTPRequest.Method = .get, uri: String, body: String? = nil, status: HTTPResponse.Status, code: String,
        field: String? = nil
    ) {
        self.method = method
        self.uri = uri
        self.body = body
        self.status = status
        self.code = code
        self.field = field
    }

    public var description: String { "\(method) \(uri) \(body ?? "")" }
}

/// The check every service's error table runs: each bad input gets its status and code, a
/// JSON body `{"error": {"code", "message"}}`, a message that names the field as written and
/// shows none of Swift's decoding internals (`Index 0`, `Parsed JSON`).
public enum ErrorTable {
    public static func check(_ cases: [BadInput], on http: any TestClientProtocol) async throws {
        for bad in cases {
            let response = try await http.execute(uri: bad.uri, method: bad.method, body: bad.body.map { ByteBuffer(string: $0) })
            let text = String(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            let message = error?["message"] as? String ?? ""
            #expect(response.status == bad.status, "\(bad): \(text)")
            #expect(error?["code"] as? String == bad.code, "\(bad): \(text)")
            #expect(response.headers[.contentType] == "application/json; charset=utf-8", "\(bad)")
            if let field = bad.field { #expect(message.contains("field '\(field)'"), "\(bad): \(message)") }
            #expect(!message.isEmpty && !message.contains("Index ") && !message.contains("Parsed JSON"), "\(bad): \(message)")
        }
    }
}
