import Foundation
import LocalRedisServer
import OrderEvents
import PaymentCards
import RedisClient
import TestSupport
import Testing

@testable import EventBus
@testable import EventStore
@testable import InventoryService
@testable import OrderService
@testable import PaymentService
@testable import Projections
@testable import SagaRuntime

/// Every Lua script of the project (`find Sources -name '*.lua'`, outside `includes/` folders,
/// whose files are fragments inlined into scripts) runs on a Redis Cluster (3 masters, 3
/// replicas) with streams in 6 partitions, through the API that owns it, and does what it is
/// for: each case asserts the script's effect, and that the script was run on the cluster
/// during the case (its SHA-1 is in a master's script cache, flushed before each case). So no
/// script touches keys of two slots (CROSSSLOT) or a key without its partition's tag.
///
/// `everyScriptOfSourcesHasACase` lists the `.lua` files of Sources: a script added without a
/// case here fails it.
@Suite("Every script on a Redis Cluster")
struct EveryScriptOnClusterTests {
    @Test func everyScriptOfSourcesHasACase() throws {
        let sources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var scripts: Set<String> = []
        for case let url as URL in enumerator where url.pathExtension == "lua" {
            let path = String(url.standardizedFileURL.path.dropFirst(sources.standardizedFileURL.path.count + 1))
            // Fragments inlined into the scripts (lua-embed's `--! include`), not scripts.
            if path.split(separator: "/").dropLast().contains("includes") { continue }
            scripts.insert(path)
        }
        #expect(scripts.count >= 24, "\(scripts.sorted())")
        let covered = ClusterScriptCases.all.map(\.file)
        #expect(Set(covered).count == covered.count, "a script with two cases")
        #expect(scripts.subtracting(covered).sorted() == [], "scripts of Sources without a case on a cluster")
        #expect(Set(covered).subtracting(scripts).sorted() == [], "cases of scripts that no longer exist")
        // Each case names the embedded script of its file (`<Module>/<path in the target>`).
        for scriptCase in ClusterScriptCases.all {
            #expect(scriptCase.file.hasSuffix("/" + scriptCase.script.name), "\(scriptCase.file): \(scriptCase.script.name)")
        }
    }

    @Test func everyScriptRunsThroughItsAPIOnAClusterWithPartitions() async throws {
        try await withRedis(.cluster) { target in
            let redis = try target.configuration()
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let context = ClusterScriptContext(target: target, redis: redis, client: client)
            #expect(context.partitions.count == 6)
            for scriptCase in ClusterScriptCases.all {
                let sha = SHA1.hex(Array(scriptCase.script.source.utf8))
                _ = try await client.sendToEveryMaster(RedisCommand("SCRIPT", "FLUSH", "SYNC"))
                let started = ContinuousClock.now
                do {
                    try await scriptCase.run(context)
                } catch {
                    Issue.record("\(scriptCase.file): \(error)")
                }
                let exists = try await client.sendToEveryMaster(RedisCommand("SCRIPT", "EXISTS", sha))
                let ran = exists.contains { $0.array?.first?.int == 1 }
                if scriptCase.runsOnCluster {
                    #expect(ran, "\(scriptCase.file) was not run on the cluster")
                } else {
                    #expect(!ran, "\(scriptCase.file) is single-node only, but was run on the cluster")
                }
                print("cluster script case \(scriptCase.file): \(ContinuousClock.now - started)")
            }
        }
    }
}

/// What a case gets: the cluster, a client routing over it, the partitions.
struct ClusterScriptContext: Sendable {
    let target: RedisTarget
    let redis: RedisConfiguration
    let client: RedisClient
    var partitions: StreamPartitions { target.partitions }

