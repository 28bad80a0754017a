import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

@Suite("Publisher retention policies")
struct PublisherRetentionTests {
    @Test func theSafePolicyTrimsOnlyWhatEveryGroupHasHandled() async throws {
        // Small stream nodes, so approximate trimming (whole nodes only) shows in a short stream.
        try await withLocalRedisServer(extraArguments: ["--stream-node-max-entries", "4"]) { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream()
            try await client.xgroupCreate(stream, group: "fast", startAt: "0")
            try await client.xgroupCreate(stream, group: "slow", startAt: "0")
            let publisher = EventPublisher(
                client: client, configuration: .init(streamName: { _ in stream }, retention: .safe(maxLength: nil), safeTrimInterval: 10))
            var ids: [StreamEntryID] = []
            for index in 0..<30 { ids.append(try await publisher.publish(makeTodo(index))) }
            // "fast" handled everything; "slow" read 12 and acknowledged the first 5.
            _ = try await client.send("XREADGROUP", "GROUP", "fast", "f", "COUNT", "100", "STREAMS", stream, ">")
            try await client.xack(stream, group: "fast", ids: ids)
            _ = try await client.send("XREADGROUP", "GROUP", "slow", "s", "COUNT", "12", "STREAMS", stream, ">")
            try await client.xack(stream, group: "slow", ids: Array(ids[0..<5]))
            for index in 30..<40 { ids.append(try await publisher.publish(makeTodo(index))) }
            // Trimmed in the background, by whole nodes, up to slow's oldest pending entry
            // (ids[5]) and never beyond it.
            #expect(try await eventually { try await client.xrange(stream, count: 1).first?.id ?? ids[0] > ids[0] })
            #expect(try await client.xrange(stream, count: 1).first?.id ?? ids[39] <= ids[5])
            #expect(try await client.xrange(stream, from: ids[5].description).count == 35)
        }
    }

    @Test func theMaxLengthPolicyCapsTheStreamAndCanDropUnreadEntries() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream()
            try await client.xgroupCreate(stream, group: "never-reads", startAt: "0")
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }, retention: .maxLength(100)))
            for start in stride(from: 0, to: 2000, by: 100) {
                try await publisher.publish((start..<start + 100).map { makeTodo($0) })
            }
            let length = try await client.xlen(stream)
            #expect(length >= 100 && length < 400)  // approximate: whole nodes go
        }
    }
}
