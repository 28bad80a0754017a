import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// The built `streamsctl` on a real Redis Cluster (3 masters, 3 replicas), given the
/// cluster's multi-node URL: a stream of 6 partitions spread over the masters, two per master.
@Suite("streamsctl on a Redis Cluster", .serialized)
struct StreamsCtlClusterTests {
    @Test("streams, groups, pending, dlq list and replay, and trace see every master")
    func operatorCommandsOnACluster() async throws {
        try await withLocalRedisCluster { cluster in
            let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url))
            defer { client.close() }
            let url = cluster.url
            let layout = try StreamPartitions(count: 6)
            let stream = uniqueStream("todo-events")
            let keys = layout.streamKeys(stream)
            // Partitions 2i and 2i + 1 on master i.
            #expect(keys.map { RedisHashSlot.slot(of: $0) * 3 / RedisHashSlot.count } == [0, 0, 1, 1, 2, 2])

            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, partitions: layout))
            for ids in PartitionedCtl.aggregates("todo", perPartition: 3, layout) {
                try await publisher.publish(ids.map { makeTodo(0, aggregate: $0) })
            }
            // billing: partition i has (i % 3) + 1 entries delivered to biller-1; the first of
            // partitions 0, 2 and 4 is dead-lettered (acknowledged, then in the dead letters).
            var deadLettered: [String: StreamEntryID] = [:]
            for (partition, key) in keys.enumerated() {
                try await client.xgroupCreate(key, group: "billing", startAt: "0")
                let read = try await client.xreadgroup(group: "billing", consumer: "biller-1", stream: key, count: partition % 3 + 1)
                guard partition % 2 == 0, let first = read.first else { continue }
                try await client.xack(key, group: "billing", ids: [first.id])
                try await OpsFixture.addDeadLetter(
                    client, stream: key, group: "billing", reason: .maxDeliveries,
                    fields: (0..<first.fieldCount).map { (String(decoding: first.name(at: $0), as: UTF8.self), Array(first.value(at: $0))) },
                    originalID: first.id.description)
                deadLettered[key] = first.id
            }
            // pending: 1 + 2 + 3 + 1 + 2 + 3 read, minus 3 dead-lettered (partitions 0, 2, 4); lag: 18 - 12.
            let flowStream = uniqueStream("order-events")
            let flow = try await PartitionedFlow.make(client, stream: flowStream, layout: layout, partitions: [0, 2, 4])
            #expect(Set(flow.events.map { RedisHashSlot.slot(of: $0.stream) * 3 / RedisHashSlot.count }) == [0, 1, 2])

            // streams: both partitioned streams, found on every master, one row each.
            let streams = try await PartitionedCtl.json(["streams", "--all"], url: url, partitions: 6)
            let rows = try #require(streams["streams"] as? [[String: Any]])
            let todo = try #require(rows.first { $0["name"] as? String == stream }, "\(rows)")
            #expect(todo["partition_count"] as? Int == 6 && todo["length"] as? Int == 18)
            #expect((todo["partitions"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == keys)
            let orders = try #require(rows.first { $0["name"] as? String == flowStream })
            #expect(orders["partition_count"] as? Int == 6 && orders["length"] as? Int == 10)
            let dead = try #require(rows.first { $0["name"] as? String == "\(stream):{*}:dlq:billing" })
            #expect(dead["partition_count"] as? Int == 3 && dead["length"] as? Int == 3)
            #expect(rows.count == 3, "\(rows.map { $0["name"] ?? "" })")
            let table = try await PartitionedCtl.human(["streams"], url: url, partitions: 6)
            #expect(PartitionedCtl.lines(table).first { $0.hasPrefix(stream + " ") }?.split(separator: " ")[1] == "6", "\(table)")

            // groups: the sums over the six partitions, each partition's row in the JSON.
            let groups = try await PartitionedCtl.json(["groups", stream], url: url, partitions: 6)
            #expect((groups["stream"] as? [String: Any])?["length"] as? Int == 18)
            let billing = try #require((groups["groups"] as? [[String: Any]])?.first)
            #expect(billing["name"] as? String == "billing" && billing["pending"] as? Int == 9 && billing["lag"] as? Int == 6)
            #expect((billing["partitions"] as? [[String: Any]])?.map { $0["pending"] as? Int } == [0, 2, 2, 1, 1, 3])
            #expect((billing["consumers"] as? [[String: Any]])?.first?["partitions"] as? Int == 6)
            let perPartition = try await PartitionedCtl.human(["groups", stream, "--per-partition"], url: url, partitions: 6)
            #expect(keys.allSatisfy { key in PartitionedCtl.lines(perPartition).contains { $0.hasPrefix("billing ") && $0.contains(key) } })
            let pending = try await PartitionedCtl.json(["pending", stream, "billing"], url: url, partitions: 6)
            #expect(pending["count"] as? Int == 9 && (pending["entries"] as? [Any])?.count == 9)

            // dlq list: one row, three partitions.
            let list = try await PartitionedCtl.json(["dlq", "list"], url: url, partitions: 6)
            let summaries = try #require(list["dead_letter_streams"] as? [[String: Any]])
            #expect(summaries.count == 1 && summaries[0]["stream"] as? String == stream && summaries[0]["count"] as? Int == 3)
            #expect((summaries[0]["partitions"] as? [[String: Any]])?.compactMap { $0["partition"] as? Int } == [0, 2, 4])

            // trace: the flow over three masters.
            let trace = try await PartitionedCtl.json(["trace", flow.correlationID], url: url, partitions: 6)
            try PartitionedFlow.check(trace, flow, layout: layout)

            // dlq replay: each dead letter back to its partition, by one script in that partition's slot.
            let replay = try await PartitionedCtl.json(["dlq", "replay", stream, "billing", "--all"], url: url, partitions: 6)
            let replayed = try #require(replay["replayed"] as? [[String: Any]])
            #expect(Set(replayed.compactMap { $0["stream"] as? String }) == Set(deadLettered.keys), "\(replay)")
            for item in replayed {
                let key = try #require(item["stream"] as? String)
                #expect(item["original_entry_id"] as? String == deadLettered[key]?.description)
                let newID = try #require(item["new_entry_id"] as? String)
                let entry = try #require(try await client.xrange(key, from: newID, to: newID).first)
                #expect(entry.string(named: DeadLetter.replayedFromField) == deadLettered[key]?.description)
                #expect(try await client.xlen(DeadLetter.streamKey(stream: key, group: "billing")) == 0)
            }

            // tail --follow: every partition read on its own master.
            try await PartitionedCtl.checkFollow(url: url, stream: stream, layout: layout, publisher: publisher)

            // A plain stream's dead letters are in another slot: replay refuses before writing.
            let plain = "plain-events"
            try #require(RedisHashSlot.slot(of: plain) != RedisHashSlot.slot(of: DeadLetter.streamKey(stream: plain, group: "g")))
            try await OpsFixture.addDeadLetter(client, stream: plain, group: "g", reason: .maxDeliveries)
            let (code, output) = try await PartitionedCtl.run(["dlq", "replay", plain, "g", "--all", "--force"], url: url, partitions: nil)
            #expect(code == 1 && output.contains("different hash slots"), "\(output)")
            #expect(try await client.xlen(DeadLetter.streamKey(stream: plain, group: "g")) == 1)
        }
    }
}
