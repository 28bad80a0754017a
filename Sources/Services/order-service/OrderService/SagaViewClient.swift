import AsyncHTTPClient
import EventCodec
import Foundation
import NIOCore
import SagaRuntime

/// What `GET /orders/{id}` shows of the order's saga, asked of saga-coordinator's API
/// (`GET /sagas/{id}` on `SAGA_COORDINATOR_URL`): order-service reads only its own keys in
/// Redis, never the coordinator's.
///
/// One short request per call (timeout `timeout`); a coordinator that is down or slow makes
/// the order's answer say so (`saga_unavailable`) instead of failing it.
public struct SagaViewClient: Sendable {
    public let baseURL: String
    public let timeout: Duration

    public init(baseURL: URL, timeout: Duration = .seconds(2)) {
        var text = baseURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.baseURL = text
        self.timeout = timeout
    }

    /// Why the saga could not be shown.
    public struct Unavailable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The saga of order `id`, or nil when the coordinator has none (not started yet, or
    /// expired after its retention).
    public func view(of id: String) async throws -> SagaView? {
        let request = HTTPClientRequest(url: "\(baseURL)/sagas/\(id)")
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Unavailable(description: "saga-coordinator did not answer (\(baseURL)): \(error)")
        }
        switch response.status.code {
        case 200:
            do {
                return try EventDataDecoder().decode(SagaView.self, from: Array(body.readableBytesView))
            } catch {
                throw Unavailable(description: "saga-coordinator answered a saga this service cannot read: \(error)")
            }
        case 404:
            return nil
        default:
            throw Unavailable(description: "saga-coordinator answered \(response.status.code)")
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
