import EventBus
import Foundation
import Hummingbird

/// An error answered with its status and a JSON body `{"error": {"code": ..., "message": ...}}`.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A stable machine-readable code, e.g. `not_found`, `invalid_field`, `conflict`.
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code: code, message)
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    public static func conflict(_ message: String) -> APIError { APIError(.conflict, code: "conflict", message) }

    public var description: String { "\(status.code) \(code): \(message)" }

    private struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message)))
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Request {
    /// Decodes the JSON body as `T`, turning any failure into a 400 that says what is wrong.
    public func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let body = try await self.body.collect(upTo: context.maxUploadSize)
        do {
            // EventCodec's strict decoder (the events' own): the same `DecodingError`s as
            // Foundation's, at a fraction of its cost per request.
            return try EventDataDecoder().decode(T.self, from: Array(body.readableBytesView)[...])
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.badRequest("missing field '\(key.stringValue)'", code: "missing_field")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badRequest("field '\(path)' has the wrong type or is null", code: "invalid_field")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badRequest("field '\(path)' is invalid: \(context.debugDescription)", code: "invalid_field")
        } catch {
            throw APIError.badRequest("the body is not valid JSON", code: "invalid_json")
        }
    }
}
