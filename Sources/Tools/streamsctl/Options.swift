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
