@testable import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Synchronization
import Testing
import TestSupport

/// The event bus on a real Redis Cluster (3 masters, 3 replicas): partitioned streams spread
/// over the masters, every script in one slot.
@Suite("Event bus on a Redis Cluster", .serialized)
struct ClusterEventBusTests {
    @Test func publishingOrderedAndSharedGroupsTransactionsAndDeadLettersWorkAcrossMasters() async throws {
        try await withLocalRedisCluster { cluster in
            let redis = try RedisConfiguration(url: cluster.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let stream = uniqueStream("cluster")
            let partitions = try StreamPartitions(count: 6)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: partitions))

            // Ordered and transactional: a count and each aggregate's order, in the partition's slot.
            var transactional = EventHandlers()
            transactional.onTransactional(TodoCreated.self) { received in
                if received.event.todoID == "todo-poison" { throw TestFailure(description: "always fails") }
                return [
                    RedisCommand("INCR", StreamPartitions.colocatedKey("\(stream):total", "all", with: received.stream)),
                    RedisCommand(
                        "RPUSH", StreamPartitions.colocatedKey("\(stream):order", received.event.todoID, with: received.stream),
                        "\(received.event.priority)"),
                ]
            }
            func ordered(_ name: String) throws -> EventConsumer {
                var configuration = quickRetries(
                    .init(stream: stream, group: "tx", consumerName: name, startPosition: .beginning), maxDeliveries: 2)
                configuration.partitions = partitions
                configuration.ordering = .partitionOwnership(
                    PartitionLeases(leaseDuration: .seconds(3), heartbeatInterval: .milliseconds(100)))
                return try EventConsumer(redis: redis, configuration: configuration, handlers: transactional)
            }
            let seen = Recorder<String>()
            var plain = EventHandlers()
            plain.on(TodoCreated.self) { await seen.append($0.envelope.eventID) }
            var shared = quickRetries(.init(stream: stream, group: "plain", consumerName: "p", startPosition: .beginning))
            shared.partitions = partitions
            let tasks = [
                start(try ordered("a")), start(try ordered("b")),
                start(try EventConsumer(redis: redis, configuration: shared, handlers: plain)),
            ]

            var number = 0
            for _ in 0..<10 {
                var batch: [TodoCreated] = []
                for aggregate in 0..<30 {
                    number += 1
                    batch.append(TodoCreated(todoID: "todo-\(aggregate)", userID: "u", title: "t", priority: number))
                }
                try await publisher.publish(batch)
            }
            try await publisher.publish(TodoCreated(todoID: "todo-poison", userID: "u", title: "t", priority: 0))

            // The partitions are on every master.
            let masters = Set(partitions.streamKeys(stream).map { RedisHashSlot.slot(of: $0) * 3 / RedisHashSlot.count })
            #expect(masters == [0, 1, 2])

            #expect(try await eventually { await seen.count == 301 })
            func total() async throws -> Int {
                var total = 0
                for key in partitions.streamKeys(stream) {
                    total += try await client.send("GET", StreamPartitions.colocatedKey("\(stream):total", "all", with: key)).int ?? 0
                }
                return total
            }
            #expect(try await eventually { try await total() == 300 })
            for aggregate in 0..<30 {
                let key = StreamPartitions.colocatedKey(
                    "\(stream):order", "todo-\(aggregate)", with: partitions.streamKey(stream, partitionKey: "todo-\(aggregate)"))
                let applied = try await client.send("LRANGE", key, "0", "-1").array?.compactMap { $0.string.flatMap(Int.init) } ?? []
                #expect(applied == Array(stride(from: aggregate + 1, through: 300, by: 30)), "todo-\(aggregate)")
            }
            // The poison event is dead-lettered in its partition, nothing else.
            let poisonPartition = partitions.streamKey(stream, partitionKey: "todo-poison")
            #expect(
                try await eventually {
                    try await client.xlen(DeadLetter.streamKey(stream: poisonPartition, group: "tx")) == 1
                })
            for key in partitions.streamKeys(stream) {
                #expect(try await eventually { try await pendingCount(client, key, "tx") == 0 })
                #expect(try await pendingCount(client, key, "plain") == 0)
            }
            await stop(tasks)
        }
    }

    /// kill -9 of a master while events are published to every partition: with a replica
    /// acknowledgement (`WAIT 1`) every publish that returned is on the promoted replica;
    /// without one, what a failover loses is counted (printed, for BENCHMARKS.md).
    @Test(arguments: [true, false])
    func aMasterKilledUnderLoadLosesNoAcknowledgedEventWithAReplicaAcknowledgement(acknowledged: Bool) async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            let stream = uniqueStream("durable")
            let partitions = try StreamPartitions(count: 6)
            var configuration = EventPublisher.Configuration(streamName: { _ in stream }, partitions: partitions)
            // A short wait: once its master is gone a promoted replica has no replica of its own,
            // so its partitions' publishes fail (not confirmed) until the old master rejoins.
            if acknowledged { configuration.replicaAcknowledgement = ReplicaAcknowledgement(replicas: 1, timeout: .milliseconds(200)) }
            let publisher = EventPublisher(client: client, configuration: configuration)
            let victim = try await cluster.owner(ofSlot: RedisHashSlot.slot(of: partitions.streamKey(stream, partition: 0)))
            let killed = ManagedAtomicFlag()
            let progress = Mutex((before: 0, after: 0))
            let publishing = Task { () -> (acknowledged: [(String, StreamEntryID)], failed: Int) in
                var acknowledged: [(String, StreamEntryID)] = []
                var failed = 0
                var number = 0
                var afterKill = 0
                while afterKill < 150 {
                    number += 1
                    let event = TodoCreated(todoID: "todo-\(number % 60)", userID: "u", title: "t", priority: number)
                    let after = killed.isSet
                    do {
                        let id = try await publisher.publish(event)
                        acknowledged.append((publisher.stream(for: event), id))
                        progress.withLock { if after { $0.after += 1 } else { $0.before += 1 } }
                    } catch {
                        failed += 1
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    if after { afterKill += 1 }
                }
                return (acknowledged, failed)
            }
            // Publishes reach every master first.
            #expect(try await eventually { progress.withLock { $0.before } >= 100 })
            let promotion = try await cluster.waitForPromotion(afterKilling: victim)
            killed.set()
            let result = await publishing.value
            var missing = 0
            for (key, id) in result.acknowledged {
                let found = try await client.xrange(key, from: id.description, to: id.description)
                if found.isEmpty { missing += 1 }
            }
            print(
                "failover (\(acknowledged ? "WAIT 1" : "no WAIT")): \(result.acknowledged.count) publishes acknowledged, \(result.failed) failed, "
                    + "\(missing) acknowledged ones missing after promotion (\(promotion.elapsed) from kill to promoted)")
            if acknowledged { #expect(missing == 0) }
            // The other masters' partitions were written on through the failover.
            #expect(progress.withLock { $0.after } > 0)
        }
    }
}

/// A flag set once, read from any task.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
