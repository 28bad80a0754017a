import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// `StreamFixture` on a `RedisBackend`: one redis-server with a plain stream, or a Redis Cluster
/// with the stream split into the backend's partitions (publisher and consumers alike). The
/// helpers add up what each partition holds, so one test body asserts the same on both.
struct BackendFixture {
    let target: RedisTarget
    let redis: RedisConfiguration
    let client: RedisClient
    let stream: String
    let publisher: EventPublisher

    var partitions: StreamPartitions { target.partitions }
    /// The stream's partition streams (the stream itself with one partition).
    var streamKeys: [String] { partitions.streamKeys(stream) }

    /// The partition stream events of `aggregate` go to.
    func streamKey(of aggregate: String) -> String { partitions.streamKey(stream, partitionKey: aggregate) }

    /// A consumer configuration of `group` reading every partition from the beginning.
    func configuration(group: String, consumer: String) -> EventConsumer.Configuration {
        var configuration = EventConsumer.Configuration(stream: stream, group: group, consumerName: consumer, startPosition: .beginning)
        configuration.partitions = partitions
        return configuration
    }

    /// Entries pending in `group` over every partition; -1 while the group is missing on one.
    func pending(_ group: String) async throws -> Int {
        var total = 0
        for key in streamKeys {
            let count = try await pendingCount(client, key, group)
            if count < 0 { return -1 }
            total += count
        }
        return total
    }

    /// The dead letters of `group` over every partition.
    func deadLetters(_ group: String) async throws -> [StreamEntry] {
        var letters: [StreamEntry] = []
        for key in streamKeys { letters += try await EventBusTests.deadLetters(client, key, group) }
        return letters
    }

    /// The entries of every partition.
    func entries() async throws -> [StreamEntry] {
        var entries: [StreamEntry] = []
        for key in streamKeys { entries += try await client.xrange(key) }
        return entries
    }
}

/// Runs `body` with a fresh `BackendFixture` on `backend`.
func withBackendFixture(_ backend: RedisBackend, _ body: (BackendFixture) async throws -> Void) async throws {
    try await withRedis(backend) { target in
        let redis = try target.configuration()
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        let stream = uniqueStream()
        let publisher = EventPublisher(
            client: client, configuration: .init(streamName: { _ in stream }, partitions: target.partitions))
        try await body(BackendFixture(target: target, redis: redis, client: client, stream: stream, publisher: publisher))
    }
}
