import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// The event `probe-consumer` handles (same type name and fields).
struct ProbeTicked: DomainEvent {
    static let eventType = "probe.ticked"
    static let aggregateType = "probe"
    var number: Int
    var aggregateID: String { "probe-\(number % 64)" }
}

/// `probe-consumer` processes of one group, started, killed and stopped by a test.
final class ProbeFleet {
    let url: String
    let stream: String
    let group: String
    let logPath: String
    private(set) var processes: [String: ChildProcess] = [:]
    private let executable: String

    init(url: String, stream: String, group: String = "probe") throws {
        self.url = url
        self.stream = stream
        self.group = group
        self.executable = try ChildProcess.builtExecutable(named: "probe-consumer")
        self.logPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(stream).log").path
    }

    func start(_ name: String, handlerMicroseconds: Int = 0, extraArguments: [String] = []) throws {
        processes[name] = try ChildProcess(
            executable: executable,
            arguments: [
                "--redis-url", url, "--stream", stream, "--group", group, "--name", name,
                "--handler-microseconds", "\(handlerMicroseconds)",
            ] + extraArguments,
            outputPath: logPath)
    }

    func kill9(_ name: String) async {
        guard let process = processes.removeValue(forKey: name) else { return }
        process.send(SIGKILL)
        await process.exited()
    }

    /// SIGTERM to every process; the names of those that did not exit with status 0 within
    /// 10 s, with their wait status (empty when all stopped cleanly).
    func stopAll() async -> [String: Int32?] {
        var unclean: [String: Int32?] = [:]
        for process in processes.values { process.send(SIGTERM) }
        for (name, process) in processes {
            let status = await process.wait(timeout: .seconds(10))
            if status == nil { process.send(SIGKILL); await process.exited() }
            if status.flatMap(ChildProcess.exitCode(of:)) != 0 { unclean[name] = status }
        }
        processes = [:]
        return unclean
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Events applied exactly once (`<stream>:applied`) and distinct events seen, added up
    /// over `partitions` (whose keys carry their partition's tag).
    func counts(_ client: RedisClient, partitions: StreamPartitions = .single) async throws
        -> (applied: Int, seen: Int, attempts: Int)
    {
        var commands = [RedisCommand("GET", "\(stream):attempts")]
        for prefix in prefixes(partitions) {
            commands += [RedisCommand("GET", "\(prefix):applied"), RedisCommand("SCARD", "\(prefix):seen")]
        }
        let replies = try await client.pipeline(commands)
        var applied = 0
        var seen = 0
        for index in stride(from: 1, to: replies.count, by: 2) {
            applied += replies[index].int ?? 0
            seen += replies[index + 1].int ?? 0
        }
        return (applied, seen, replies[0].int ?? 0)
    }

    /// Where the probe's keys of each partition start: `<stream>` or `<stream>:{<tag>}`.
    func prefixes(_ partitions: StreamPartitions) -> [String] {
        partitions.count == 1 ? [stream] : partitions.tags.map { "\(stream):{\($0)}" }
    }

    /// The numbers of `aggregate`'s events in the order the probe applied them.
    func appliedOrder(of aggregate: String, _ client: RedisClient, partitions: StreamPartitions = .single) async throws -> [Int] {
        let prefix = partitions.count == 1 ? stream : "\(stream):{\(partitions.tags[partitions.partition(of: aggregate)])}"
        return try await client.send("LRANGE", "\(prefix):order:\(aggregate)", "0", "-1").array?
            .compactMap { $0.string.flatMap(Int.init) } ?? []
    }

    /// CPU time used by the named process so far (from /proc).
    func cpuTime(_ name: String) -> Duration? {
        guard let pid = processes[name]?.pid,
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return .milliseconds((user + system) * 10)  // clock ticks of 10 ms
    }
}

@Suite("Faults: killed consumers, Redis restarts, cut connections, bad keys, full memory")
struct FaultTests {
    @Test func consumersKilledWithSIGKILLMidBatchLoseNothingAndApplyEachEventOnce() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream("probe")
            let fleet = try ProbeFleet(url: server.url, stream: stream)
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            let total = 20_000
            for name in ["p1", "p2", "p3"] { try fleet.start(name, handlerMicroseconds: 20) }
            let publishing = Task {
                for start in stride(from: 0, to: total, by: 100) {
                    try await publisher.publish((start..<start + 100).map { ProbeTicked(number: $0) })
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            // Kill one of the three every 400 ms while events flow; restart it under its old
            // name or a new one (then its entries must be taken over by the others).
            var kills = 0
            var generation = 0
            while kills < 8 {
                try await Task.sleep(for: .milliseconds(400))
                let victim = fleet.processes.keys.sorted()[kills % 3]
                await fleet.kill9(victim)
                kills += 1
                generation += 1
                try fleet.start(kills % 2 == 0 ? victim : "p\(kills % 3 + 1)-g\(generation)")
            }
            try await publishing.value
            #expect(try await eventually(timeout: .seconds(40)) { try await fleet.counts(client).seen == total })
            try await Task.sleep(for: .seconds(1))  // let the last restarted process finish starting
            let counts = try await fleet.counts(client)
            #expect(kills == 8)
            #expect(counts.seen == total)  // every event handled at least once
            #expect(counts.applied == total)  // and its effect applied exactly once
            #expect(counts.attempts >= total)
            #expect(try await eventually { try await pendingCount(client, stream, "probe") == 0 })
            #expect(try await deadLetters(client, stream, "probe").isEmpty)
            let unclean = await fleet.stopAll()
            #expect(unclean.isEmpty, "not stopped cleanly: \(unclean)")
            print("kill -9 run: \(total) events, \(kills) kills, \(counts.attempts) deliveries, \(counts.applied) applied once, 0 pending")
        }
    }

