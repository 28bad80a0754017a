import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import RedisClient
import ServiceKit
import ServiceLifecycle
import ServiceLifecycleTestKit
import TestSupport
import Testing

/// What every service shares: settings, request limits, error bodies, the group sampler.
@Suite("ServiceKit")
struct ServiceKitTests {
    static func errorCode(_ response: TestResponse) -> String? {
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    /// A router with the services' middleware and a few routes to test it with.
    static func router(maximumBodyBytes: Int = 1024, timeout: Duration = .seconds(10)) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: RequestLimitsMiddleware(maximumBodyBytes: maximumBodyBytes, timeout: timeout))
        router.get("/slow") { _, _ in
            try await Task.sleep(for: .seconds(60))
            return "late"
        }
        router.post("/echo") { request, context in
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            return "\(body.readableBytes)"
        }
        router.get("/broken") { _, _ -> String in
            throw RedisError.server("WRONGTYPE Operation against a key holding the wrong kind of value")
        }
        return router
    }

    @Test func aRequestPastItsTimeoutIsAnswered408() async throws {
        try await Application(router: Self.router(timeout: .milliseconds(200))).test(.router) { http in
            let response = try await http.execute(uri: "/slow", method: .get)
            #expect(response.status == .requestTimeout)
            #expect(Self.errorCode(response) == "request_timeout")
        }
    }

    @Test func aBodyOverTheLimitIsAnswered413AndOneWithinItIsRead() async throws {
        try await Application(router: Self.router(maximumBodyBytes: 1024)).test(.router) { http in
            let large = try await http.execute(uri: "/echo", method: .post, body: ByteBuffer(repeating: 120, count: 4096))
            #expect(large.status == .contentTooLarge)
            #expect(Self.errorCode(large) == "body_too_large")
            let small = try await http.execute(uri: "/echo", method: .post, body: ByteBuffer(repeating: 120, count: 1000))
            #expect(small.status == .ok)
            #expect(String(buffer: small.body) == "1000")
        }
    }

    @Test func anUnexpectedErrorAnswers500WithTheRequestIDAndNoInternals() async throws {
        try await Application(router: Self.router()).test(.router) { http in
            let response = try await http.execute(uri: "/broken", method: .get)
            #expect(response.status == .internalServerError)
            let text = String(buffer: response.body)
            #expect(!text.contains("WRONGTYPE"))
            let requestID = try #require(response.headers[CorrelationMiddleware.requestHeader])
            #expect(text.contains(requestID))
        }
    }

    @Test func badSettingsNameTheirVariable() {
        for (name, value) in [
            ("HTTP_PORT", "eighty"), ("HTTP_MAX_BODY_BYTES", "10"), ("HTTP_REQUEST_TIMEOUT_MS", "0"), ("REDIS_URL", "http://x"),
            ("LOG_LEVEL", "loud"), ("MAX_DELIVERIES", "0"),
        ] {
            #expect {
                _ = try ServiceSettings(environment: EnvironmentReader([name: value]), defaultPort: 8081)
            } throws: { error in
                "\(error)".contains(name)
            }
        }
        let settings = try? ServiceSettings(environment: EnvironmentReader([:]), defaultPort: 8081)
        #expect(settings?.maximumBodyBytes == 1 << 20 && settings?.requestTimeout == .seconds(10))
    }

    @Test func theGroupSamplerStopsAtOnceOnGracefulShutdown() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            // An hour between samples: only the shutdown can end its sleep.
            let sampler = GroupMetricsSampler(
                client: client, groups: [("s", "g")], interval: .seconds(3600), logger: Logger(label: "sampler-test"))
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await sampler.run() }
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
        }
    }
}
