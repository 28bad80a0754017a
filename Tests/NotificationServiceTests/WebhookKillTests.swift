import EventBus
import Foundation
import Hummingbird
import LocalRedisServer
import NotificationService
import RedisClient
import ServiceKit
import TestSupport
import Testing
import TodoEvents

/// Issue 18, finding 3: a notification-service process killed (SIGKILL) in the middle of a
/// webhook POST leaves its guard's `running` lease behind; the restarted service must send the
/// notification once the lease is over, not spend the event's deliveries on refusals and
/// dead-letter it.
@Suite("notification-service killed mid-webhook")
struct WebhookKillTests {
    /// The webhook receiver: holds the first POST open (never answers it), answers every
    /// later one 204 and counts them by `Idempotency-Key` (the event id).
    actor Hook {
        private(set) var received = 0
        private(set) var answered: [String] = []
        /// Whether to answer the request that just arrived.
        func arrive(key: String) -> Bool {
            received += 1
            if received == 1 { return false }
            answered.append(key)
            return true
        }
    }

    func withHoldingWebhook(_ body: (String, Hook) async throws -> Void) async throws {
        let hook = Hook()
        let router = Router()
        router.post("/hook") { request, _ in
            let key = request.headers[.init("Idempotency-Key")!] ?? ""
            if await hook.arrive(key: key) { return HTTPResponse.Status.noContent }
            try await Task.sleep(for: .seconds(600))  // held open until the server stops
            return HTTPResponse.Status.noContent
        }
        let (ports, reportPort) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                reportPort.yield(channel.localAddress?.port ?? 0)
                reportPort.finish()
            })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body("http://127.0.0.1:\(port)", hook)
    }

    @Test func aServiceKilledMidPOSTSendsTheNotificationOnceAfterItsRestartAndDeadLettersNothing() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            try await withHoldingWebhook { url, hook in
                let executable = try ChildProcess.builtExecutable(named: "notification-service")
                let logPath = FileManager.default.temporaryDirectory
                    .appendingPathComponent("notification-kill-\(UUID().uuidString.prefix(8)).log").path
                defer { try? FileManager.default.removeItem(atPath: logPath) }
                func launch() throws -> ChildProcess {
                    try ChildProcess(
                        executable: executable,
                        environment: [
                            "PATH": "/usr/bin:/bin", "REDIS_URL": server.url, "HTTP_HOST": "127.0.0.1",
                            "HTTP_PORT": "\(TestPorts.free()[0])", "NOTIFICATION_WEBHOOK_URL": url + "/hook",
                            "WEBHOOK_TIMEOUT_MS": "5000", "RETRY_INITIAL_BACKOFF_MS": "100", "RETRY_MAX_BACKOFF_MS": "400",
                            "MAX_DELIVERIES": "3", "LOG_LEVEL": "info",
                        ],
                        outputPath: logPath)
                }
                var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
                let dlq = DeadLetter.streamKey(stream: TodoEvents.stream, group: NotificationHandlers.group)

                var service = try launch()
                // The group exists (created at `$`) before the event is published.
                #expect(try await eventually(timeout: .seconds(30)) {
                    let groups = try? await StreamInspector(client: client).groups(stream: TodoEvents.stream)
                    return groups?.contains { $0.name == NotificationHandlers.group } ?? false
                })
                let published = try await EventPublisher(client: client).publish(
                    TodoCreated(todoID: "k1", userID: "kim", title: "Survive a kill"))
                // The first POST arrives and is held open: kill -9 the service mid-POST.
                // (The POST's deadline is 5 s, so a loaded machine still kills it while it is held:
                // with 1 s a retry's second POST came before the kill in a full parallel run.)
                let held = try await eventually(timeout: .seconds(30)) { await hook.received >= 1 }
                #expect(held, "\(log)")
                service.send(SIGKILL)
                await service.exited()
                service = try launch()
                defer {
                    service.send(SIGKILL)
                    service.wait()
                }
                // Sent (the record written) or given up (dead-lettered), whichever comes first.
                let settled = try await eventually(timeout: .seconds(60)) {
                    let sent = try await client.xlen(NotificationLog.stream)
                    let deadLettered = try await client.xlen(dlq)
                    return sent == 1 || deadLettered > 0
                }
                #expect(settled, "\(log)")
                let deadLettered = try await client.xlen(dlq)
                #expect(deadLettered == 0, "dead-lettered instead of sent: \(log)")
                #expect(try await client.xlen(NotificationLog.stream) == 1)
                #expect(try await eventually {
                    let groups = try await StreamInspector(client: client).groups(stream: TodoEvents.stream)
                    return groups.first { $0.name == NotificationHandlers.group }?.pending == 0
                })
                // Delivered once (2xx) after the restart: one answered POST, for this event.
                #expect(await hook.answered.count == 1)
                #expect(await hook.answered.allSatisfy { !$0.isEmpty })
                _ = published
            }
        }
    }

    /// The guard's lease follows the webhook's deadline, and a handler timeout that would cut
    /// a webhook short is refused at start.
    @Test func theLeaseFitsTheWebhookDeadlineAndTheHandlerTimeoutMustOutlastIt() throws {
        #expect(NotificationHandlers.webhookLease(timeout: .seconds(5)) == .seconds(11))
        let webhook = ["NOTIFICATION_WEBHOOK_URL": "http://127.0.0.1:9/hook", "WEBHOOK_TIMEOUT_MS": "2000"]
        #expect(throws: ConfigurationError.self) {
            try NotificationServiceConfiguration(
                environment: EnvironmentReader(webhook.merging(["HANDLER_TIMEOUT_MS": "2000"]) { $1 }))
        }
        _ = try NotificationServiceConfiguration(environment: EnvironmentReader(webhook.merging(["HANDLER_TIMEOUT_MS": "2001"]) { $1 }))
        _ = try NotificationServiceConfiguration(environment: EnvironmentReader(["HANDLER_TIMEOUT_MS": "100"]))
    }
}
