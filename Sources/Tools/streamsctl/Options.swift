import ArgumentParser
import EventBus
import Foundation
import Logging
import RedisClient
import SagaRuntime

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    static let defaultURL = "redis://127.0.0.1:6379"

    @Option(
        name: .customLong("redis-url"),
        help: "redis://[user:password@]host[:port][/db] or unix:///path/redis.sock (default: $REDIS_URL, else \(defaultURL)).")
    var redisURL: String?

    @Flag(help: "Print one JSON document instead of tables.")
    var json = false

    @Option(
        name: .customLong("partitions"),
        help: ArgumentHelp(
            "How many partition streams each stream has, as the services' STREAM_PARTITIONS (default: $STREAM_PARTITIONS, else 1; \(partitionRange.lowerBound)...\(partitionRange.upperBound)). A stream name then means all of its partitions.",
            valueName: "N"))
    var partitions: Int?

    /// The partition counts streamsctl accepts (the services' `STREAM_PARTITIONS` range).
    static let partitionRange = 1...1024

    func validate() throws {
        if let partitions, !Self.partitionRange.contains(partitions) {
            throw ValidationError(
                "--partitions must be from \(Self.partitionRange.lowerBound) to \(Self.partitionRange.upperBound), got \(partitions)")
        }
    }

    /// The partition layout: `--partitions`, else `STREAM_PARTITIONS` when set and not empty,
    /// else one partition (plain stream names). An invalid `STREAM_PARTITIONS` exits 1 with
    /// a message (read only by the commands that take a stream).
    var resolvedPartitions: StreamPartitions {
        let range = Self.partitionRange
        if let partitions {
            guard let layout = try? StreamPartitions(count: partitions), range.contains(partitions) else {
                fail("--partitions must be from \(range.lowerBound) to \(range.upperBound), got \(partitions)")
            }
            return layout
        }
        guard let text = ProcessInfo.processInfo.environment["STREAM_PARTITIONS"], !text.isEmpty else { return .single }
        guard let count = Int(text), range.contains(count),
            let layout = try? StreamPartitions(count: count)
        else {
            fail("STREAM_PARTITIONS must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return layout
    }

    /// The URL to use: the option, else `REDIS_URL` when set and not empty, else the default.
    var resolvedURL: String {
        if let redisURL { return redisURL }
        if let fromEnvironment = ProcessInfo.processInfo.environment["REDIS_URL"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return Self.defaultURL
    }

    /// Runs `body` with a client for the resolved URL, then closes it. Every failure is
    /// printed to standard error as one line and turned into exit code 1.
    func withClient(_ body: (RedisClient) async throws -> Void) async throws {
        let configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(url: resolvedURL)
        } catch {
            fail(error.message)
        }
        // The CLI reports failures itself: no reconnect warnings from the client.
        let client = RedisClient(
            configuration: configuration, logger: Logger(label: "streamsctl", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { client.close() }
        do {
            try await body(client)
        } catch let error as RedisError where error.isConnectionError {
            let reason = error.message.replacingOccurrences(
                of: "cannot connect to Redis at \(configuration.endpoint): ", with: "")
            fail("cannot connect to Redis at \(configuration.redactedURL): \(reason)")
        } catch let error as RedisError {
            fail("Redis error: \(error.message)")
        } catch let error as EventBusError {
            fail(error.message)
        } catch let error as SagaStoreError {
            fail(error.description)
        }
    }

    /// Prints `message` to standard error and exits with code 1.
    func fail(_ message: String) -> Never {
        Output.printError(message)
        StreamsCtl.exit(withError: ExitCode.failure)
    }
}

extension DeadLetter.Reason: ExpressibleByArgument {}

/// An age such as `90s`, `15m`, `2h` or `7d` (also `500ms`).
struct AgeArgument: ExpressibleByArgument {
    let duration: Duration
    let text: String

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        guard let unit = units.first(where: { argument.hasSuffix($0.suffix) && Double(argument.dropLast($0.suffix.count)) != nil }),
            let amount = Double(argument.dropLast(unit.suffix.count)), amount >= 0, amount.isFinite
        else { return nil }
        duration = .milliseconds(Int64((amount * unit.seconds * 1000).rounded()))
        text = argument
    }

    static var defaultValueDescription: String { "e.g. 30s, 15m, 2h, 7d" }
}

extension StreamEntryID: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}

extension GlobalOptions {
    /// The partition layout to read `stream` with, or nil when the command works on the one
    /// stream named as it always did: one partition (the default), or `stream` is itself a
    /// partition stream's key (`todo-events:{p2}`: that partition alone).
    func partitionLayout(of stream: String) -> StreamPartitions? {
        let layout = resolvedPartitions
        return layout.count > 1 && layout.parse(stream) == nil ? layout : nil
    }
}

extension Output {
    /// `{p2}` for a partition stream's key, the key itself otherwise.
    static func partitionLabel(_ key: String) -> String {
        StreamPartitions.partitionTag(of: key).map { "{\($0)}" } ?? key
    }
}