    @Test(arguments: ["restart", "client-kill"])
    func publishersAndConsumersRecoverFromARedisRestartOrCutConnections(fault: String) async throws {
        try await withLocalRedisServer(persistence: true, extraArguments: ["--appendfsync", "always"]) { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream("probe")
            let fleet = try ProbeFleet(url: server.url, stream: stream)
            for name in ["p1", "p2"] { try fleet.start(name) }
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            var succeeded: [String] = []
            var failed = 0
            for number in 0..<3000 {
                if number == 1000 {
                    if fault == "restart" {
                        try await server.restart()
                    } else {
                        let killed = try await redisCLI(server, "CLIENT", "KILL", "TYPE", "normal")
                        #expect(Int(killed) ?? 0 >= 3, "CLIENT KILL answered \(killed)")
                    }
                }
                do {
                    let id = try await publisher.publish(ProbeTicked(number: number))
                    let entry = try await client.xrange(stream, from: id.description, to: id.description)
                    succeeded.append(entry.first?.string(named: "event_id") ?? "?")
                } catch {
                    failed += 1
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(succeeded.count >= 2900)
            #expect(try await eventually(timeout: .seconds(30)) { try await fleet.counts(client).seen >= succeeded.count })
            let seen = try await client.send("SMEMBERS", "\(stream):seen").array?.compactMap(\.string) ?? []
            #expect(Set(succeeded).isSubset(of: Set(seen)))  // every publish that returned success was handled
            let counts = try await fleet.counts(client)
            #expect(counts.applied == counts.seen)
            #expect(try await eventually { try await pendingCount(client, stream, "probe") == 0 })
            let unclean = await fleet.stopAll()
            #expect(unclean.isEmpty, "not stopped cleanly: \(unclean)")
            print("\(fault): \(succeeded.count) publishes succeeded, \(failed) failed, \(counts.seen) handled, \(counts.applied) applied once")
        }
    }

    @Test func aStreamKeyDeletedOrReplacedByAStringIsReportedWithLowCPUAndConsumptionResumes() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream("probe")
            let fleet = try ProbeFleet(url: server.url, stream: stream)
            try fleet.start("p1")
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            try await publisher.publish(ProbeTicked(number: 1))
            #expect(try await eventually { try await fleet.counts(client).seen == 1 })

            // Deleted: the group goes with it; the consumer recreates both and goes on.
            try await client.send("DEL", stream)
            try await Task.sleep(for: .milliseconds(300))
            try await publisher.publish(ProbeTicked(number: 2))
            #expect(try await eventually { try await fleet.counts(client).seen == 2 })

            // Replaced by a string: a clear error, retried with backoff, little CPU.
            try await client.send("DEL", stream)
            try await client.send("SET", stream, "not a stream")
            try await Task.sleep(for: .milliseconds(500))
            let before = try #require(fleet.cpuTime("p1"))
            try await Task.sleep(for: .seconds(3))
            let used = try #require(fleet.cpuTime("p1")) - before
            #expect(used < .milliseconds(300), "consumer used \(used) of CPU in 3 s while the key was a string")
            #expect(fleet.log.contains("holds another type of value"))
            #expect(fleet.processes["p1"]?.poll() == nil)  // still running

            try await client.send("DEL", stream)
            try await publisher.publish(ProbeTicked(number: 3))
            #expect(try await eventually { try await fleet.counts(client).seen == 3 })
            let unclean = await fleet.stopAll()
            #expect(unclean.isEmpty, "not stopped cleanly: \(unclean)")
        }
    }

