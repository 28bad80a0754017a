@testable import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Testing
import TestSupport

@Suite("Partitioned streams: the partition function, keys, publishing, shared and owned reading")
struct PartitionTests {
    // MARK: The partition function (part of the key layout: these values must never change)

    @Test func partitionsAreStableAcrossVersions() throws {
        // Computed independently (FNV-1a 64 and jump consistent hash, in Python); a change
        // here would move events of existing aggregates to other partitions.
        let keys = ["todo-1", "order-42", "", "user-7"]
        #expect(keys.map { try! StreamPartitions(count: 4).partition(of: $0) } == [1, 0, 1, 0])
        #expect(keys.map { try! StreamPartitions(count: 6).partition(of: $0) } == [1, 4, 1, 0])
        #expect(keys.map { try! StreamPartitions(count: 12).partition(of: $0) } == [6, 7, 10, 8])
        #expect(try StreamPartitions(count: 6).tags == ["p0.1", "p1.3", "p2", "p3.11", "p4.20", "p5.4"])
        #expect(try StreamPartitions(count: 3).tags == ["p0.1", "p1.4", "p2.4"])
    }

    @Test func keysKeepTheirNamesWithOnePartitionAndCarryTheTagWithMore() throws {
        #expect(StreamPartitions.single.streamKeys("todo-events") == ["todo-events"])
        #expect(StreamPartitions.single.streamKey("todo-events", partitionKey: "x") == "todo-events")
        let six = try StreamPartitions(count: 6)
        #expect(six.streamKey("todo-events", partition: 2) == "todo-events:{p2}")
        #expect(six.parse("todo-events:{p3.11}")! == ("todo-events", 3))
        #expect(six.parse("todo-events") == nil)
        #expect(StreamPartitions.colocatedKey("g:processed", "e1", with: "todo-events:{p2}") == "g:processed:{p2}:e1")
        #expect(StreamPartitions.colocatedKey("g:processed", "e1", with: "es:todo-events:{p2}:t1") == "g:processed:{p2}:e1")
        #expect(StreamPartitions.colocatedKey("g:processed", "e1", with: "todo-events") == "g:processed:{todo-events}:e1")
        #expect(StreamPartitions.colocatedKey("g:processed", "e1", with: "es:{todo-events}:t1") == "g:processed:{todo-events}:e1")
        #expect(
            RedisHashSlot.slot(of: StreamPartitions.colocatedKey("g:processed", "e1", with: "todo-events"))
                == RedisHashSlot.slot(of: "todo-events"))
        // Partition i of every stream shares one slot, and the dead letters go with it.
        for partition in 0..<6 {
            let slot = RedisHashSlot.slot(of: six.streamKey("todo-events", partition: partition))
            #expect(RedisHashSlot.slot(of: six.streamKey("order-commands", partition: partition)) == slot)
            #expect(
                RedisHashSlot.slot(
                    of: DeadLetter.streamKey(stream: six.streamKey("todo-events", partition: partition), group: "g")) == slot)
        }
        #expect(throws: EventBusError.self) { try StreamPartitions(count: 0) }
        #expect(throws: EventBusError.self) { try StreamPartitions(count: 16385) }
    }

    @Test func tagsSpreadPartitionsEvenlyOverSlotRangesAndKeysEvenlyOverPartitions() throws {
        for count in [2, 3, 6, 12, 64] {
            let partitions = try StreamPartitions(count: count)
            for (index, tag) in partitions.tags.enumerated() {
                let slot = RedisHashSlot.slot(of: tag)
                #expect(slot >= index * 16384 / count && slot < (index + 1) * 16384 / count, "\(tag) of \(count)")
            }
        }
        // Three masters with equal slot ranges get two partitions each out of six.
        let six = try StreamPartitions(count: 6)
        let masters = six.tags.map { RedisHashSlot.slot(of: $0) * 3 / 16384 }
        #expect(masters == [0, 0, 1, 1, 2, 2])
        var counts = [Int](repeating: 0, count: 6)
        for index in 0..<60_000 { counts[six.partition(of: "order-\(index)")] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 600 }, "\(counts)")
        // Growing from 6 to 7 partitions moves about a seventh of the keys, all to the new one.
        let seven = try StreamPartitions(count: 7)
        var moved = 0
        for index in 0..<7000 where six.partition(of: "k\(index)") != seven.partition(of: "k\(index)") {
            moved += 1
            #expect(seven.partition(of: "k\(index)") == 6)
        }
        #expect(moved > 700 && moved < 1300, "\(moved)")
    }

    // MARK: Publishing and reading

    @Test func eventsOfOneAggregateGoToOnePartitionInOrderAndASharedGroupGetsThemAll() async throws {
        try await withPartitionedFixture("parts") { fixture in
            let (redis, client, stream, partitions, publisher) =
                (fixture.redis, fixture.client, fixture.stream, fixture.partitions, fixture.publisher)
            var events: [TodoCreated] = []
            for index in 0..<200 { events.append(makeTodo(index, aggregate: "todo-\(index % 20)")) }
            for event in events.prefix(100) { try await publisher.publish(event) }
            try await publisher.publish(Array(events.dropFirst(100)))

            var total = 0
            for partition in 0..<4 {
                let key = partitions.streamKey(stream, partition: partition)
                let entries = try await client.xrange(key)
                total += entries.count
                for entry in entries {
                    let aggregate = try #require(entry.string(named: "aggregate_id"))
                    #expect(partitions.partition(of: aggregate) == partition)
                }
                // Within a partition an aggregate's events keep their publish order.
                let titles = entries.compactMap { $0.string(named: "data") }
                let numbers = titles.compactMap { data -> Int? in
                    guard let range = data.range(of: #"Task (\d+)"#, options: .regularExpression) else { return nil }
                    return Int(data[range].dropFirst(5))
                }
                var last: [Int: Int] = [:]
                for number in numbers {
                    #expect(number > last[number % 20, default: -1])
                    last[number % 20] = number
                }
            }
            #expect(total == 200)
            #expect(try await client.send("EXISTS", stream).int == 0)  // nothing on the plain name

            var configuration = EventConsumer.Configuration(stream: stream, group: "g", startPosition: .beginning)
            configuration.partitions = partitions
            configuration.blockTimeout = .milliseconds(100)
            let handled = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { await handled.append($0.event.title) }
            let task = start(try EventConsumer(redis: redis, configuration: configuration, handlers: handlers))
            #expect(try await eventually { await handled.count == 200 })
            await stop([task])
            #expect(Set(await handled.values).count == 200)
            for key in partitions.streamKeys(stream) { #expect(try await pendingCount(client, key, "g") == 0) }
        }
    }

    /// Two consumers of an ordered group: each reads its share of the partitions, never both
    /// the same one; when one stops the other takes its partitions over at once, and each
    /// aggregate's events are handled in order, once.
    @Test func anOrderedGroupSplitsThePartitionsAndHandsThemOverWhenAConsumerStops() async throws {
        try await withPartitionedFixture("owned") { fixture in
            let (redis, client, stream, partitions, publisher) =
                (fixture.redis, fixture.client, fixture.stream, fixture.partitions, fixture.publisher)
            let handled = Recorder<(consumer: String, partition: Int, aggregate: String, number: Int)>()
            func consumer(_ name: String) throws -> EventConsumer {
                var configuration = EventConsumer.Configuration(
                    stream: stream, group: "g", consumerName: name, startPosition: .beginning)
                configuration.partitions = partitions
                configuration.blockTimeout = .milliseconds(100)
                // Hand-overs here are graceful (released, then taken at the next beat); a lease
                // long enough that a loaded run stalling a heartbeat for seconds never expires one
                // (with 3 s, b once took an even partition from a stalled a: correct, not this test).
                configuration.ordering = .partitionOwnership(
                    PartitionLeases(leaseDuration: .seconds(60), heartbeatInterval: .milliseconds(100)))
                var handlers = EventHandlers()
                handlers.on(TodoCreated.self) { received in
                    let partition = partitions.parse(received.stream)?.partition ?? -1
                    await handled.append((name, partition, received.event.todoID, received.event.priority))
                }
                return try EventConsumer(redis: redis, configuration: configuration, handlers: handlers)
            }
            let a = start(try consumer("a"))
            let b = start(try consumer("b"))
            // Sorted members a, b: a owns 0 and 2, b owns 1 and 3 (once a released them).
            let owners = PartitionOwnership.ownersKey(stream: stream, group: "g")
            #expect(
                try await eventually {
                    let fields = try await client.hgetall(owners)
                    return (0..<4).map { fields["lease:\($0)"]?.split(separator: "|").first.map(String.init) }
                        == ["a", "b", "a", "b"]
                })
            var number = 0
            func publishRound() async throws {
                for aggregate in 0..<12 {
                    number += 1
                    try await publisher.publish(
                        TodoCreated(todoID: "todo-\(aggregate)", userID: "u", title: "t", priority: number))
                }
            }
            for _ in 0..<10 { try await publishRound() }
            #expect(try await eventually { await handled.count == 120 })
            for entry in await handled.values {
                #expect(entry.consumer == (entry.partition % 2 == 0 ? "a" : "b"), "\(entry)")
            }
            // b stops (gracefully): it gives its partitions up and a takes them at its next beat.
            await stop([b])
            #expect(
                try await eventually {
                    let fields = try await client.hgetall(owners)
                    return (0..<4).allSatisfy { fields["lease:\($0)"]?.hasPrefix("a|") == true }
                })
            for _ in 0..<10 { try await publishRound() }
            #expect(try await eventually { await handled.count == 240 })
            await stop([a])
            let values = await handled.values
            #expect(values.suffix(120).allSatisfy { $0.consumer == "a" })
            var last: [String: Int] = [:]
            for entry in values {
                #expect(entry.number > last[entry.aggregate, default: 0], "\(entry) after \(last[entry.aggregate] ?? 0)")
                last[entry.aggregate] = entry.number
            }
            // a left too: nothing is owned any more.
            let fields = try await client.hgetall(owners)
            #expect(fields.isEmpty, "\(fields)")
        }
    }

    /// A consumer restarted under its name finds leases of its earlier life, some of them now
    /// assigned to another member: it reads the ones still its own (taking over what is
    /// pending) and gives the others up, so no partition stays held and unread.
    @Test func leasesLeftByAnEarlierLifeAreReadOrGivenUp() async throws {
        try await withPartitionedFixture("relife") { fixture in
            let (redis, client, stream, partitions, publisher) =
                (fixture.redis, fixture.client, fixture.stream, fixture.partitions, fixture.publisher)
            let owners = PartitionOwnership.ownersKey(stream: stream, group: "g")
            // b's earlier life took every partition, with a long lease, and died.
            _ = try await client.run(PartitionOwnership.script, keys: [owners], as: PartitionOwnershipReply.self) { command in
                command.append("b")
                command.append(60_000)
                command.append(4)
                command.append("beat")
            }
            let handled = Recorder<String>()
            func consumer(_ name: String) throws -> EventConsumer {
                var configuration = EventConsumer.Configuration(
                    stream: stream, group: "g", consumerName: name, startPosition: .beginning)
                configuration.partitions = partitions
                configuration.blockTimeout = .milliseconds(100)
                configuration.ordering = .partitionOwnership(
                    PartitionLeases(leaseDuration: .seconds(60), heartbeatInterval: .milliseconds(100)))
                var handlers = EventHandlers()
                handlers.on(TodoCreated.self) { await handled.append("\(name):\($0.event.todoID)") }
                return try EventConsumer(redis: redis, configuration: configuration, handlers: handlers)
            }
            let tasks = [start(try consumer("a")), start(try consumer("b"))]
            for index in 0..<40 { try await publisher.publish(makeTodo(index, aggregate: "todo-\(index)")) }
            // Every partition is read (a's within its heartbeats, not after b's minute-long lease).
            #expect(try await eventually(timeout: .seconds(20)) { await handled.count == 40 })
            let fields = try await client.hgetall(owners)
            #expect((0..<4).map { fields["lease:\($0)"]?.split(separator: "|").first.map(String.init) } == ["a", "b", "a", "b"])
            await stop(tasks)
        }
    }

    /// A private server, a stream of 4 partitions and a publisher writing to it.
    struct PartitionedFixture {
        let redis: RedisConfiguration
        let client: RedisClient
        let stream: String
        let partitions: StreamPartitions
        let publisher: EventPublisher
    }

    func withPartitionedFixture(_ name: String, _ body: (PartitionedFixture) async throws -> Void) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let stream = uniqueStream(name)
            let partitions = try StreamPartitions(count: 4)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: partitions))
            try await body(PartitionedFixture(redis: redis, client: client, stream: stream, partitions: partitions, publisher: publisher))
        }
    }
}
