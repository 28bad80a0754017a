import ArgumentParser
import AsyncHTTPClient
import EventBus
import Foundation
import RedisClient

/// Offers `todo.created` load at a fixed rate (open loop) over the todo service's HTTP API
/// or straight onto the bus, follows the consumers' receipts, and reports latency, losses,
/// duplicates, dead letters and each service's CPU and memory.
///
/// Exit status: 0 when every event the run produced was handled by every group, 1 when
/// one was lost or the target could not be reached at start.
@main
struct LoadGenerator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load-generator",
        abstract: "Offer todo.created events at a fixed rate; report latency, lost and duplicated events (scripts/load-test.sh).")

    @Option(help: "Events per second offered.") var rate: Double
    @Option(help: "Seconds of load.") var duration: Double
    @Option(help: "http: POST /todos to the todo service; bus: publish TodoCreated to the stream directly.")
    var target: TargetKind = .http
    @Option(help: "Most requests in flight; a send due while this many are in flight is dropped and counted.")
    var concurrency: Int = 64
    @Option(name: .customLong("todo-url"), help: "The todo service.") var todoURL = "http://127.0.0.1:8081"
    @Option(
        name: .customLong("redis-url"),
        help: "Redis, as a user that may read receipts and write the stream (default: REDIS_URL, else the stack's operator URL).")
    var redisURL: String?
    @Option(help: "Consumer groups to follow, comma separated.") var groups = "notification-service,analytics-service"
    @Option(name: .customLong("drain-seconds"), help: "Most seconds to wait after the load for the consumers to catch up.")
    var drainSeconds: Double = 30
    @Option(name: .customLong("pids-dir"), help: "Folder of <name>.pid files (\"<pid> <program>\") of the processes to measure.")
    var pidsDirectory: String?
    @Option(name: .customLong("receipts-stream"), help: "The stream the consumers write receipts to (RECEIPTS_STREAM).")
    var receiptsStream = "receipts"
    @Option(help: "The event stream.") var stream = "todo-events"

    func validate() throws {
        guard rate > 0 else { throw ValidationError("--rate must be above 0") }
        guard duration > 0 else { throw ValidationError("--duration must be above 0") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be above 0") }
        guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must not be negative") }
        guard !groupNames.isEmpty else { throw ValidationError("--groups names no group") }
    }

    var groupNames: [String] { groups.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let stackPaths = StackPaths()
        let redisURL = self.redisURL ?? stackPaths.defaultRedisURL
        let pidsDirectory = self.pidsDirectory ?? stackPaths.pids
        let redis: RedisClient
        do {
            redis = try RedisClient(url: redisURL)
        } catch {
            throw Failure("--redis-url is not a usable Redis URL: \(error)")
        }
        defer { redis.close() }
        let redacted = redis.configuration.redactedURL
        do {
            _ = try await redis.ping()
        } catch {
            throw Failure("cannot reach Redis at \(redacted): \(error). Start the stack (scripts/stack.sh up) or pass --redis-url.")
        }

        let httpClient: HTTPClient? = target == .http ? HTTPTarget.makeClient(concurrency: concurrency) : nil
        do {
            try await run(redis: redis, redisURL: redisURL, httpClient: httpClient, pidsDirectory: pidsDirectory)
        } catch {
            try? await httpClient?.shutdown()
            throw error
        }
        try? await httpClient?.shutdown()
    }

    private func run(redis: RedisClient, redisURL: String, httpClient: HTTPClient?, pidsDirectory: String) async throws {
        let loadTarget: any LoadTarget
        switch target {
        case .http:
            let httpTarget = HTTPTarget(client: httpClient!, baseURL: todoURL)
            try await httpTarget.checkReady()
            loadTarget = httpTarget
        case .bus:
            loadTarget = try BusTarget(redisURL: redisURL)
        }

        let admin = RedisAdmin(client: redis, stream: stream, receiptsStream: receiptsStream)
        for group in try await admin.missingGroups(groupNames) {
            log("warning: group '\(group)' does not exist on '\(stream)' (is its service running?); its events will count as lost")
        }
        let receiptsStart = try await admin.lastReceiptID()
        let deadLettersAtStart = try await admin.deadLetterLengths(groupNames)
        let processesAtStart = ProcessSample.readAll(pidsDirectory: pidsDirectory)
        if processesAtStart.isEmpty { log("note: no running process found in \(pidsDirectory); no CPU/RSS figures") }

        let book = ReceiptBook(groups: groupNames)
        let reader = ReceiptReader(redisURL: redisURL, stream: receiptsStream, startAfter: receiptsStart, book: book)
        let readerTask = Task { await reader.run() }
        let stats = LoadStats()
        let started = ContinuousClock.now
        let progress = Task { await Progress.print(every: .seconds(1), started: started, stats: stats, book: book) }

        log("offering \(format(rate)) events/s for \(format(duration)) s over \(target.rawValue) (concurrency \(concurrency)); receipts after \(receiptsStart)")
        let timing = await RateDriver(rate: rate, duration: duration, concurrency: concurrency)
            .run(target: loadTarget, stats: stats)
        await loadTarget.close()

        let expected = stats.expectedIDs()
        let drainStarted = ContinuousClock.now
        let drainLimit = drainStarted + .milliseconds(Int64(drainSeconds * 1000))
        while ContinuousClock.now < drainLimit, !book.allHandled(expected) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let drained = ContinuousClock.now - drainStarted
        // One more read, so duplicates that were already on their way are counted.
        try? await Task.sleep(for: .milliseconds(300))
        reader.stop()
        await readerTask.value
        progress.cancel()
        _ = await progress.result

        let processesAtEnd = ProcessSample.readAll(pidsDirectory: pidsDirectory)
        let deadLettersAtEnd = (try? await admin.deadLetterLengths(groupNames)) ?? deadLettersAtStart
        let report = Report(
            target: target, rate: rate, duration: duration, concurrency: concurrency, timing: timing,
            drainSeconds: drained.seconds, stats: stats.snapshot(), expected: expected,
            groups: groupNames.map { group in
                book.summary(
                    group: group, expected: expected,
                    deadLettered: (deadLettersAtEnd[group] ?? 0) - (deadLettersAtStart[group] ?? 0))
            },
            processes: ProcessUsage.between(processesAtStart, processesAtEnd),
            readerErrors: reader.errors)
        print(report.table())
        print(report.jsonLine())
        if let hint = report.hint { log(hint) }
        if report.lostTotal > 0 { throw ExitCode(1) }
    }
}

enum TargetKind: String, ExpressibleByArgument, CaseIterable, Codable {
    case http, bus
}

/// A message for the operator, then exit 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `.stack/` (or `STACK_DIR`), as scripts/stack.sh lays it out.
struct StackPaths {
    let root: String

    init() {
        let environment = ProcessInfo.processInfo.environment
        root = environment["STACK_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".stack"
    }

    var pids: String { root + "/pids" }

    /// `REDIS_URL`, else the operator on the stack's private Redis (`redis.port`, else
    /// `STACK_REDIS_PORT`, else 6390).
    var defaultRedisURL: String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["REDIS_URL"], !url.isEmpty { return url }
        let recorded = (try? String(contentsOfFile: root + "/redis.port", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let port = recorded ?? Int(environment["STACK_REDIS_PORT"] ?? "") ?? 6390
        return "redis://operator:operator-secret@127.0.0.1:\(port)/0"
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func format(_ value: Double, decimals: Int = 1) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String(format: "%.\(decimals)f", value)
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
