import EventBus
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import OrderEvents
import OrderService
import PaymentCards
import RedisClient
import SagaCoordinatorService
import SagaRuntime
import ServiceKit
import TestSupport
import Testing

/// order-service as its `main` runs it (`buildApplication`: routes, middleware, the
/// command consumer) on a private redis-server, with quick retries so that dead letters
/// come within a test's patience.
struct OrderHarness: Sendable {
    /// The installation's payment card key of these tests (order-service gets its public half).
    static let cardKey = PaymentCardOpeningKey.generate()
    static let quickRetries = [
        "RETRY_INITIAL_BACKOFF_MS": "100", "RETRY_MAX_BACKOFF_MS": "400", "MAX_DELIVERIES": "3",
        "PAYMENT_CARD_PUBLIC_KEY": cardKey.sealingKey.base64URL,
    ]
    static let correlationHeader = HTTPField.Name("X-Correlation-ID")!

    let http: any TestClientProtocol
    let redis: RedisClient
    let server: LocalRedisServer

    /// Runs `body` against order-service. With `sagaCoordinator`, saga-coordinator's saga API
    /// (`SagaRoutes` on the same Redis) listens on a real port and order-service asks it
    /// (`SAGA_COORDINATOR_URL`), as in the stack; without, that URL points at a closed port.
    static func run(
        sagaCoordinator: Bool = false, _ body: @escaping @Sendable (OrderHarness) async throws -> Void
    ) async throws {
        try await withLocalRedisServer { server in
            var configured = try RedisConfiguration(url: server.url)
            configured.commandTimeout = .seconds(1)
            let redis = configured
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            @Sendable func runOrderService(coordinatorPort: Int) async throws {
                // Generous timeouts: a full parallel run can stall a request for seconds.
                let environment = quickRetries.merging([
                    "SAGA_COORDINATOR_URL": "http://127.0.0.1:\(coordinatorPort)", "SAGA_COORDINATOR_TIMEOUT_MS": "20000",
                    "HTTP_REQUEST_TIMEOUT_MS": "60000",
                ]) { $1 }
                let configuration = try OrderServiceConfiguration(environment: EnvironmentReader(environment))
                let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "order-service-test"))
                try await app.test(.router) { http in try await body(OrderHarness(http: http, redis: client, server: server)) }
            }
            guard sagaCoordinator else { return try await runOrderService(coordinatorPort: TestPorts.free()[0]) }
            let router = Router(context: ServiceRequestContext.self)
            SagaRoutes(store: SagaStore(type: "order", client: client)).add(to: router)
            let coordinator = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await coordinator.test(.live) { live in try await runOrderService(coordinatorPort: try #require(live.port)) }
        }
    }

    // MARK: HTTP

    /// A valid `POST /orders` body (alice, two items, 49.99, a 16-digit card).
    static var validBody: [String: Any] {
        [
            "user_id": "alice", "items": [["sku": "sku-1", "quantity": 2], ["sku": "sku-2", "quantity": 1]],
            "amount_cents": 4999, "card": "4242424242424242",
        ]
    }

    static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
    }

    static func error(_ response: TestResponse) -> (code: String?, message: String) {
        let error = object(response)["error"] as? [String: Any]
        return (error?["code"] as? String, error?["message"] as? String ?? "")
    }

    func post(_ body: ByteBuffer, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await http.execute(uri: "/orders", method: .post, headers: headers, body: body)
    }

    /// Creates a valid order and returns its id.
    func createOrder(_ body: [String: Any] = OrderHarness.validBody) async throws -> String {
        let response = try await post(Self.json(body))
        #expect(response.status == .accepted)
        return try #require(Self.object(response)["id"] as? String)
    }

    func get(_ id: String) async throws -> TestResponse {
        try await http.execute(uri: "/orders/\(id)", method: .get)
    }

    // MARK: Saga commands and replies

    /// Writes `command` to `order-commands` as the coordinator would: the saga's
    /// correlation id and `meta.saga_*`.
    @discardableResult
    func send(_ command: some DomainEvent, sagaID: String, step: Int = 2, correlationID: String = "saga-flow")
        async throws -> StreamEntryID
    {
        let publisher = EventPublisher(client: redis, configuration: .init(streamName: { _ in OrderStreams.orderCommands }))
        return try await publisher.publish(
            command,
            context: EventContext(
                correlationID: correlationID,
                metadata: [
                    SagaMessageMetadata.sagaID: sagaID, SagaMessageMetadata.sagaType: "order",
                    SagaMessageMetadata.sagaStep: "\(step)",
                ]))
    }

    /// The order's entries in `order-events` other than `order.created`, in stream order.
    func replies(_ id: String) async throws -> [StreamEntry] {
        try await redis.xrange(OrderStreams.orderEvents).filter {
            $0.string(named: "aggregate_id") == id && $0.string(named: "event_type") != OrderCreated.eventType
        }
    }

    /// Waits until the order has `count` replies, and returns them.
    func waitForReplies(_ id: String, count: Int) async throws -> [StreamEntry] {
        #expect(try await eventually { try await replies(id).count >= count }, "waiting for \(count) replies to \(id)")
        return try await replies(id)
    }

    /// Waits until the group has read and acknowledged every command.
    func commandsHandled() async throws -> Bool {
        try await eventually {
            let groups = try await StreamInspector(client: redis).groups(stream: OrderStreams.orderCommands)
            guard let group = groups.first(where: { $0.name == OrderCommandHandlers.group }) else { return false }
            return group.pending == 0 && group.lag == 0
        }
    }

    func hash(_ id: String) async throws -> [String: String] {
        try await redis.hgetall("order:\(id)")
    }

    static func data(_ entry: StreamEntry) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data((entry.string(named: "data") ?? "").utf8))) as? [String: Any] ?? [:]
    }
}