    /// A stream name unique to the case, and a publisher to its partitions.
    func stream(_ base: String) -> (String, EventPublisher) {
        let stream = "\(base)-\(UUID().uuidString.prefix(8))"
        return (stream, EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: partitions)))
    }

    /// A consumer configuration of the partitions of `stream`, quick to retry and reclaim.
    func consumer(
        _ stream: String, group: String = "g", name: String = "c", maxDeliveries: Int = 5, backoff: Duration = .milliseconds(150)
    ) -> EventConsumer.Configuration {
        var configuration = EventConsumer.Configuration(stream: stream, group: group, consumerName: name, startPosition: .beginning)
        configuration.partitions = partitions
        configuration.blockTimeout = .milliseconds(100)
        configuration.reclaimInterval = .milliseconds(40)
        configuration.retry = RetryPolicy(
            initialBackoff: backoff, multiplier: 2, maximumBackoff: .seconds(1), maxDeliveries: maxDeliveries)
        return configuration
    }

    /// Runs consumers while `body` runs, then stops them and waits until they returned.
    func running(
        _ consumers: [EventConsumer], _ body: () async throws -> Void
    ) async throws {
        let tasks = consumers.map { consumer in Task { try await consumer.run() } }
        do {
            try await body()
        } catch {
            for task in tasks { task.cancel() }
            for task in tasks { _ = await task.result }
            throw error
        }
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
    }

    /// Entries pending in `group` over every partition of `stream` (-1 while a group is missing).
    func pending(_ stream: String, _ group: String = "g") async throws -> Int {
        var total = 0
        for key in partitions.streamKeys(stream) {
            guard let reply = try? await client.send("XPENDING", key, group), let count = reply.array?.first?.int else { return -1 }
            total += count
        }
        return total
    }

    /// The dead letters of `group` over every partition of `stream`.
    func deadLetters(_ stream: String, _ group: String = "g") async throws -> [StreamEntry] {
        var letters: [StreamEntry] = []
        for key in partitions.streamKeys(stream) { letters += try await client.xrange(DeadLetter.streamKey(stream: key, group: group)) }
        return letters
    }
}

extension Sequence {
    /// The sum of `value` over the elements, in order.
    func asyncSum(_ value: (Element) async throws -> Int) async rethrows -> Int {
        var total = 0
        for element in self { total += try await value(element) }
        return total
    }
}

/// An event of the cases.
struct Ticked: DomainEvent, Equatable {
    static let eventType = "cluster.ticked"
    static let aggregateType = "ticker"
    var id: String
    var number: Int
    var aggregateID: String { id }
}

/// Records values from handler tasks.
actor Values<Value: Sendable> {
    private(set) var all: [Value] = []
    func append(_ value: Value) { all.append(value) }
    var count: Int { all.count }
}

struct CaseFailure: Error, CustomStringConvertible {
    let description: String
}

/// One script and how its case runs it through its API.
struct ClusterScriptCase: Sendable {
    /// The script's file under Sources.
    let file: String
    /// The embedded script (`LuaScripts.<name>` of its module, through its owner).
    let script: RedisScript
    /// False for a script that is single-node by design: the case asserts the cluster path
    /// instead, and that the script was not run.
    var runsOnCluster = true
    let run: @Sendable (ClusterScriptContext) async throws -> Void
}

enum ClusterScriptCases {
    static let all: [ClusterScriptCase] = eventBus + eventStore + projections + sagas + inventory + orders + payments

    // MARK: EventBus

