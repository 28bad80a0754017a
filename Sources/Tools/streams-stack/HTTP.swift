import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Minimal JSON over HTTP for the stack tool (readiness checks and the demo flow), through
/// AsyncHTTPClient's shared client; `timeout` is a deadline for the whole request.
enum HTTP {
    struct Reply {
        let status: Int
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func request(
        _ method: String, _ url: String, json: [String: Any]? = nil, correlationID: String = "stack-demo", timeout: Double = 5
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let json {
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        request.headers.add(name: "X-Correlation-ID", value: correlationID)
        do {
            let response = try await HTTPClient.shared.execute(request, deadline: .now() + .milliseconds(Int64(timeout * 1000)))
            let body = try await response.body.collect(upTo: 16 << 20)
            return Reply(status: Int(response.status.code), body: Data(body.readableBytesView))
        } catch {
            throw StackError("\(method) \(url): \(error)")
        }
    }
}
