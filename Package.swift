// swift-tools-version:6.1
import PackageDescription

// Layers, each depending only on the ones below it (Sources/ is grouped the same way):
//   Sources/Services/<service>/main: one thin executable per service (todo-service,
//     notification-service, analytics-service, order-service, inventory-service,
//     payment-service, saga-coordinator), a call of ServiceExecutable.run
//   -> Sources/Services/<service>/<Library>: each service's logic, routes and buildApplication
//      (TodoService, NotificationService, AnalyticsService, OrderService, InventoryService,
//      PaymentService, SagaCoordinatorService)
//   -> Sources/Contracts: TodoEvents, OrderEvents, PaymentCards (what services share)
//   -> Sources/Framework:
//        ServiceTelemetry (the generic main, swift-otel) -> ServiceKit (settings, health/ready/
//          metrics, the error model, correlation ids, runner)
//        Projections -> EventStore, SagaRuntime -> EventBus (envelope, publisher, consumer groups)
//        -> EventCodec (JSON codec for event data, RFC 3339; Foundation only, no unsafe code)
//   -> Sources/RedisClient (the hiredis wrapper: connections, commands, replies, errors; the
//      only unsafe code) -> Sources/CHiredis (system library: hiredis)
//   Sources/Tools: streamsctl (operator CLI), streams-stack (the stack without Docker),
//     load-generator, streams-bench, event-store-bench, streams-demo, probe-consumer,
//     LocalRedisServer (a private redis-server for tests, demo and benchmarks), lua-embed (run by
//     Plugins/EmbedLuaScripts: each target's .lua scripts embedded at build time)
let package = Package(
    name: "redis-streams-events",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "EventCodec", targets: ["EventCodec"]),
        .library(name: "LocalRedisServer", targets: ["LocalRedisServer"]),
        .library(name: "TodoEvents", targets: ["TodoEvents"]),
        .library(name: "SagaRuntime", targets: ["SagaRuntime"]),
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "OrderEvents", targets: ["OrderEvents"]),
        .executable(name: "streams-demo", targets: ["streams-demo"]),
        .executable(name: "streams-bench", targets: ["streams-bench"]),
        .executable(name: "event-store-bench", targets: ["event-store-bench"]),
        .executable(name: "streamsctl", targets: ["streamsctl"]),
        .executable(name: "todo-service", targets: ["todo-service"]),
        .executable(name: "notification-service", targets: ["notification-service"]),
        .executable(name: "analytics-service", targets: ["analytics-service"]),
        .executable(name: "saga-coordinator", targets: ["saga-coordinator"]),
        .executable(name: "order-service", targets: ["order-service"]),
        .executable(name: "inventory-service", targets: ["inventory-service"]),
        .executable(name: "payment-service", targets: ["payment-service"]),
        .executable(name: "streams-stack", targets: ["streams-stack"]),
        .executable(name: "load-generator", targets: ["load-generator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only (protobuf or JSON): the gRPC exporter would double the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // HPKE for payment card tokens (already built for swift-otel's and async-http-client's TLS).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CHiredis",
            path: "Sources/CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/RedisClient"
        ),
        // The JSON codec for event data; takes untrusted bytes, so it has its own tests and
        // fuzz targets (Fuzz/) and depends on nothing of ours.
        .target(name: "EventCodec", path: "Sources/Framework/EventCodec"),
        .target(
            name: "EventBus",
            dependencies: [
                "EventCodec",
                "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Framework/EventBus",
            plugins: ["EmbedLuaScripts"]
        ),
        // Lua scripts are `.lua` files beside the Swift that runs them, embedded at build time:
        // the plugin hands each target's `.lua` files to lua-embed, which writes `LuaScripts`
        // (includes inlined: `--! include "<path>"`). Nothing is read at run time.
        .executableTarget(name: "lua-embed", path: "Sources/Tools/lua-embed"),
        .plugin(name: "EmbedLuaScripts", capability: .buildTool(), dependencies: ["lua-embed"], path: "Plugins/EmbedLuaScripts"),
        .target(
            name: "LocalRedisServer",
            dependencies: ["RedisClient"], path: "Sources/Tools/LocalRedisServer"
        ),
        // Sagas: definitions, the state machine, their storage (state, outbox, deadlines,
        // history) and the coordinator that runs them; nothing order-specific.
        .target(
            name: "SagaRuntime",
            dependencies: [
                "EventBus", "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Framework/SagaRuntime",
            plugins: ["EmbedLuaScripts"]
        ),
        // The event store: aggregates' histories, snapshots, upcasting, appends checked by version.
        .target(
            name: "EventStore",
            dependencies: ["EventBus", "RedisClient"], path: "Sources/Framework/EventStore",
            plugins: ["EmbedLuaScripts"]
        ),
        // Projections: read models kept by transactional consumer groups, rebuilt from the
        // type stream and the event store's histories (issue 11).
        .target(
            name: "Projections",
            dependencies: ["EventBus", "EventStore", "RedisClient"], path: "Sources/Framework/Projections",
            plugins: ["EmbedLuaScripts"]
        ),
        .testTarget(
            name: "ProjectionsTests",
            dependencies: [
                "Projections", "AnalyticsService", "EventStore", "EventBus", "TodoEvents", "RedisClient",
                "LocalRedisServer", "TestSupport",
            ]
        ),
        // The order saga's shared contracts: its streams, commands and replies.
        .target(name: "OrderEvents", dependencies: ["EventBus"], path: "Sources/Contracts/OrderEvents"),
        // Card numbers sealed for payment-service (HPKE): the token order-service puts in
        // order.created instead of the number, which only payment-service can open.
        .target(name: "PaymentCards", dependencies: [.product(name: "Crypto", package: "swift-crypto")], path: "Sources/Contracts/PaymentCards"),
        .testTarget(name: "PaymentCardsTests", dependencies: ["PaymentCards"]),
        .target(
            name: "TodoEvents",
            dependencies: ["EventBus"], path: "Sources/Contracts/TodoEvents"
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Framework/ServiceKit"
        ),
        // The services' one generic main (ServiceExecutable) and their OpenTelemetry tracing
        // (swift-otel); the libraries and their tests depend only on the tracing API.
        .target(
            name: "ServiceTelemetry",
            dependencies: [
                "ServiceKit", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Framework/ServiceTelemetry"
        ),
        .target(
            name: "TodoService",
            dependencies: [
                "ServiceKit", "TodoEvents", "EventBus", "EventStore", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/todo-service/TodoService"
        ),
        .target(
            name: "NotificationService",
            dependencies: [
                "ServiceKit", "TodoEvents", "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Services/notification-service/NotificationService"
        ),
        .target(
            name: "AnalyticsService",
            dependencies: [
                "ServiceKit", "TodoEvents", "EventBus", "RedisClient", "Projections",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/analytics-service/AnalyticsService"
        ),
        .target(
            name: "SagaCoordinatorService",
            dependencies: [
                "ServiceKit", "SagaRuntime", "OrderEvents", "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/saga-coordinator/SagaCoordinatorService"
        ),
        .executableTarget(name: "saga-coordinator", dependencies: ["SagaCoordinatorService", "ServiceTelemetry"], path: "Sources/Services/saga-coordinator/main"),
        // The order saga's order participant: POST/GET /orders (the saga asked of
        // saga-coordinator's API), order.confirm/order.cancel.
        .target(
            name: "OrderService",
            dependencies: [
                "ServiceKit", "OrderEvents", "PaymentCards", "SagaRuntime", "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/order-service/OrderService",
            plugins: ["EmbedLuaScripts"]
        ),
        // The order saga's participants: stock reservations, and a payment simulator.
        .target(
            name: "InventoryService",
            dependencies: [
                "ServiceKit", "OrderEvents", "SagaRuntime", "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/inventory-service/InventoryService",
            plugins: ["EmbedLuaScripts"]
        ),
        .target(
            name: "PaymentService",
            dependencies: [
                "ServiceKit", "OrderEvents", "PaymentCards", "SagaRuntime", "EventBus", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/payment-service/PaymentService",
            plugins: ["EmbedLuaScripts"]
        ),
        .executableTarget(name: "todo-service", dependencies: ["TodoService", "ServiceTelemetry"], path: "Sources/Services/todo-service/main"),
        .executableTarget(name: "notification-service", dependencies: ["NotificationService", "ServiceTelemetry"], path: "Sources/Services/notification-service/main"),
        .executableTarget(name: "analytics-service", dependencies: ["AnalyticsService", "ServiceTelemetry"], path: "Sources/Services/analytics-service/main"),
        .executableTarget(name: "order-service", dependencies: ["OrderService", "ServiceTelemetry"], path: "Sources/Services/order-service/main"),
        .executableTarget(name: "inventory-service", dependencies: ["InventoryService", "ServiceTelemetry"], path: "Sources/Services/inventory-service/main"),
        .executableTarget(name: "payment-service", dependencies: ["PaymentService", "ServiceTelemetry"], path: "Sources/Services/payment-service/main"),
        // Runs docker-compose.yml's stack as local processes (scripts/stack.sh).
        .executableTarget(
            name: "streams-stack",
            dependencies: [
                "EventBus", "LocalRedisServer", "RedisClient", "PaymentCards",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Tools/streams-stack"
        ),
        // Offers load at a fixed rate over HTTP or the bus; latency, losses, duplicates (scripts/load-test.sh).
        .executableTarget(
            name: "load-generator",
            dependencies: [
                "EventBus", "TodoEvents", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/Tools/load-generator"
        ),
        .executableTarget(
            name: "streams-demo",
            dependencies: [
                "EventBus",
                "TodoEvents",
                "LocalRedisServer",
                "RedisClient",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Tools/streams-demo"
        ),
        .executableTarget(
            name: "streams-bench",
            dependencies: [
                "EventBus", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/streams-bench"
        ),
        .executableTarget(
            name: "streamsctl",
            dependencies: [
                "EventBus", "RedisClient", "SagaRuntime", "Projections", "AnalyticsService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Tools/streamsctl"
        ),
        // The event store's costs: appends/s, load times, memory per event (BENCHMARKS.md).
        .executableTarget(
            name: "event-store-bench",
            dependencies: [
                "EventStore", "EventBus", "RedisClient", "LocalRedisServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/event-store-bench"
        ),
        // A consumer process the fault tests kill and restart (not a product).
        .executableTarget(
            name: "probe-consumer",
            dependencies: [
                "EventBus", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Tools/probe-consumer"
        ),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "EventBus", "RedisClient", "LocalRedisServer", "TestSupport"]),
        .testTarget(name: "SagaRuntimeTests", dependencies: ["SagaRuntime", "EventCodec", "RedisClient", "LocalRedisServer", "TestSupport"]),
        .testTarget(
            name: "SagaCoordinatorTests",
            dependencies: [
                "HTTPTestSupport", "SagaCoordinatorService", "SagaRuntime", "OrderEvents", "ServiceKit", "EventBus", "RedisClient", "LocalRedisServer",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the test targets share: waiting for a condition, free ports (not a product).
        // Also: calling Lua scripts directly and checking a refusal wrote nothing (ScriptTesting).
        // RedisBackend: a test parameterized over one node and a cluster (partitions from EventBus).
        .target(name: "TestSupport", dependencies: ["RedisClient", "LocalRedisServer", "EventBus"], path: "Tests/TestSupport"),
        // The services' error tables share their check (not a product).
        .target(
            name: "HTTPTestSupport",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/HTTPTestSupport"),
        .testTarget(
            name: "RedisClientTests",
            dependencies: ["RedisClient", "LocalRedisServer", "TestSupport"]
        ),
        .testTarget(
            name: "EventCodecTests",
            dependencies: ["EventCodec"]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: [
                "EventBus",
                "RedisClient",
                "LocalRedisServer",
                "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "EventBus", "RedisClient", "LocalRedisServer", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TodoServiceTests",
            dependencies: [
                "HTTPTestSupport", "TodoService", "ServiceKit", "TodoEvents", "EventStore", "RedisClient", "LocalRedisServer", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "NotificationServiceTests",
            dependencies: [
                "HTTPTestSupport", "NotificationService", "ServiceKit", "EventBus", "TodoEvents", "RedisClient", "LocalRedisServer", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AnalyticsServiceTests",
            dependencies: [
                "HTTPTestSupport", "AnalyticsService", "ServiceKit", "EventBus", "TodoEvents", "RedisClient", "LocalRedisServer", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Drives a saga participant as the coordinator does: commands in, replies out (not a product).
        .target(
            name: "SagaTestSupport", dependencies: ["EventBus", "SagaRuntime", "RedisClient", "TestSupport"],
            path: "Tests/SagaTestSupport"),
        .testTarget(
            name: "OrderServiceTests",
            dependencies: [
                "HTTPTestSupport", "OrderService", "OrderEvents", "PaymentCards", "SagaRuntime", "SagaCoordinatorService", "ServiceKit", "EventBus",
                "RedisClient", "LocalRedisServer",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "InventoryServiceTests",
            dependencies: [
                "HTTPTestSupport", "InventoryService", "ServiceKit", "OrderEvents", "SagaRuntime", "EventBus", "RedisClient", "LocalRedisServer",
                "TestSupport", "SagaTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PaymentServiceTests",
            dependencies: [
                "HTTPTestSupport", "PaymentService", "PaymentCards", "ServiceKit", "OrderEvents", "SagaRuntime", "EventBus", "RedisClient", "LocalRedisServer",
                "TestSupport", "SagaTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every Lua script of Sources run through the API that owns it on a Redis Cluster with
        // partitions (the framework's and the services' stores: what the test can import).
        .testTarget(
            name: "ClusterScriptTests",
            dependencies: [
                "EventBus", "EventStore", "Projections", "SagaRuntime", "InventoryService", "OrderService", "PaymentService",
                "OrderEvents", "PaymentCards", "RedisClient", "LocalRedisServer", "TestSupport",
            ]
        ),
        // The whole stack as processes (streams-stack, docker-compose.yml, deploy/redis ACLs,
        // scripts/load-test.sh).
        .testTarget(
            name: "StackIntegrationTests",
            dependencies: [
                "NotificationService", "AnalyticsService", "EventBus", "TodoEvents", "RedisClient", "LocalRedisServer",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
    ]
)