    static let eventBus: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Framework/EventBus/Consuming/claim-pending.lua", script: PendingReclaimer.claimScript) { (context: ClusterScriptContext) async throws in
            // A consumer read every partition and died: another one claims its entries.
            let (stream, publisher) = context.stream("claim")
            for index in 0..<12 { try await publisher.publish(Ticked(id: "t\(index)", number: index)) }
            for key in context.partitions.streamKeys(stream) {
                _ = try await context.client.xgroupCreate(key, group: "g", startAt: "0")
                _ = try await context.client.send(RedisCommand("XREADGROUP", "GROUP", "g", "dead", "STREAMS", key, ">"))
            }
            #expect(try await context.pending(stream) == 12)
            let handled = Values<Int>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { await handled.append($0.deliveryCount) }
            try await context.running([try EventConsumer(redis: context.redis, configuration: context.consumer(stream), handlers: handlers)]) { () async throws -> Void in
                #expect(try await eventually { await handled.count == 12 })
                #expect(try await eventually { try await context.pending(stream) == 0 })
            }
            #expect(await handled.all.allSatisfy { $0 >= 2 })
        },
        ClusterScriptCase(file: "Framework/EventBus/Consuming/give-back-deliveries.lua", script: EventDispatcher.giveBackScript) { (context: ClusterScriptContext) async throws in
            // Another delivery's `running` lease outlasts 2 deliveries: the refused deliveries are
            // given back (not counted), and the effect runs once after the lease.
            let (stream, publisher) = context.stream("give-back")
            try await publisher.publish(Ticked(id: "t1", number: 1))
            let key = context.partitions.streamKey(stream, partitionKey: "t1")
            let eventID = try #require(try await context.client.xrange(key).first?.string(named: "event_id"))
            try await context.client.send(RedisCommand("SET", "fx:processed:\(eventID)", "running", "PX", "1500"))
            let guardian = IdempotencyGuard(client: context.client, group: "fx", window: .seconds(60), lease: .seconds(60))
            let effects = Values<Int>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { received in
                _ = try await guardian.once(received.envelope) { await effects.append(received.deliveryCount) }
            }
            let consumer = try EventConsumer(redis: context.redis, configuration: context.consumer(stream, maxDeliveries: 2), handlers: handlers)
            try await context.running([consumer]) { () async throws -> Void in
                #expect(try await eventually { await effects.count == 1 })
                #expect(try await eventually { try await context.pending(stream) == 0 })
            }
            #expect(try await context.deadLetters(stream).isEmpty)
        },
        ClusterScriptCase(file: "Framework/EventBus/Consuming/remove-idle-consumers.lua", script: PendingReclaimer.housekeepingScript) { (context: ClusterScriptContext) async throws in
            let (stream, _) = context.stream("idle")
            let key = context.partitions.streamKey(stream, partition: 3)
            _ = try await context.client.xgroupCreate(key, group: "g", startAt: "0")
            try await context.client.send("XGROUP", "CREATECONSUMER", key, "g", "gone")
            var configuration = context.consumer(stream)
            configuration.removeIdleConsumersAfter = .milliseconds(200)
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { _ in }
            try await context.running([try EventConsumer(redis: context.redis, configuration: configuration, handlers: handlers)]) { () async throws -> Void in
                #expect(try await eventually {
                    let consumers = try await context.client.send("XINFO", "CONSUMERS", key, "g").array ?? []
                    return !consumers.contains { $0.array?[1].string == "gone" }
                })
            }
        },
        ClusterScriptCase(file: "Framework/EventBus/Consuming/renew-claims.lua", script: PendingReclaimer.renewScript) { (context: ClusterScriptContext) async throws in
            // A handler runs 1.5 s, five times the retry backoff: its consumer renews its claim,
            // so the other consumer of the group never takes the entry.
            let (stream, publisher) = context.stream("renew")
            let deliveries = Values<Int>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { received in
                await deliveries.append(received.deliveryCount)
                try await Task.sleep(for: .milliseconds(1500))
            }
            var consumers: [EventConsumer] = []
            for name in ["a", "b"] {
                var configuration = context.consumer(stream, name: name, maxDeliveries: 10, backoff: .milliseconds(300))
                configuration.handlerTimeout = .seconds(60)
                consumers.append(try EventConsumer(redis: context.redis, configuration: configuration, handlers: handlers))
            }
            try await context.running(consumers) { () async throws -> Void in
                try await publisher.publish(Ticked(id: "t1", number: 1))
                #expect(try await eventually {
                    let started = await deliveries.count
                    return try await context.pending(stream) == 0 && started >= 1
                })
            }
            #expect(await deliveries.all == [1], "the other consumer took the entry")
        },
        ClusterScriptCase(file: "Framework/EventBus/DeadLetters/write-dead-letters.lua", script: DeadLetterWriter.script) { (context: ClusterScriptContext) async throws in
            let (stream, publisher) = context.stream("dead")
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { _ in throw CaseFailure(description: "always fails") }
            let consumer = try EventConsumer(redis: context.redis, configuration: context.consumer(stream, maxDeliveries: 2), handlers: handlers)
            try await context.running([consumer]) { () async throws -> Void in
                try await publisher.publish(Ticked(id: "t1", number: 1))
                #expect(try await eventually { try await context.deadLetters(stream).count == 1 })
                #expect(try await eventually { try await context.pending(stream) == 0 })
            }
            let partition = context.partitions.streamKey(stream, partitionKey: "t1")
            let letter = try #require(try await context.client.xrange(DeadLetter.streamKey(stream: partition, group: "g")).first)
            #expect(letter.string(named: "dlq_reason") == "max_deliveries" && letter.string(named: "dlq_stream") == partition)
        },
        ClusterScriptCase(file: "Framework/EventBus/Idempotency/commit-batch.lua", script: BatchedEventTransaction.script) { (context: ClusterScriptContext) async throws in
            try await transactionalCase(context, commit: .perBatch)
        },
        ClusterScriptCase(file: "Framework/EventBus/Idempotency/commit-event.lua", script: ProcessedEventTransaction.script) { (context: ClusterScriptContext) async throws in
            try await transactionalCase(context, commit: .perEvent)
        },
        ClusterScriptCase(file: "Framework/EventBus/Operations/replay-dead-letter.lua", script: DeadLetterStore.replayScript) { (context: ClusterScriptContext) async throws in
            let (stream, publisher) = context.stream("replay")
            let broken = Values<Bool>()
            let handled = Values<String>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { received in
                if await broken.count == 0 { throw CaseFailure(description: "bug") }
                await handled.append(received.event.id)
            }
            let consumer = try EventConsumer(redis: context.redis, configuration: context.consumer(stream, maxDeliveries: 1), handlers: handlers)
            try await context.running([consumer]) { () async throws -> Void in
                for index in 0..<3 { try await publisher.publish(Ticked(id: "t\(index)", number: index)) }
                #expect(try await eventually { try await context.deadLetters(stream).count == 3 })
                await broken.append(false)  // fixed
                let report = try await DeadLetterStore(client: context.client).replay(
                    stream: stream, group: "g", partitions: context.partitions, selection: .all)
                #expect(report.replayed.count == 3 && report.skipped.isEmpty, "\(report)")
                #expect(try await eventually { await handled.count == 3 })
            }
            #expect(try await context.deadLetters(stream).isEmpty)
            for todo in ["t0", "t1", "t2"] {
                let entries = try await context.client.xrange(context.partitions.streamKey(stream, partitionKey: todo))
                #expect(entries.contains { $0.value(named: DeadLetter.replayedFromField) != nil && $0.string(named: "aggregate_id") == todo })
            }
        },
        ClusterScriptCase(file: "Framework/EventBus/Partitioning/partition-ownership.lua", script: PartitionOwnership.script) { (context: ClusterScriptContext) async throws in
            let (stream, publisher) = context.stream("owned")
            var configuration = context.consumer(stream)
            configuration.ordering = .partitionOwnership(PartitionLeases(leaseDuration: .seconds(3), heartbeatInterval: .milliseconds(100)))
            let handled = Values<String>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { await handled.append($0.event.id) }
            try await context.running([try EventConsumer(redis: context.redis, configuration: configuration, handlers: handlers)]) { () async throws -> Void in
                for index in 0..<24 { try await publisher.publish(Ticked(id: "t\(index)", number: index)) }
                #expect(try await eventually { await handled.count == 24 })
                // The one consumer holds the lease of every partition.
                let owners = try await context.client.hgetall(PartitionOwnership.ownersKey(stream: stream, group: "g"))
                #expect((0..<6).allSatisfy { owners["lease:\($0)"]?.hasPrefix("c|") == true }, "\(owners)")
            }
        },
        ClusterScriptCase(file: "Framework/EventBus/Retention/trim-safely.lua", script: StreamRetention.safeTrimScript) { (context: ClusterScriptContext) async throws in
            let (stream, publisher) = context.stream("trim")
            let handled = Values<String>()
            var handlers = EventHandlers()
            handlers.on(Ticked.self) { await handled.append($0.event.id) }
            try await context.running([try EventConsumer(redis: context.redis, configuration: context.consumer(stream), handlers: handlers)]) { () async throws -> Void in
                for index in 0..<12 { try await publisher.publish(Ticked(id: "t\(index)", number: index)) }
                #expect(try await eventually { await handled.count == 12 })
                #expect(try await eventually { try await context.pending(stream) == 0 })
            }
            var removed = 0
            for key in context.partitions.streamKeys(stream) {
                removed += try await StreamRetention(client: context.client).trimSafely(stream: key).removed
            }
            // Every entry was handled by the only group: none is needed any more.
            #expect(removed == 12)
        },
    ]

    /// Transactional writes in the event's partition's slot, applied once per event though
    /// every event is delivered twice (its entry copied).
    static func transactionalCase(_ context: ClusterScriptContext, commit: TransactionalCommit) async throws {
        let (stream, publisher) = context.stream("tx")
        var handlers = EventHandlers()
        handlers.onTransactional(Ticked.self, commit: commit) { received in
            [RedisCommand("INCR", StreamPartitions.colocatedKey("\(stream):count", received.event.id, with: received.stream))]
        }
        try await publisher.publish((0..<12).map { Ticked(id: "t\($0)", number: $0) })
        for key in context.partitions.streamKeys(stream) {
            for entry in try await context.client.xrange(key) {
                try await context.client.xadd(key, fields: entry.fields.map { ($0.name, $0.value) })
            }
        }
        let keys = (0..<12).map { index in
            let id = "t\(index)"
            return StreamPartitions.colocatedKey("\(stream):count", id, with: context.partitions.streamKey(stream, partitionKey: id))
        }
        func counts() async throws -> [Int] {
            var counts: [Int] = []
            for key in keys { counts.append(try await context.client.send("GET", key).int ?? 0) }
            return counts
        }
        let consumer = try EventConsumer(redis: context.redis, configuration: context.consumer(stream), handlers: handlers)
        try await context.running([consumer]) { () async throws -> Void in
            // Every copy read and settled (24 entries), each event applied once.
            #expect(try await eventually {
                let read = try await context.partitions.streamKeys(stream).asyncSum { key in
                    try await context.client.send("XINFO", "GROUPS", key).array?.first?.array.flatMap { fields in
                        fields.firstIndex { $0.string == "entries-read" }.map { fields[$0 + 1].int ?? 0 }
                    } ?? 0
                }
                return read == 24
            })
            #expect(try await eventually { try await context.pending(stream) == 0 })
        }
        #expect(try await counts() == Array(repeating: 1, count: 12))
    }

    // MARK: EventStore

    static func noteStore(_ context: ClusterScriptContext) -> EventStore {
        let publisher = EventPublisher(client: context.client, configuration: .init(partitions: context.partitions))
        return EventStore(aggregateType: "ticker", client: context.client, publisher: publisher)
    }

    static let eventStore: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Framework/EventStore/append-events.lua", script: EventStore.appendScript) { (context: ClusterScriptContext) async throws in
            let store = noteStore(context)
            #expect(try await store.append([Ticked(id: "n1", number: 1), Ticked(id: "n1", number: 2)], to: "n1", expectedVersion: 0) == 2)
            await #expect(throws: EventStoreError.conflict(expected: 0, actual: 2)) {
                try await store.append([Ticked(id: "n1", number: 3)], to: "n1", expectedVersion: 0)
            }
            #expect(try await store.load("n1").events.map(\.version) == [1, 2])
            let typeStream = store.keys.typeStream(for: "n1")
            #expect(typeStream.hasPrefix("ticker-events:{"))
            #expect(try await context.client.xlen(typeStream) == 2)
        },
        ClusterScriptCase(file: "Framework/EventStore/save-snapshot.lua", script: EventStore.snapshotScript) { (context: ClusterScriptContext) async throws in
            let store = noteStore(context)
            try await store.append((1...4).map { Ticked(id: "n2", number: $0) }, to: "n2", expectedVersion: 0)
            try await store.save(EventStore.Snapshot(version: 3, schemaVersion: 1, state: Array("{}".utf8)), of: "n2")
            let loaded = try await store.load("n2", snapshotSchemaVersion: 1)
            #expect(loaded.snapshot?.version == 3 && loaded.events.map(\.version) == [4])
        },
    ]

    // MARK: Projections

    static let projections: [ClusterScriptCase] = [
        // Single node only by design: one script cannot see every master of a cluster, so on a
        // cluster the rebuild deletes the read model node by node (`deleteKeys`: SCAN and
        // UNLINK), with the projection's consumers stopped (README, "Projections"). The case
        // asserts that path: the read model is gone and the script was never run.
        ClusterScriptCase(file: "Framework/Projections/reset-read-model.lua", script: ProjectionRebuilder.resetScript, runsOnCluster: false) { (context: ClusterScriptContext) async throws in
            #expect(context.client.isClustered)
            let (stream, _) = context.stream("projected")
            let projection = Projection(
                name: "counter", stream: stream, keyPrefix: "counter:", aggregateType: "ticker", handlers: EventHandlers(),
                partitions: context.partitions)
            // A read model on every master, and processed markers.
            let keys = (0..<6).map { "counter:{\(context.partitions.tags[$0])}:n" } + ["counter:processed:{x}:e1"]
            for key in keys { try await context.client.send("SET", key, "1") }
            let report = try await ProjectionRebuilder(projection: projection, client: context.client).rebuild()
            #expect(report.deletedKeys == keys.count)
            for key in keys { #expect(try await context.client.send("EXISTS", key).int == 0, "\(key)") }
        },
    ]

    // MARK: SagaRuntime

    static let saga = SagaDefinition(
        name: "ship",
        steps: [
            SagaStep(
                name: "pack", command: "packing.pack", commandStream: "packing-commands", successReplies: ["packing.packed"],
                failureReplies: [], timeout: .seconds(5), compensation: nil)
        ])

    /// Starts saga `id`: its first command to the partition of `id` of `packing-commands`.
    static func startSaga(_ id: String, in store: SagaStore) async throws -> SagaStore.CommitResult {
        let state = SagaState(id: id)
        guard case .changed(let changed, let effects) = saga.transition(state, on: .start) else {
            throw CaseFailure(description: "the saga did not start")
        }
        let next = saga.recording(.start, from: state, to: changed, effects: effects, at: 1_000_000)
        let commands = effects.commands.map { command in
            let stream = store.partitions.streamKey(command.stream, partitionKey: id)
            var xadd = RedisCommand.xadd(stream, approximateMaxLength: nil)
            for field in ["event_type", command.type, "saga_id", id] { xadd.append(field) }
            return (stream: stream, xadd: xadd)
        }
        return try await store.commit(next, expectedVersion: 0, commands: commands, deadline: effects.deadline, event: "start")
    }

    static let sagas: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Framework/SagaRuntime/commit-saga.lua", script: SagaStore.commitScript) { (context: ClusterScriptContext) async throws in
            let store = SagaStore(type: "ship", client: context.client, partitions: context.partitions)
            for id in ["s1", "s2", "s3", "s4"] { #expect(try await startSaga(id, in: store) == .committed) }
            #expect(try await startSaga("s1", in: store) == .conflict)
            for id in ["s1", "s2", "s3", "s4"] {
                #expect(try await store.load(id)?.version == 1)
                let commands = try await context.client.xrange(context.partitions.streamKey("packing-commands", partitionKey: id))
                #expect(commands.map { $0.string(named: "saga_id") } == [id])
                #expect(try await context.client.send("ZSCORE", store.keys(for: id).deadlines, "\(id):0:1").string == "1005000")
            }
            #expect(Set(["s1", "s2", "s3", "s4"].map { context.partitions.partition(of: $0) }).count > 1, "sagas on several partitions")
        },
        ClusterScriptCase(file: "Framework/SagaRuntime/park-deadline.lua", script: SagaStore.parkScript) { (context: ClusterScriptContext) async throws in
            let store = SagaStore(type: "ship-park", client: context.client, partitions: context.partitions)
            _ = try await startSaga("p1", in: store)
            #expect(try await store.parkDeadline("p1:0:1", error: "cannot run", nowMilliseconds: 1_005_001))
            #expect(try await store.parkedDeadlines().map(\.member) == ["p1:0:1"])
            #expect(try await store.dueDeadlines(nowMilliseconds: 2_000_000, limit: 10).isEmpty)
        },
        ClusterScriptCase(file: "Framework/SagaRuntime/retry-parked-deadlines.lua", script: SagaStore.retryParkedScript) { (context: ClusterScriptContext) async throws in
            let store = SagaStore(type: "ship-retry", client: context.client, partitions: context.partitions)
            _ = try await startSaga("r1", in: store)
            // Parked directly (park-deadline.lua has its own case).
            let keys = store.keys(for: "r1")
            try await context.client.send("ZREM", keys.deadlines, "r1:0:1")
            try await context.client.send("HSET", keys.parkedDeadlines, "r1:0:1", #"{"error":"x","due_at_ms":1005000,"parked_at_ms":1005001}"#)
            #expect(try await store.retryParkedDeadlines(nowMilliseconds: 1_006_000) == 1)
            #expect(try await store.parkedDeadlineCount() == 0)
            #expect(try await store.dueDeadlines(nowMilliseconds: 1_006_000, limit: 10) == ["r1:0:1"])
        },
    ]

    // MARK: Services

    static let inventory: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Services/inventory-service/InventoryService/seed-stock.lua", script: InventoryStore.seedScript) { (context: ClusterScriptContext) async throws in
            let store = InventoryStore(client: context.client, clusterLayout: true)
            let seed = InventorySeed(entries: [.init(sku: "apple", available: 10), .init(sku: "pear", available: 5)])
            #expect(try await store.seed(seed).sorted() == ["apple", "pear"])
            #expect(try await store.seed(seed).isEmpty)
            #expect(try await store.stock(sku: "pear") == Stock(sku: "pear", available: 5, reserved: 0, sold: 0))
        },
        ClusterScriptCase(file: "Services/inventory-service/InventoryService/reserve-stock.lua", script: InventoryStore.reserveScript) { (context: ClusterScriptContext) async throws in
            let store = InventoryStore(client: context.client, clusterLayout: true)
            try await seedDirectly(store, context, ["kiwi": 10, "plum": 3])
            let items = [OrderItem(sku: "kiwi", quantity: 2), OrderItem(sku: "plum", quantity: 3)]
            #expect(try await store.reserve(orderID: "o1", items: items) == .reserved(items))
            #expect(try await store.stock(sku: "plum") == Stock(sku: "plum", available: 0, reserved: 3, sold: 0))
        },
        ClusterScriptCase(file: "Services/inventory-service/InventoryService/release-stock.lua", script: InventoryStore.releaseScript) { (context: ClusterScriptContext) async throws in
            let store = InventoryStore(client: context.client, clusterLayout: true)
            try await seedDirectly(store, context, ["fig": 4])
            try await reserveDirectly(store, context, order: "o2", ["fig": 3])
            #expect(try await store.release(orderID: "o2") == [OrderItem(sku: "fig", quantity: 3)])
            #expect(try await store.stock(sku: "fig") == Stock(sku: "fig", available: 4, reserved: 0, sold: 0))
        },
        ClusterScriptCase(file: "Services/inventory-service/InventoryService/sell-stock.lua", script: InventoryStore.sellScript) { (context: ClusterScriptContext) async throws in
            let store = InventoryStore(client: context.client, clusterLayout: true)
            try await seedDirectly(store, context, ["lime": 4])
            try await reserveDirectly(store, context, order: "o3", ["lime": 1])
            #expect(try await store.confirmSale(orderID: "o3") == .sold)
            #expect(try await store.stock(sku: "lime") == Stock(sku: "lime", available: 3, reserved: 0, sold: 1))
        },
    ]

    /// Stock written with plain commands (seed-stock.lua has its own case).
    static func seedDirectly(_ store: InventoryStore, _ context: ClusterScriptContext, _ stock: [String: Int]) async throws {
        for (sku, available) in stock {
            try await context.client.send("HSET", store.stockKey(sku), "available", "\(available)", "reserved", "0", "sold", "0")
        }
    }

    /// A reservation written with plain commands (reserve-stock.lua has its own case).
    static func reserveDirectly(
        _ store: InventoryStore, _ context: ClusterScriptContext, order: String, _ items: [String: Int]
    ) async throws {
        let json = "[" + items.sorted { $0.key < $1.key }.map { #"{"quantity":\#($0.value),"sku":"\#($0.key)"}"# }.joined(separator: ",") + "]"
        try await context.client.send("HSET", store.reservationKey(order), "status", "reserved", "items", json)
        for (sku, quantity) in items {
            try await context.client.send("HINCRBY", store.stockKey(sku), "available", "\(-quantity)")
            try await context.client.send("HINCRBY", store.stockKey(sku), "reserved", "\(quantity)")
        }
    }

    static func orderStore(_ context: ClusterScriptContext) -> OrderStore {
        OrderStore(
            client: context.client, cardKey: PaymentCardOpeningKey.generate().sealingKey,
            publishing: .init(partitions: context.partitions))
    }

    static let orders: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Services/order-service/OrderService/create-order.lua", script: OrderStore.createScript) { (context: ClusterScriptContext) async throws in
            let store = orderStore(context)
            let request = ValidOrderRequest(userID: "u1", items: [OrderItem(sku: "kiwi", quantity: 1)], amountCents: 500, card: "4242424242424242")
            // With an idempotency key: the order, its event and the key's record in one slot.
            guard case .created(let order) = try await store.create(request, idempotencyKey: "key-1", context: EventContext()) else {
                throw CaseFailure(description: "no order created")
            }
            #expect(try await store.create(request, idempotencyKey: "key-1", context: EventContext()) == .existing(id: order.id))
            let stream = context.partitions.streamKey(OrderStreams.orderEvents, partitionKey: order.id)
            #expect(try await context.client.xrange(stream).map { $0.string(named: "aggregate_id") } == [order.id])
            #expect(try await store.find(order.id)?.status == .pending)
            // Without one: any partition.
            guard case .created(let other) = try await store.create(request, idempotencyKey: nil, context: EventContext()) else {
                throw CaseFailure(description: "no order created")
            }
            #expect(try await store.find(other.id)?.userID == "u1")
        },
        ClusterScriptCase(file: "Services/order-service/OrderService/transition-order.lua", script: OrderStore.transitionScript) { (context: ClusterScriptContext) async throws in
            let store = orderStore(context)
            let request = ValidOrderRequest(userID: "u2", items: [OrderItem(sku: "fig", quantity: 1)], amountCents: 700, card: "4242424242424242")
            guard case .created(let order) = try await store.create(request, idempotencyKey: nil, context: EventContext()) else {
                throw CaseFailure(description: "no order created")
            }
            let confirmed = try await store.confirm(order.id)
            #expect(confirmed.changed && confirmed.order.status == .confirmed)
            #expect(try await store.confirm(order.id).changed == false)
            let cancelled = try await store.cancel(order.id, reason: "changed my mind")
            #expect(cancelled.changed && cancelled.order.status == .cancelled)
        },
    ]

    static let payments: [ClusterScriptCase] = [
        ClusterScriptCase(file: "Services/payment-service/PaymentService/charge-payment.lua", script: PaymentStore.chargeScript) { (context: ClusterScriptContext) async throws in
            let store = PaymentStore(client: context.client)
            #expect(try await store.charge(orderID: "o1", amountCents: 500, decision: .charge) == .charged(amountCents: 500))
            #expect(try await store.charge(orderID: "o2", amountCents: 500, decision: .decline(reason: "card_declined")) == .declined(reason: "card_declined"))
            #expect(try await store.payment(orderID: "o1")?.status == "charged")
        },
        ClusterScriptCase(file: "Services/payment-service/PaymentService/refund-payment.lua", script: PaymentStore.refundScript) { (context: ClusterScriptContext) async throws in
            let store = PaymentStore(client: context.client)
            try await context.client.send("HSET", PaymentStore.key("o3"), "status", "charged", "charged_cents", "900", "refunded_cents", "0", "reason", "")
            #expect(try await store.refund(orderID: "o3") == 900)
            #expect(try await store.refund(orderID: "o3") == 900)
            #expect(try await store.payment(orderID: "o3")?.refundedCents == 900)
        },
    ]
}

/// SHA-1 (FIPS 180-4), for the script cache's `SCRIPT EXISTS <sha1 of the source>`.
enum SHA1 {
    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var bytes = message
        let bitLength = UInt64(message.count) * 8
        bytes.append(0x80)
        while bytes.count % 64 != 56 { bytes.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        for chunk in stride(from: 0, to: bytes.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 80)
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(bytes[b]) << 24 | UInt32(bytes[b + 1]) << 16 | UInt32(bytes[b + 2]) << 8 | UInt32(bytes[b + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32) =
                    switch i {
                    case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                    case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                    case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                    default: (b ^ c ^ d, 0xCA62_C1D6)
                    }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
            }
            h[0] = h[0] &+ a
            h[1] = h[1] &+ b
            h[2] = h[2] &+ c
            h[3] = h[3] &+ d
            h[4] = h[4] &+ e
        }
        return h.map { word in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 8 - text.count) + text
        }.joined()
    }
}
