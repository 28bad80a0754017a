import ArgumentParser
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

    @Option(help: "Events (requests) per second offered.") var rate: Double
    @Option(help: "Seconds of load.") var duration: Double
    @Option(
        help: """
            http: POST /todos to the todo service; bus: publish TodoCreated to the stream directly; \
            health: GET /health on the todo service (no events, no Redis: the generator's own ceiling).
            """)
    var target: TargetKind = .http
    @Option(
        help: """
            Most requests in flight. http, health: keep-alive connections (default: rate / 100, 16 to 256); \
            bus: concurrent publishes (default 64).
            """)
    var concurrency: Int?
    @Option(
        help: """
            http, health: most requests behind the schedule waiting for a free connection; one due \
            beyond that is not sent and counts as dropped (default: one second of load).
            """)
    var backlog: Int?
    @Option(name: .customLong("todo-url"), help: "The todo service.") var todoURL = "http://127.0.0.1:8081"
    @Option(
        name: .customLong("redis-url"),
        help: """
            Redis, as a user that may read receipts and write the stream (default: REDIS_URL, else the \
            operator on the stack of STACK_DIR, password from its secrets.env).
            """)
    var redisURL: String?
    @Option(help: "Consumer groups to follow, comma separated.") var groups = "notification-service,analytics-service"
    @Option(name: .customLong("drain-seconds"), help: "Most seconds to wait after the load for the consumers to catch up.")
    var drainSeconds: Double = 30
    @Option(name: .customLong("pids-dir"), help: "Folder of <name>.pid files (\"<pid> <program>\") of the processes to measure.")
    var pidsDirectory: String?
    @Option(name: .customLong("receipts-stream"), help: "The stream the consumers write receipts to (RECEIPTS_STREAM).")
    var receiptsStream = "receipts"
    @Option(help: "The event stream.") var stream = "todo-events"
    @Option(
        help: """
            todos: todo.created events, followed through the consumer groups' receipts; orders: POST /orders \
            to order-service (--target http only), each order's saga followed to its end, stock and payments checked.
            """)
    var flow: Flow = .todos
    @Option(name: .customLong("order-url"), help: "order-service (--flow orders).") var orderURL = "http://127.0.0.1:8084"
    @Option(help: "SKUs the orders take in turn, comma separated; each needs stock (INVENTORY_SEED).") var skus = "sku-1"
    @Option(
        help: """
            The stack's STREAM_PARTITIONS (default: STREAM_PARTITIONS, else 1): where the stream's groups, \
            dead letters, orders, sagas and stock are (a cluster stack has 6).
            """)
    var partitions: Int?

    /// `--partitions`, else `STREAM_PARTITIONS`, else 1.
    func streamPartitions() throws -> StreamPartitions {
        let given = partitions ?? Int(ProcessInfo.processInfo.environment["STREAM_PARTITIONS"] ?? "") ?? 1
        do {
            return try StreamPartitions(count: given)
        } catch {
            throw ValidationError("--partitions: \(error)")
        }
    }

    func validate() throws {
        guard rate > 0 else { throw ValidationError("--rate must be above 0") }
        guard duration > 0 else { throw ValidationError("--duration must be above 0") }
        guard (concurrency ?? 1) > 0 else { throw ValidationError("--concurrency must be above 0") }
        guard (backlog ?? 0) >= 0 else { throw ValidationError("--backlog must not be negative") }
        guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must not be negative") }
        guard !groupNames.isEmpty else { throw ValidationError("--groups names no group") }
        _ = try streamPartitions()
        guard target == .bus || TodoServiceAddress(todoURL) != nil else {
            throw ValidationError("--todo-url must look like http://host:port")
        }
        if flow == .orders {
            guard target == .http else { throw ValidationError("--flow orders runs over --target http only") }
            guard TodoServiceAddress(orderURL) != nil else { throw ValidationError("--order-url must look like http://host:port") }
            guard !skuNames.isEmpty else { throw ValidationError("--skus names no SKU") }
        }
    }

    var skuNames: [String] { skus.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    var groupNames: [String] { groups.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    /// Requests in flight: sized to the rate for HTTP (10 ms of answers at the rate, 16 to 256).
    var effectiveConcurrency: Int {
        if let concurrency { return concurrency }
        return target == .bus ? 64 : min(256, max(16, Int(rate / 100)))
    }

    var total: Int { max(1, Int((rate * duration).rounded())) }

    func run() async throws {
        let stackPaths = StackPaths()
        let pidsDirectory = self.pidsDirectory ?? stackPaths.pids
        if target == .health {
            try await runHealth(pidsDirectory: pidsDirectory)
            return
        }
        let redisURL = try self.redisURL ?? stackPaths.defaultRedisURL()
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
        if flow == .orders {
            try await runOrders(redis: redis, pidsDirectory: pidsDirectory)
        } else {
            try await run(redis: redis, redisURL: redisURL, pidsDirectory: pidsDirectory)
        }
    }

    /// `--flow orders`: POST /orders at the rate, then every saga followed to its end.
    private func runOrders(redis: RedisClient, pidsDirectory: String) async throws {
        let address = TodoServiceAddress(orderURL)!
        try await checkAnswers("/ready", address: address, service: "order-service", url: orderURL)
        let flow = OrderFlow(redis: redis, keys: OrderFlow.Keys(partitions: try streamPartitions()), skus: skuNames, drainSeconds: drainSeconds)
        let stockBefore = try await flow.stock()
        let processesAtStart = ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator()
        let counters = LiveCounters()
        let started = ContinuousClock.now
        let progress = Task { await Progress.print(every: .seconds(1), started: started, counters: counters.read, book: nil) }
        log("offering \(format(rate)) orders/s for \(format(duration)) s (connections \(effectiveConcurrency)), SKUs \(skuNames.joined(separator: ","))")
        let shape = HTTPRequestShape.createOrder(
            host: address.host, port: address.port, run: EventID.generate().prefix(8).lowercased(), skus: skuNames)
        let (stats, _) = try await httpDriver(shape, address: address).run(counters: counters)
        progress.cancel()
        _ = await progress.result
        log("waiting for \(stats.createdIDs.count) sagas to end (at most \(format(drainSeconds)) s)")
        let (outcomes, waited) = try await flow.outcomes(of: stats.createdIDs)
        let processesAtEnd = ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator()
        var report = OrderReport(
            rateOffered: rate, durationSeconds: duration, sent: stats.sent, created: stats.created, failed: stats.failed,
            dropped: stats.dropped, drainSeconds: (waited * 10).rounded() / 10, completionLatencyMS: LatencyFigures(stats.latency),
            requestLatencyMS: LatencyFigures(stats.latency),
            processes: ProcessUsage.between(processesAtStart, processesAtEnd, per: stats.created))
        report.check(outcomes, stockBefore: stockBefore, stockAfter: try await flow.stock())
        print(report.table())
        print(report.jsonLine())
        if report.unfinished > 0 || report.failedSagas > 0 || !report.inconsistencies.isEmpty || stats.created == 0 { throw ExitCode(1) }
    }

    private func httpDriver(_ shape: HTTPRequestShape, address: TodoServiceAddress) -> HTTPDriver {
        HTTPDriver(
            host: address.host, port: address.port, shape: shape, rate: rate, total: total,
            connections: effectiveConcurrency, backlog: backlog ?? max(effectiveConcurrency, Int(rate.rounded(.up))))
    }

    /// `GET <path>` must answer 2xx.
    private func checkAnswers(
        _ path: String, address: TodoServiceAddress, service: String = "todo service", url: String? = nil
    ) async throws {
        let todoURL = url ?? self.todoURL
        let probe = HTTPDriver(
            host: address.host, port: address.port, shape: .get(host: address.host, port: address.port, path: path),
            rate: 1000, total: 1, connections: 1, backlog: 1, answerTimeout: 5)
        let stats: LoadStats.Snapshot
        do {
            stats = try await probe.run(counters: LiveCounters()).0
        } catch {
            throw Failure(
                "cannot reach the \(service) at \(todoURL) (GET \(path): \(error)). Start the stack (scripts/stack.sh up) or pass its URL.")
        }
        guard stats.created == 1 else {
            throw Failure(
                "the \(service) at \(todoURL) is not ready: GET \(path) answered \(stats.outcomes.keys.sorted().joined(separator: ", "))")
        }
    }

    /// The generator alone against `GET /health`: its ceiling and its CPU per request.
    private func runHealth(pidsDirectory: String) async throws {
        let address = TodoServiceAddress(todoURL)!
        try await checkAnswers("/health", address: address)
        let processesAtStart = ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator()
        let counters = LiveCounters()
        let started = ContinuousClock.now
        let progress = Task { await Progress.print(every: .seconds(1), started: started, counters: counters.read, book: nil) }
        log("offering \(format(rate)) GET /health/s for \(format(duration)) s (connections \(effectiveConcurrency))")
        let (stats, timing) = try await httpDriver(.get(host: address.host, port: address.port, path: "/health"), address: address)
            .run(counters: counters)
        progress.cancel()
        _ = await progress.result
        let report = Report(
            target: target, rate: rate, duration: duration, concurrency: effectiveConcurrency, timing: timing,
            drainSeconds: 0, stats: stats, expected: [], groups: [],
            processes: ProcessUsage.between(processesAtStart, ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator(), per: stats.created),
            readerErrors: 0)
        print(report.table())
        print(report.jsonLine())
        if stats.created == 0 { throw ExitCode(1) }
    }

    private func run(redis: RedisClient, redisURL: String, pidsDirectory: String) async throws {
        var busTarget: BusTarget?
        if target == .http {
            try await checkAnswers("/ready", address: TodoServiceAddress(todoURL)!)
        } else {
            busTarget = try BusTarget(redisURL: redisURL, partitions: try streamPartitions())
        }

        let admin = RedisAdmin(client: redis, streamKeys: try streamPartitions().streamKeys(stream), receiptsStream: receiptsStream)
        for group in try await admin.missingGroups(groupNames) {
            log("warning: group '\(group)' does not exist on '\(stream)' (is its service running?); its events will count as lost")
        }
        let receiptsStart = try await admin.lastReceiptID()
        let deadLettersAtStart = try await admin.deadLetterLengths(groupNames)
        let processesAtStart = ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator()
        if processesAtStart.count <= 1 { log("note: no running process found in \(pidsDirectory); no CPU/RSS figures for the stack") }

        let book = ReceiptBook(groups: groupNames)
        let reader = ReceiptReader(redisURL: redisURL, stream: receiptsStream, startAfter: receiptsStart, book: book)
        let readerTask = Task { await reader.run() }
        let started = ContinuousClock.now

        log("offering \(format(rate)) events/s for \(format(duration)) s over \(target.rawValue) (concurrency \(effectiveConcurrency)); receipts after \(receiptsStart)")
        let snapshot: LoadStats.Snapshot
        let timing: RateDriver.Timing
        if let busTarget {
            let stats = LoadStats()
            let progress = Task { await Progress.print(every: .seconds(1), started: started, counters: stats.counters, book: book) }
            timing = await RateDriver(rate: rate, duration: duration, concurrency: effectiveConcurrency)
                .run(target: busTarget, stats: stats)
            await busTarget.close()
            progress.cancel()
            snapshot = stats.snapshot()
        } else {
            let address = TodoServiceAddress(todoURL)!
            let counters = LiveCounters()
            let progress = Task { await Progress.print(every: .seconds(1), started: started, counters: counters.read, book: book) }
            let shape = HTTPRequestShape.createTodo(host: address.host, port: address.port, run: EventID.generate().prefix(8).lowercased())
            do {
                let result = try await httpDriver(shape, address: address).run(counters: counters)
                snapshot = result.0
                timing = result.1
            } catch {
                progress.cancel()
                reader.stop()
                await readerTask.value
                throw error
            }
            progress.cancel()
        }

        let expected = Set(snapshot.createdIDs)
        let drainStarted = ContinuousClock.now
        let drainLimit = drainStarted + .milliseconds(Int64(drainSeconds * 1000))
        let drainProgress = Task { await Progress.print(every: .seconds(1), started: started, counters: nil, book: book) }
        while ContinuousClock.now < drainLimit, !book.allHandled(expected) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let drained = ContinuousClock.now - drainStarted
        // One more read, so duplicates that were already on their way are counted.
        try? await Task.sleep(for: .milliseconds(300))
        reader.stop()
        await readerTask.value
        drainProgress.cancel()
        _ = await drainProgress.result

        let processesAtEnd = ProcessSample.readAll(pidsDirectory: pidsDirectory) + ProcessSample.generator()
        let deadLettersAtEnd = (try? await admin.deadLetterLengths(groupNames)) ?? deadLettersAtStart
        let report = Report(
            target: target, rate: rate, duration: duration, concurrency: effectiveConcurrency, timing: timing,
            drainSeconds: drained.seconds, stats: snapshot, expected: expected,
            groups: groupNames.map { group in
                book.summary(
                    group: group, expected: expected,
                    deadLettered: (deadLettersAtEnd[group] ?? 0) - (deadLettersAtStart[group] ?? 0))
            },
            processes: ProcessUsage.between(processesAtStart, processesAtEnd, per: snapshot.created),
            readerErrors: reader.errors)
        print(report.table())
        print(report.jsonLine())
        if let hint = report.hint { log(hint) }
        if report.lostTotal > 0 { throw ExitCode(1) }
    }
}

/// `http://host:port` of the todo service.
struct TodoServiceAddress {
    let host: String
    let port: Int

    init?(_ url: String) {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host,
            !host.isEmpty
        else { return nil }
        self.host = host
        port = components.port ?? 80
    }
}

/// What the load is made of.
enum Flow: String, ExpressibleByArgument, CaseIterable, Codable {
    case todos, orders
}

enum TargetKind: String, ExpressibleByArgument, CaseIterable, Codable {
    case http, bus, health
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
    /// `STACK_REDIS_PORT`, else 6390) with this installation's password from `secrets.env`
    /// (what `streams-stack redis-url` prints).
    func defaultRedisURL() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["REDIS_URL"], !url.isEmpty { return url }
        let secretsFile = root + "/secrets.env"
        guard let secrets = try? String(contentsOfFile: secretsFile, encoding: .utf8) else {
            throw Failure(
                "no Redis to use: REDIS_URL is not set and \(secretsFile) does not exist. Start the stack (scripts/stack.sh up, "
                    + "or set STACK_DIR to its folder) or pass --redis-url / REDIS_URL=$(scripts/stack.sh redis-url).")
        }
        let password = secrets.split(separator: "\n").lazy.compactMap { line -> Substring? in
            let line = line.drop(while: \.isWhitespace)
            guard line.hasPrefix("REDIS_OPERATOR_PASSWORD=") else { return nil }
            return line.dropFirst("REDIS_OPERATOR_PASSWORD=".count)
        }.first.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let password, !password.isEmpty else {
            throw Failure("\(secretsFile) has no REDIS_OPERATOR_PASSWORD; pass --redis-url or set REDIS_URL.")
        }
        let recorded = (try? String(contentsOfFile: root + "/redis.port", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let port = recorded ?? Int(environment["STACK_REDIS_PORT"] ?? "") ?? 6390
        return "redis://operator:\(password)@127.0.0.1:\(port)/0"
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
