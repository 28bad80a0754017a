import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Testing

/// A todo event used by the tests.
struct TodoCreated: DomainEvent, Equatable {
    static let eventType = "todo.created"
    static let aggregateType = "todo"
    var todoID: String
    var userID: String
    var title: String
    var priority: Int
    var aggregateID: String { todoID }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, priority
    }
}

struct TodoCompleted: DomainEvent, Equatable {
    static let eventType = "todo.completed"
    static let aggregateType = "todo"
    var todoID: String
    var aggregateID: String { todoID }
    enum CodingKeys: String, CodingKey { case todoID = "todo_id" }
}

/// Records what handlers saw, safe to share between handler tasks.
actor Recorder<Value: Sendable> {
    private(set) var values: [Value] = []
    func append(_ value: Value) { values.append(value) }
    var count: Int { values.count }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A stream name unique to one test, so tests can share nothing.
func uniqueStream(_ base: String = "test") -> String {
    "\(base)-\(UUID().uuidString.prefix(8))"
}

/// Number of entries pending in `group` (`XPENDING stream group` summary); -1 while the
/// group does not exist yet.
func pendingCount(_ client: RedisClient, _ stream: String, _ group: String) async throws -> Int {
    guard let reply = try? await client.send("XPENDING", stream, group) else { return -1 }
    return reply.array?.first?.int ?? -1
}

/// Runs `consumer` in a task; returns the task so the test can stop it.
func start(_ consumer: EventConsumer) -> Task<Void, Error> {
    Task { try await consumer.run() }
}

/// Stops consumers started with `start` and waits until they have returned, so none
/// outlives the test's redis-server.
func stop(_ tasks: [Task<Void, Error>]) async {
    for task in tasks { task.cancel() }
    for task in tasks { _ = await task.result }
}

func makeTodo(_ index: Int, aggregate: String? = nil) -> TodoCreated {
    TodoCreated(todoID: aggregate ?? "todo-\(index)", userID: "user-\(index % 3)", title: "Task \(index)", priority: index % 5)
}

/// A private server, a client, a stream unique to the test and a publisher writing to it.
struct StreamFixture {
    let server: LocalRedisServer
    let redis: RedisConfiguration
    let client: RedisClient
    let stream: String
    let publisher: EventPublisher
}

extension StreamFixture {
    /// Starts a consumer whose `todo.created` handler records each todo id.
    func startRecordingConsumer(_ configuration: EventConsumer.Configuration) throws
        -> (Recorder<String>, Task<Void, Error>)
    {
        let handled = Recorder<String>()
        var handlers = EventHandlers()
        handlers.on(TodoCreated.self) { await handled.append($0.event.todoID) }
        return (handled, start(try EventConsumer(redis: redis, configuration: configuration, handlers: handlers)))
    }
}

/// Runs `body` with a fresh `StreamFixture`, closing the client and stopping the server after.
func withStreamFixture(
    persistence: Bool = false, _ body: (StreamFixture) async throws -> Void
) async throws {
    try await withLocalRedisServer(persistence: persistence) { server in
        let redis = try RedisConfiguration(url: server.url)
        let client = RedisClient(configuration: redis)
        defer { client.close() }
        let stream = uniqueStream()
        let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
        try await body(StreamFixture(server: server, redis: redis, client: client, stream: stream, publisher: publisher))
    }
}

// MARK: Reliability helpers

/// Settings that make retries quick enough for tests.
func quickRetries(
    _ configuration: EventConsumer.Configuration, maxDeliveries: Int = 3, initialBackoff: Duration = .milliseconds(150)
) -> EventConsumer.Configuration {
    var configuration = configuration
    configuration.reclaimInterval = .milliseconds(40)
    configuration.retry = RetryPolicy(
        initialBackoff: initialBackoff, multiplier: 2, maximumBackoff: .seconds(1), maxDeliveries: maxDeliveries)
    configuration.blockTimeout = .milliseconds(100)
    return configuration
}

/// The dead letters of `group` (entries of `<stream>:dlq:<group>`).
func deadLetters(_ client: RedisClient, _ stream: String, _ group: String) async throws -> [StreamEntry] {
    try await client.xrange(DeadLetter.streamKey(stream: stream, group: group))
}

/// Runs `redis-cli -s <socket> <arguments>` and returns what it printed (redis-cli exits 0
/// even on an error reply, so callers read the output).
@discardableResult
func redisCLI(_ server: LocalRedisServer, _ arguments: String...) async throws -> String {
    try await redisCLI(server, arguments)
}

@discardableResult
func redisCLI(_ server: LocalRedisServer, _ arguments: [String]) async throws -> String {
    let result = try await ChildProcess.run("/usr/bin/redis-cli", ["-s", server.socketPath] + arguments)
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The fields of a well-formed envelope, to build entries by hand.
func envelopeFields(
    type: String = "todo.created", version: String = "1", aggregateID: String = "a",
    data: String = #"{"todo_id":"t","user_id":"u","title":"x","priority":1}"#
) -> [String] {
    [
        "event_id", UUID().uuidString.lowercased(), "event_type", type, "event_version", version,
        "aggregate_type", "todo", "aggregate_id", aggregateID, "timestamp", "2026-11-25T00:00:00.000000Z",
        "correlation_id", "c", "causation_id", "c", "data", data,
    ]
}

/// CPU time (user + system) this process has used so far.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

/// Like `redisCLI`, with the last argument read from standard input (`redis-cli -x`), fed by
/// the shell command `input` (for values no command line can carry: 1 MB, invalid UTF-8).
@discardableResult
func redisCLI(_ server: LocalRedisServer, lastArgumentFrom input: String, _ arguments: [String]) async throws -> String {
    func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let command = "\(input) | /usr/bin/redis-cli -s \(quoted(server.socketPath)) -x " + arguments.map(quoted).joined(separator: " ")
    let result = try await ChildProcess.run("/bin/sh", ["-c", command])
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}
