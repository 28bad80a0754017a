import Foundation
import Hummingbird

// MARK: - The error model

/// An error that a route throws and that answers for itself: every service's one error
/// model, after Hummingbird's `HTTPResponseError`.
///
/// Guarantees:
/// - The answer is `status` with the JSON body `{"error": {"code": code, "message": message}}`
///   (`Content-Type: application/json; charset=utf-8`), written by the default
///   `response(from:context:)`.
/// - `code` is stable (clients branch on it); `message` is for people and names a field
///   as the client wrote it (`items[0].quantity`), never a Swift coding path or type.
/// - A domain error type conforms once, mapping each case to a status and code; routes
///   just `throw` it. A 500 (`.internalServerError`) is logged by `CorrelationMiddleware`
///   and answered `internal_error` with the request id only, so it may carry internals.
///
/// The statuses and codes every service uses:
///
/// | status | code | when |
/// |---|---|---|
/// | 400 | `invalid_json` | the body is not JSON, or a field has the wrong JSON type, is `null`, or is a number that does not fit |
/// | 400 | `missing_field` | a required body field or query parameter is absent |
/// | 422 | `invalid_field` | well-formed, but a value breaks a rule (body field, query parameter, path segment or header) |
/// | 404 | `not_found` | the id names nothing (or no route matches) |
/// | 409 | `conflict` | the resource's state does not allow the change |
/// | 408 / 413 | `request_timeout` / `body_too_large` | `RequestLimitsMiddleware` |
/// | 503 | `redis_unavailable` | Redis cannot be reached |
/// | 500 | `internal_error` | anything else (details in the log under the request id) |
public protocol ServiceError: HTTPResponseError, CustomStringConvertible {
    /// A stable machine-readable code, e.g. `not_found`, `invalid_field`, `conflict`.
    var code: String { get }
    /// What went wrong, for people; safe to show the client.
    var message: String { get }
}

extension ServiceError {
    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try ErrorBody.response(status: status, code: code, message: message)
    }
}

/// The JSON error body `{"error": {"code", "message"}}`.
enum ErrorBody {
    private struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    static func response(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

// MARK: - APIError

/// A `ServiceError` made on the spot, for routes whose errors are no domain type's (a
/// query parameter, an unknown id) and for the shared middleware. The static members
/// are the model's vocabulary: use them rather than a new status or code.
public struct APIError: ServiceError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 400 `invalid_json`: the body is not JSON or a value has the wrong JSON type.
    public static func invalidJSON(_ message: String) -> APIError { APIError(.badRequest, code: "invalid_json", message) }

    /// 400 `missing_field`: "field '`name`' is missing".
    public static func missingField(_ name: String) -> APIError {
        APIError(.badRequest, code: "missing_field", "field '\(name)' is missing")
    }

    /// 422 `invalid_field`: "field '`name`' `reason`", for a well-formed value that breaks a rule.
    public static func invalidField(_ name: String, _ reason: String) -> APIError {
        APIError(.unprocessableContent, code: "invalid_field", "field '\(name)' \(reason)")
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    public static func conflict(_ message: String) -> APIError { APIError(.conflict, code: "conflict", message) }

    /// The code for an error that only has a status (Hummingbird's `HTTPError`): the names
    /// above where they apply, else the reason phrase in snake case (`method_not_allowed`).
    public static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .contentTooLarge: "body_too_large"
        case .requestTimeout: "request_timeout"
        case .internalServerError: "internal_error"
        default:
            String(status.reasonPhrase.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        }
    }
}