    @Test func whenRedisIsOutOfMemoryPublishersGetAClearErrorAndDeadLettersWaitPending() async throws {
        try await withLocalRedisServer(extraArguments: ["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]) { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream("probe")
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            try await publisher.publish(ProbeTicked(number: 0))
            // A consumer that dead-letters unknown types; the dead letter must wait for memory.
            var configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning))
            configuration.retry.maxDeliveries = 100
            var handlers = EventHandlers()
            handlers.on(ProbeTicked.self) { _ in }
            let consumer = start(try EventConsumer(redis: try RedisConfiguration(url: server.url), configuration: configuration, handlers: handlers))
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })

            // Fill memory with another key until Redis refuses writes.
            var filler = 0
            var refused: RedisError?
            while refused == nil && filler < 100_000 {
                do {
                    try await client.send("SET", "filler:\(filler)", String(repeating: "x", count: 4096))
                    filler += 1
                } catch let error as RedisError {
                    refused = error
                }
            }
            #expect(refused?.code == .outOfMemory)
            let lengthBefore = try await client.xlen(stream)
            await #expect {
                try await publisher.publish(ProbeTicked(number: 1))
            } throws: { error in
                (error as? RedisError)?.code == .outOfMemory && "\(error)".contains("OOM")
            }
            await #expect(throws: RedisError.self) {
                try await publisher.publish((2..<12).map { ProbeTicked(number: $0) })
            }
            #expect(try await client.xlen(stream) == lengthBefore)  // nothing half-written

            // An unknown type arrives, written in the same transaction that brings memory
            // back below the usage: the consumer's dead-letter write will be refused.
            var add = RedisCommand.xadd(stream, approximateMaxLength: nil)
            for field in envelopeFields(type: "probe.unknown") { add.append(field) }
            let replies = try await client.pipeline([
                RedisCommand("CONFIG", "SET", "maxmemory", "0"), RedisCommand("MULTI"), add,
                RedisCommand("CONFIG", "SET", "maxmemory", "1mb"), RedisCommand("EXEC"),
            ])
            let unknown = try #require(replies[4].array?.first?.string.flatMap { StreamEntryID($0) }, "\(replies)")
            // The consumer has tried to dead-letter it and been refused at least twice (each try
            // claims it again, so its delivery count grows): it stays pending.
            #expect(
                try await eventually {
                    let pending = try await client.send("XPENDING", stream, "g", "-", "+", "10").array ?? []
                    return (pending.first?.array?[3].int ?? 0) >= 2
                })
            #expect(try await pendingCount(client, stream, "g") == 1)
            #expect(try await deadLetters(client, stream, "g").isEmpty)

            // Memory back: the retry dead-letters it.
            try await client.send("CONFIG", "SET", "maxmemory", "0")
            #expect(try await eventually { try await deadLetters(client, stream, "g").first?.string(named: "dlq_entry_id") == unknown.description })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            await stop([consumer])
        }
    }
}

extension Array where Element == String {
    /// `[a, 1, b, 2]` as `[(a, 1), (b, 2)]`.
    var pairs: [(String, String)] { stride(from: 0, to: count - 1, by: 2).map { (self[$0], self[$0 + 1]) } }
}
