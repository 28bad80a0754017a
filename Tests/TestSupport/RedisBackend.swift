import EventBus
import LocalRedisServer
import RedisClient
import Testing

/// What a test runs against: one private redis-server, or a private Redis Cluster (3 masters,
/// 3 replicas) with the streams split into 6 partitions, two on each master. A test
/// parameterized with `@Test(arguments: RedisBackend.allCases)` proves its guarantee on both:
/// on the cluster every key a script or a transaction writes must be in one slot, so a key
/// without its partition's hash tag fails there (CROSSSLOT) and not on a node.
public enum RedisBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case node
    case cluster

    /// The partitions of the test's streams: one on a node, 6 on a cluster (a multiple of its
    /// 3 masters, so that each master holds some).
    public var partitions: StreamPartitions {
        switch self {
        case .node: .single
        // 6 is in 1...16384: cannot throw.
        case .cluster: try! StreamPartitions(count: 6)
        }
    }

    public var testDescription: String { rawValue }
}

/// The Redis a test body gets from `withRedis`: its URL (a unix socket on a node; on a cluster
/// the multi-seed `redis://h1:p1,h2:p2,...` the RedisClient routes by slot) and its partitions.
public struct RedisTarget: Sendable {
    public let backend: RedisBackend
    public let url: String
    public let partitions: StreamPartitions
    /// The server on a node (nil on a cluster).
    public let server: LocalRedisServer?
    /// The cluster (nil on a node).
    public let cluster: LocalRedisCluster?

    public var isCluster: Bool { backend == .cluster }

    /// A new client of the target (close it when done).
    public func makeClient() throws -> RedisClient { try RedisClient(url: url) }

    /// `RedisConfiguration` of `url`, for consumers.
    public func configuration() throws -> RedisConfiguration { try RedisConfiguration(url: url) }

    /// The keys matching `pattern` on every master (`KEYS` answers for one node only, so on a
    /// cluster each master is asked), sorted.
    public func keys(_ pattern: String) async throws -> [String] {
        var urls: [String] = []
        if let server { urls = [server.url] }
        if let cluster { urls = try await cluster.masters().map(\.url) }
        var keys: [String] = []
        for url in urls {
            let client = try RedisClient(url: url)
            defer { client.close() }
            keys += (try await client.send(RedisCommand("KEYS", pattern)).array ?? []).compactMap(\.string)
        }
        return keys.sorted()
    }
}

/// Runs `body` on a fresh private redis-server (`.node`) or Redis Cluster (`.cluster`; one at a
/// time per process, as `withLocalRedisCluster` does), stopped after it.
public func withRedis<Result>(
    _ backend: RedisBackend, persistence: Bool = false, _ body: (RedisTarget) async throws -> Result
) async throws -> Result {
    switch backend {
    case .node:
        return try await withLocalRedisServer(persistence: persistence) { server in
            try await body(RedisTarget(backend: .node, url: server.url, partitions: backend.partitions, server: server, cluster: nil))
        }
    case .cluster:
        return try await withLocalRedisCluster(persistence: persistence) { cluster in
            try await body(RedisTarget(backend: .cluster, url: cluster.url, partitions: backend.partitions, server: nil, cluster: cluster))
        }
    }
}
