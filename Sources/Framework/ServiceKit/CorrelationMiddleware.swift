import EventBus
import Foundation
import RedisClient
import HTTPTypes
import Hummingbird

/// A request context that carries the flow's correlation id (from `X-Correlation-ID`, or
/// new) and the request's own id (the causation id of the events it publishes).
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var correlationID: String = ""
    public var requestID: String = ""
    /// The largest request body a route reads (`RequestLimitsMiddleware` sets it).
    public var maximumBodyBytes: Int = 1 << 20
    public var maxUploadSize: Int { maximumBodyBytes }

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// JSON responses with their keys sorted, so bodies read the same every time.
    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// The context for events published while handling this request.
    public var eventContext: EventContext {
        EventContext(correlationID: correlationID, causationID: requestID)
    }
}

/// Takes the correlation id from the `X-Correlation-ID` request header (or makes one),
/// gives the request an id, and echoes both in the response headers
/// (`X-Correlation-ID`, `X-Request-ID`).
///
/// It also answers every error in the one model (`ServiceError`): a service's errors as
/// they say, Hummingbird's (`HTTPError`, e.g. no route: 404 `not_found`) in the same JSON
/// shape, 503 `redis_unavailable` when Redis cannot be reached, and 500 `internal_error`
/// (logged with its cause; the body gives only the request id) for anything else,
/// including a `ServiceError` whose status is 500.
public struct CorrelationMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    public static let correlationHeader = HTTPField.Name("X-Correlation-ID")!
    public static let requestHeader = HTTPField.Name("X-Request-ID")!

    public init() {}

    public func handle(
        _ request: Request, context: ServiceRequestContext,
        next: (Request, ServiceRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let given = request.headers[Self.correlationHeader].map { String($0.prefix(128)) }
        context.requestID = "req-" + EventID.generate()
        context.correlationID = (given?.isEmpty == false ? given : nil) ?? context.requestID
        context.logger[metadataKey: "correlation_id"] = "\(context.correlationID)"
        do {
            var response = try await next(request, context)
            response.headers[Self.correlationHeader] = context.correlationID
            response.headers[Self.requestHeader] = context.requestID
            return response
        } catch {
            // Every error answers the one JSON body (`ServiceError`): its own status and code
            // for a service's errors; Hummingbird's (no route: 404) in the same shape; 503 when
            // Redis cannot be reached (the client keeps reconnecting); 500 for anything else
            // and for a service error that says it is the server's fault (logged, not shown).
            let answer: any HTTPResponseError
            var headers: HTTPFields = [:]
            switch error {
            case let error as any ServiceError where error.status != .internalServerError:
                answer = error
            case let error as HTTPError where error.status != .internalServerError:
                answer = APIError(error.status, code: APIError.code(for: error.status), error.body ?? error.status.reasonPhrase)
                headers = error.headers
            case let error as any HTTPResponseError where error.status != .internalServerError && !(error is any ServiceError):
                answer = APIError(error.status, code: APIError.code(for: error.status), error.status.reasonPhrase)
            case let error as RedisError where error.isConnectionError:
                context.logger.warning("Redis is unreachable", metadata: ["error": "\(error)"])
                answer = APIError(.serviceUnavailable, code: "redis_unavailable", "Redis cannot be reached right now; retry later")
            case let error as RedisError where error.code == .notReplicated:
                // PUBLISH_WAIT_REPLICAS: written on the master, not confirmed by its replicas.
                context.logger.warning("A write was not confirmed by the replicas in time", metadata: ["error": "\(error)"])
                answer = APIError(
                    .serviceUnavailable, code: "not_replicated",
                    "the change was written but its replicas did not confirm it in time, so a failover may lose it; check it before retrying")
            default:
                // The details (Redis's text, script hashes) go to the log only: the client gets
                // the request id to quote, which finds them there.
                context.logger.error("Request failed", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
                answer = APIError(
                    .internalServerError, code: "internal_error",
                    "the request failed on the server; quote request id \(context.requestID) to find the cause in its log")
            }
            var response = try answer.response(from: request, context: context)
            for field in headers where response.headers[field.name] == nil { response.headers.append(field) }
            response.headers[Self.correlationHeader] = context.correlationID
            response.headers[Self.requestHeader] = context.requestID
            return response
        }
    }
}
