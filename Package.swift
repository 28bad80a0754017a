// swift-tools-version:6.0
import PackageDescription

// Layers, each depending only on the ones below it:
//   executables (streams-demo, streams-bench, streamsctl (operator CLI), later one per service)
//     -> TodoEvents (shared event contracts)
//     -> EventBus (envelope, publisher, consumer groups)
//       -> RedisClient (connections, commands, replies, errors; the only unsafe code)
//         -> CHiredis (system library: hiredis)
let package = Package(
    name: "redis-streams-events",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "EventBus", targets: ["EventBus"]),
        .library(name: "LocalRedisServer", targets: ["LocalRedisServer"]),
        .library(name: "TodoEvents", targets: ["TodoEvents"]),
        .executable(name: "streams-demo", targets: ["streams-demo"]),
        .executable(name: "streams-bench", targets: ["streams-bench"]),
        .executable(name: "streamsctl", targets: ["streamsctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EventBus",
            dependencies: [
                "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "LocalRedisServer",
            dependencies: ["RedisClient"]
        ),
        .target(
            name: "TodoEvents",
            dependencies: ["EventBus"]
        ),
        .executableTarget(
            name: "streams-demo",
            dependencies: [
                "EventBus",
                "TodoEvents",
                "LocalRedisServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "streams-bench",
            dependencies: [
                "EventBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "streamsctl",
            dependencies: [
                "EventBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A consumer process the fault tests kill and restart (not a product).
        .executableTarget(
            name: "probe-consumer",
            dependencies: [
                "EventBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RedisClientTests",
            dependencies: ["RedisClient", "LocalRedisServer"]
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: [
                "EventBus",
                "LocalRedisServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
