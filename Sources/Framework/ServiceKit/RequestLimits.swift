import HTTPTypes
import Hummingbird

/// Bounds every request: a body larger than `maximumBodyBytes` is refused with 413
/// (`body_too_large`), by its `Content-Length` before it is read or while it is read; a
/// request not answered within `timeout` (a slow client or a slow handler) gets 408
/// (`request_timeout`) and its handler is cancelled. A change the handler had already
/// committed in Redis stays committed (the timeout only stops waiting for the answer).
public struct RequestLimitsMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let maximumBodyBytes: Int
    let timeout: Duration

    public init(maximumBodyBytes: Int, timeout: Duration) {
        self.maximumBodyBytes = maximumBodyBytes
        self.timeout = timeout
    }

    public func handle(
        _ request: Request, context: ServiceRequestContext,
        next: (Request, ServiceRequestContext) async throws -> Response
    ) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maximumBodyBytes {
            throw tooLarge
        }
        var context = context
        context.maximumBodyBytes = maximumBodyBytes
        let limited = context
        do {
            return try await withoutActuallyEscaping(next) { next in
                let handler = NextHandler(call: next)
                return try await withDeadline(timeout) { try await handler.call(request, limited) }
            }
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
    }

    /// The rest of the middleware chain, handed to the child task that runs it.
    // Unsafe exception: @unchecked because Hummingbird's `next` is not Sendable, yet the
    // deadline needs it in a child task. It is called only inside `withDeadline`, whose task
    // group is awaited to the end before `handle` returns, so it never outlives the call it
    // came from and never runs concurrently with its caller. Private, never user-reachable.
    private struct NextHandler: @unchecked Sendable {
        let call: (Request, ServiceRequestContext) async throws -> Response
    }

    private var tooLarge: APIError {
        APIError(.contentTooLarge, code: "body_too_large", "the request body is larger than \(maximumBodyBytes) bytes")
    }

    /// Runs `body`, or throws 408 once `timeout` has passed (cancelling `body`).
    private func withDeadline(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> Response
    ) async throws -> Response {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw APIError(
                    .requestTimeout, code: "request_timeout",
                    "the request did not complete within \(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000) ms")
            }
            return response
        }
    }
}
