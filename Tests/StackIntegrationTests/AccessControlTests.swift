import AnalyticsService
import EventBus
import Foundation
import LocalRedisServer
import NotificationService
import RedisClient
import TestSupport
import Testing
import TodoEvents

/// The Redis users of deploy/redis/users.acl.template, rendered as the stack renders them
/// (`streams-stack secrets`) and as the redis container does (deploy/redis/entrypoint.sh),
/// loaded into a private redis-server: each may do what its service does and nothing it
/// must not (`ACL DRYRUN` for every pair that matters), and the services' real paths (dead
/// letters, claims, transactional handlers, idempotency, receipts) work under them.
@Suite("Redis ACL users (deploy/redis/users.acl.template)")
struct AccessControlTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let services = ["todo-service", "notification-service", "analytics-service"]
    static let consumers = ["notification-service", "analytics-service"]
    static let stream = TodoEvents.stream

    // MARK: Fixture

    /// The rendered ACL of a fresh installation (its own STACK_DIR) and its secrets.
    struct Installation {
        let directory: String
        let secrets: [String: String]
        let acl: String

        func password(_ user: String) -> String {
            secrets["REDIS_\(user.uppercased().replacingOccurrences(of: "-", with: "_"))_PASSWORD"] ?? ""
        }
    }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return values
    }

    /// Runs `streams-stack secrets` in a new STACK_DIR.
    static func install(directory: String? = nil) async throws -> Installation {
        let directory = directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("acl-\(UUID().uuidString.prefix(8))").path
        var environment = ProcessInfo.processInfo.environment
        environment["STACK_DIR"] = directory
        environment["STACK_REPOSITORY"] = repository.path
        let result = try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streams-stack"), ["secrets"], environment: environment)
        try #require(result.exitCode == 0, "streams-stack secrets: \(result.output)")
        return Installation(
            directory: directory,
            secrets: parse(try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8)),
            acl: try String(contentsOfFile: directory + "/users.acl", encoding: .utf8))
    }

    struct Fixture {
        let installation: Installation
        let server: LocalRedisServer
        let port: Int
        /// A user of our own with every permission, for `ACL DRYRUN` (not in the template).
        let admin: RedisClient

        func url(_ user: String) -> String {
            "redis://\(user):\(installation.password(user))@127.0.0.1:\(port)/0"
        }

        func client(_ user: String) throws -> RedisClient {
            RedisClient(configuration: try RedisConfiguration(url: url(user)))
        }

        /// `ACL DRYRUN user command...`: nil when allowed, else Redis's reason.
        func refusal(_ user: String, _ command: [String]) async throws -> String? {
            let reply = try await admin.send(RedisCommand("ACL", arguments: ["DRYRUN", user] + command))
            return reply.string == "OK" ? nil : (reply.string ?? "\(reply)")
        }
    }

    static let adminPassword = "acl-test-admin-\(UUID().uuidString)"

    /// A private redis-server running exactly the rendered ACL file (plus the test's admin).
    func withServer(_ body: (Fixture) async throws -> Void) async throws {
        let installation = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: installation.directory) }
        let file = installation.directory + "/test-users.acl"
        let admin = "user acl-test-admin on >\(Self.adminPassword) ~* &* +@all\n"
        // LocalRedisServer waits for an unauthenticated PING, which the rendered default user
        // refuses: start with the default user on, then load the real file with ACL LOAD.
        let booting = installation.acl.replacingOccurrences(
            of: "user default off resetpass", with: "user default on nopass")
        try (booting + admin).write(toFile: file, atomically: true, encoding: .utf8)
        let server = try await LocalRedisServer.start(tcp: true, extraArguments: ["--aclfile", file])
        do {
            let port = try #require(server.port)
            try (installation.acl + admin).write(toFile: file, atomically: true, encoding: .utf8)
            let adminURL = "redis://acl-test-admin:\(Self.adminPassword)@127.0.0.1:\(port)/0"
            // ACL LOAD closes the connections of the users it replaces, this one included.
            let loader = RedisClient(configuration: try RedisConfiguration(url: adminURL))
            #expect(try await loader.send("ACL", "LOAD").string == "OK")
            loader.close()
            let client = RedisClient(configuration: try RedisConfiguration(url: adminURL))
            defer { client.close() }
            try await body(Fixture(installation: installation, server: server, port: port, admin: client))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func eventually(_ seconds: Int = 15, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    // MARK: Secrets and rendering

    @Test func theSecretsAreRandomPrivateAndKeptAndBothRenderersAgree() async throws {
        let installation = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: installation.directory) }
        for file in ["secrets.env", "users.acl"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: installation.directory + "/" + file)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(file) is not mode 600")
        }
        let folder = try FileManager.default.attributesOfItem(atPath: installation.directory)
        #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let users = ["healthcheck", "todo-service", "notification-service", "analytics-service", "operator"]
        let passwords = users.map(installation.password)
        #expect(Set(passwords).count == users.count, "every user has its own secret")
        for password in passwords {
            #expect(password.count >= 16 && !password.contains("secret"), "\(password)")
            #expect(installation.acl.contains(">\(password) "))
        }
        #expect(!installation.acl.contains("${") && !installation.acl.contains("#"))
        #expect(installation.acl.split(separator: "\n").allSatisfy { $0.hasPrefix("user ") })

        // A second run keeps them (the data and the URLs handed out stay valid).
        let again = try await Self.install(directory: installation.directory)
        #expect(again.secrets == installation.secrets)
        #expect(again.acl == installation.acl)
        // Another installation gets others.
        let other = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: other.directory) }
        #expect(other.password("operator") != installation.password("operator"))

        // The redis container's entrypoint renders the same file from the same secrets.
        let rendered = installation.directory + "/entrypoint.acl"
        var environment = ProcessInfo.processInfo.environment.merging(installation.secrets) { $1 }
        environment["REDIS_ACL_TEMPLATE"] = Self.repository.appendingPathComponent("deploy/redis/users.acl.template").path
        environment["REDIS_ACL_FILE"] = rendered
        let entrypoint = Self.repository.appendingPathComponent("deploy/redis/entrypoint.sh").path
        let run = try await ChildProcess.run("/bin/sh", [entrypoint], environment: environment)
        #expect(run.exitCode == 0, "\(run.output)")
        #expect(try String(contentsOfFile: rendered, encoding: .utf8) == installation.acl)
        let mode = try FileManager.default.attributesOfItem(atPath: rendered)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        // ... and refuses to start Redis without a secret, or with a weak or unsafe one.
        for (value, message) in [("", "REDIS_OPERATOR_PASSWORD is not set"), ("short", "too short"), ("with/slash-0123456789", "may only contain")] {
            var bad = environment
            bad["REDIS_OPERATOR_PASSWORD"] = value
            let refused = try await ChildProcess.run("/bin/sh", [entrypoint], environment: bad)
            #expect(refused.exitCode != 0 && refused.output.contains(message), "\(refused.output)")
        }
    }

    // MARK: ACL DRYRUN

    /// What each service's code sends (RedisClient's connect, EventConsumer, PendingReclaimer's
    /// scripts, DeadLetterWriter, ProcessedEventTransaction, IdempotencyGuard, the readiness
    /// check and the group metrics sampler, each service's store).
    static func allowed(_ user: String) -> [[String]] {
        // On a cluster (a REDIS_URL naming the nodes), a service's client also reads the slot map and follows ASK;
        // with PUBLISH_WAIT_REPLICAS its writes are followed by WAIT (refused at first: every POST failed).
        let connect: [[String]] = [
            ["PING"], ["SELECT", "0"], ["CLIENT", "SETNAME", "\(user):x"], ["HELLO", "2"], ["SCRIPT", "LOAD", "return 1"],
            ["CLUSTER", "SLOTS"], ["ASKING"], ["WAIT", "1", "1000"],
        ]
        switch user {
        case "healthcheck":
            return [["PING"]]
        case "todo-service":
            return connect + [
                // The event store's scripts (append, snapshot) and what they run, and its loads.
                ["TYPE", "es:{todo-events}:t1"], ["XLEN", "es:{todo-events}:t1"], ["XADD", "es:{todo-events}:t1", "0-1", "a", "b"],
                ["XRANGE", "es:{todo-events}:t1", "0-1", "+"], ["HMGET", "es:{todo-events}:t1:snapshot", "version", "state"],
                ["XREVRANGE", "es:{todo-events}:t1", "+", "-", "COUNT", "32"],
                ["HSET", "es:{todo-events}:t1:snapshot", "version", "1"],
                ["ZADD", "es:{todo-events}:user:alice", "1", "t1"], ["ZRANGE", "es:{todo-events}:user:alice", "0", "99"],
                ["ZREM", "es:{todo-events}:user:alice", "t1"], ["XADD", stream, "*", "event_id", "e1"],
                // Safe trimming of its stream (STREAM_MAX_LENGTH): the trim script's commands.
                ["XINFO", "GROUPS", stream], ["XPENDING", stream, "notification-service", "-", "+", "1"],
                ["XREVRANGE", stream, "+", "-", "COUNT", "1"], ["XTRIM", stream, "MINID", "~", "1-0"],
                ["EVALSHA", String(repeating: "a", count: 40), "2", "es:{todo-events}:t1", stream, "0"],
                ["EVALSHA", String(repeating: "a", count: 40), "2", "es:{todo-events}:t1", "es:{todo-events}:t1:snapshot", "0"],
            ]
        case "cluster-admin":
            // redis-cli --cluster create, the stack's health checks, and a replica's link to its master.
            return [
                ["PING"], ["INFO", "replication"], ["CLUSTER", "INFO"], ["CLUSTER", "NODES"], ["CLUSTER", "MYID"],
                ["CLUSTER", "MEET", "127.0.0.1", "7000"], ["CLUSTER", "ADDSLOTS", "1", "2"], ["CLUSTER", "SET-CONFIG-EPOCH", "1"],
                ["CLUSTER", "REPLICATE", String(repeating: "a", count: 40)], ["PSYNC", "?", "-1"], ["REPLCONF", "listening-port", "7000"],
            ]
        case "operator":
            return [
                ["XRANGE", stream, "-", "+"], ["XADD", stream, "*", "a", "b"], ["XINFO", "STREAM", stream],
                ["XDEL", "\(stream):dlq:notification-service", "1-0"], ["XTRIM", stream, "MINID", "1-0"],
                ["SCAN", "0", "MATCH", "*:dlq:*", "TYPE", "stream", "COUNT", "1000"], ["TIME"], ["INFO"], ["CLIENT", "LIST"],
                ["EVALSHA", String(repeating: "a", count: 40), "2", "\(stream):dlq:notification-service", stream],
                ["HGETALL", "analytics:totals"], ["LRANGE", "notifications:user:alice", "0", "-1"],
            ]
        default:
            let group = user
            let dlq = "\(stream):dlq:\(group)"
            let marker = "\(group):processed:e1"
            let sha = String(repeating: "a", count: 40)
            var commands = connect + [
                ["XREADGROUP", "GROUP", group, "c1", "COUNT", "100", "BLOCK", "500", "STREAMS", stream, ">"],
                ["XACK", stream, group, "1-0", "2-0"], ["XCLAIM", stream, group, "c1", "0", "1-0", "JUSTID"],
                ["XPENDING", stream, group], ["XPENDING", stream, group, "IDLE", "1000", "-", "+", "100"],
                ["XPENDING", stream, group, "-", "+", "100", "c1"], ["XRANGE", stream, "1-0", "1-0"],
                ["XINFO", "GROUPS", stream], ["XINFO", "CONSUMERS", stream, group], ["XLEN", dlq],
                ["XGROUP", "CREATE", stream, group, "$", "MKSTREAM"], ["XGROUP", "DELCONSUMER", stream, group, "old"],
                ["EVALSHA", sha, "2", stream, dlq, group, "c1"],  // claim or dead-letter
                ["EVALSHA", sha, "1", stream, group, "c1", "3600000"],  // idle consumers
                ["EVALSHA", sha, "2", stream, marker, group, "1-0", "1000"],  // transactional handler
                ["MULTI"], ["EXEC"], ["XADD", dlq, "*", "dlq_reason", "max_deliveries"],
                ["XADD", "receipts", "MAXLEN", "~", "1000000", "*", "event_id", "e1"],
            ]
            if user == "notification-service" {
                let webhookMarker = "\(NotificationHandlers.webhookGuardGroup):processed:e1"
                commands += [
                    // The webhook's guard.
                    ["SET", webhookMarker, "running", "NX", "PX", "60000"], ["GET", webhookMarker],
                    ["SET", webhookMarker, "done", "PX", "1000"], ["DEL", webhookMarker],
                    // The record, in the transactional scripts.
                    ["EXISTS", marker], ["SET", marker, "done", "PX", "1000"], ["TYPE", stream], ["TYPE", "notifications"],
                    ["TYPE", "notifications:user:alice"], ["XADD", "notifications", "MAXLEN", "~", "100000", "*", "user_id", "alice"],
                    ["LPUSH", "notifications:user:alice", "{}"], ["LTRIM", "notifications:user:alice", "0", "99"],
                    ["LRANGE", "notifications:user:alice", "0", "99"],
                ]
            } else {
                commands += [
                    ["EXISTS", marker], ["SET", marker, "done", "PX", "1000"], ["HINCRBY", "analytics:totals", "created", "1"],
                    ["HINCRBYFLOAT", "analytics:user:bob", "completion_seconds_sum", "1.5"], ["SADD", "analytics:users", "bob"],
                    ["HGETALL", "analytics:totals"], ["SCARD", "analytics:users"], ["SMEMBERS", "analytics:days"],
                    // Whether its projection is being rebuilt (read only; the operator rebuilds).
                    ["HGETALL", "projection:analytics-service:state"],
                ]
            }
            return commands
        }
    }

    /// What each user must not do.
    static func forbidden(_ user: String) -> [[String]] {
        let sha = String(repeating: "a", count: 40)
        let everyone: [[String]] = [
            ["FLUSHALL"], ["FLUSHDB"], ["KEYS", "*"], ["CONFIG", "SET", "appendonly", "no"], ["ACL", "LIST"],
            ["ACL", "SETUSER", user, "+@all"], ["SHUTDOWN"], ["DEBUG", "SLEEP", "0"], ["MONITOR"], ["SCRIPT", "FLUSH"],
            ["CLIENT", "KILL", "TYPE", "normal"], ["MIGRATE", "h", "1", "k", "0", "1"], ["SUBSCRIBE", "x"], ["PUBLISH", "x", "y"],
            // The cluster's own commands are cluster-admin's (reading the slot map is not).
            ["CLUSTER", "MEET", "127.0.0.1", "7000"], ["CLUSTER", "RESET"], ["CLUSTER", "FAILOVER"], ["CLUSTER", "ADDSLOTS", "1"],
            ["PSYNC", "?", "-1"], ["REPLCONF", "listening-port", "7000"],
        ]
        // Every service's own keys, to check the others' against.
        let owned: [String: [[String]]] = [
            "todo-service": [
                ["XADD", "es:{todo-events}:t1", "0-9", "forged", "1"], ["HSET", "es:{todo-events}:t1:snapshot", "state", "forged"],
                ["ZADD", "es:{todo-events}:user:alice", "1", "t9"], ["DEL", "es:{todo-events}:t1"],
            ],
            "notification-service": [
                ["XADD", "notifications", "*", "forged", "1"], ["LPUSH", "notifications:user:alice", "{}"],
                ["SET", "notification-service:processed:e1", "done"], ["XADD", "\(stream):dlq:notification-service", "*", "a", "b"],
                ["EVALSHA", sha, "2", stream, "\(stream):dlq:notification-service"],
            ],
            "analytics-service": [
                ["HINCRBY", "analytics:totals", "created", "1000"], ["SADD", "analytics:users", "mallory"],
                ["SET", "analytics-service:processed:e1", "done"], ["XADD", "\(stream):dlq:analytics-service", "*", "a", "b"],
                ["EVALSHA", sha, "2", stream, "analytics-service:processed:e1"],
            ],
        ]
        switch user {
        case "healthcheck":
            return everyone + owned.values.flatMap { $0 } + [
                ["GET", "x"], ["SELECT", "0"], ["CLIENT", "SETNAME", "x"], ["INFO"], ["XRANGE", stream, "-", "+"],
                ["XADD", stream, "*", "forged", "1"], ["SCRIPT", "LOAD", "return 1"], ["EVALSHA", sha, "0"], ["ECHO", "x"],
                ["XINFO", "GROUPS", stream], ["MULTI"], ["TIME"], ["DBSIZE"],
            ]
        case "todo-service":
            // The producer: nothing of a consumer's, nor its own stream's history. (It may XTRIM
            // its stream: safe trimming needs it, and an ACL cannot tell MINID from MAXLEN 0.)
            return everyone + owned.filter { $0.key != user }.values.flatMap { $0 } + [
                ["XREADGROUP", "GROUP", "notification-service", "c", "STREAMS", stream, ">"],
                ["XACK", stream, "notification-service", "1-0"], ["XGROUP", "CREATE", stream, "g", "$"],
                ["XGROUP", "DESTROY", stream, "notification-service"], ["DEL", stream],
                ["XDEL", stream, "1-0"], ["XADD", "receipts", "*", "a", "b"], ["SET", "x", "y"], ["GET", "es:{todo-events}:t1"],
                ["DEL", "es:{todo-events}:t1"], ["XDEL", "es:{todo-events}:t1", "0-1"], ["XTRIM", "es:{todo-events}:t1", "MAXLEN", "0"],
                ["EVAL", "return 1", "0"], ["XADD", "\(stream):dlq:notification-service", "*", "a", "b"],
            ]
        case "cluster-admin":
            // No key, no channel, no other admin command.
            return [
                ["GET", "x"], ["SET", "x", "y"], ["XRANGE", stream, "-", "+"], ["XADD", stream, "*", "a", "b"], ["KEYS", "*"],
                ["SCAN", "0"], ["FLUSHALL"], ["CONFIG", "SET", "appendonly", "no"], ["ACL", "SETUSER", "cluster-admin", "+@all"],
                ["CLUSTER", "FAILOVER"], ["CLUSTER", "RESET"], ["CLUSTER", "FORGET", String(repeating: "a", count: 40)],
                ["CLUSTER", "DELSLOTS", "1"], ["CLUSTER", "SETSLOT", "1", "STABLE"], ["SHUTDOWN"], ["DEBUG", "SLEEP", "0"],
                ["EVAL", "return 1", "0"], ["MONITOR"], ["SUBSCRIBE", "x"], ["PUBLISH", "x", "y"], ["SCRIPT", "LOAD", "return 1"],
            ]
        case "operator":
            return [["FLUSHALL"], ["CONFIG", "SET", "appendonly", "no"], ["ACL", "SETUSER", "operator", "+@all"], ["SHUTDOWN"], ["KEYS", "*"], ["DEBUG", "SLEEP", "0"]]
        default:
            // A consumer: no write to the stream it reads other than its group's, nothing of
            // the other services' keys.
            let group = user
            return everyone + owned.filter { $0.key != user }.values.flatMap { $0 } + [
                ["XADD", stream, "*", "forged", "1"], ["XADD", stream, "MAXLEN", "0", "*", "forged", "1"],
                ["DEL", stream], ["UNLINK", stream], ["XTRIM", stream, "MAXLEN", "0"], ["XDEL", stream, "1-0"],
                ["XGROUP", "DESTROY", stream, group], ["XGROUP", "SETID", stream, group, "0"],
                ["XGROUP", "CREATECONSUMER", stream, group, "c9"],
                ["SET", stream, "x"], ["EXPIRE", stream, "1"], ["RENAME", stream, "x"], ["RESTORE", stream, "0", "x"],
                ["COPY", "\(stream):dlq:\(group)", stream], ["EVAL", "return 1", "1", stream],
                ["EVALSHA", sha, "1", "es:{todo-events}:t1"], ["HSET", "es:{todo-events}:t1:snapshot", "status", "completed"],
                ["XADD", "todo-events-2", "*", "a", "b"], ["DEL", "receipts"], ["XTRIM", "receipts", "MAXLEN", "0"],
                ["XRANGE", "receipts", "-", "+"], ["XADD", "order-events", "*", "a", "b"],
            ]
        }
    }

    @Test func everyUserMayRunWhatItsServiceRuns() async throws {
        try await withServer { fixture in
            for user in ["healthcheck", "operator", "cluster-admin"] + Self.services {
                for command in Self.allowed(user) {
                    let refusal = try await fixture.refusal(user, command)
                    #expect(refusal == nil, "\(user) should be allowed \(command.joined(separator: " ")): \(refusal ?? "")")
                }
            }
        }
    }

    @Test func noUserMayRunWhatItsServiceMustNot() async throws {
        try await withServer { fixture in
            for user in ["healthcheck", "operator", "cluster-admin"] + Self.services {
                for command in Self.forbidden(user) {
                    let refusal = try await fixture.refusal(user, command)
                    #expect(refusal != nil, "\(user) must not be allowed \(command.joined(separator: " "))")
                }
            }
            // The default user: off, with no password at all (protected mode then lets the
            // other users in from other hosts), but with its permissions (AOF replay).
            let fields = try await fixture.admin.send("ACL", "GETUSER", "default").array ?? []
            var info: [String: RedisReply] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) { info[fields[index].string ?? ""] = fields[index + 1] }
            let flags = (info["flags"]?.array ?? []).compactMap(\.string)
            #expect(flags.contains("off") && !flags.contains("nopass"), "\(flags)")
            #expect((info["passwords"]?.array ?? []).isEmpty)
            #expect(info["commands"]?.string == "+@all")
            let anonymous = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(fixture.port)/0"))
            defer { anonymous.close() }
            await #expect(throws: RedisError.self) { try await anonymous.send("GET", "x") }
            // Wrong passwords, and one user's password for another, are refused.
            let swapped = RedisClient(configuration: try RedisConfiguration(
                url: "redis://notification-service:\(fixture.installation.password("analytics-service"))@127.0.0.1:\(fixture.port)/0"))
            defer { swapped.close() }
            await #expect(throws: RedisError.self) { try await swapped.send("PING") }
        }
    }

    // MARK: Real runs

    @Test func aConsumerCannotForgeEventsNotEvenThroughAScriptOrATransaction() async throws {
        try await withServer { fixture in
            let notification = try fixture.client("notification-service")
            defer { notification.close() }
            #expect(try await notification.xgroupCreate(Self.stream, group: "notification-service", startAt: "0"))
            do {
                try await notification.xadd(Self.stream, fields: [("forged", "1")])
                Issue.record("XADD \(Self.stream) as notification-service was accepted")
            } catch let error as RedisError {
                #expect("\(error)".contains("NOPERM"), "\(error)")
            }
            let forge = RedisScript("return redis.call('XADD', KEYS[1], '*', 'forged', '1')")
            for keys in [[Self.stream], [Self.stream, "\(Self.stream):dlq:notification-service"]] {
                await #expect(throws: RedisError.self) { try await notification.run(forge, keys: keys) }
            }
            // Declaring only its own key does not help: the script's XADD is checked too.
            let sneaky = RedisScript("return redis.call('XADD', 'todo-events', '*', 'forged', '1')")
            await #expect(throws: RedisError.self) {
                try await notification.run(sneaky, keys: ["\(Self.stream):dlq:notification-service"])
            }
            let transaction = try await notification.pipeline([
                RedisCommand("MULTI"), RedisCommand("XADD", Self.stream, "*", "forged", "1"), RedisCommand("EXEC"),
            ])
            #expect(transaction[2].array == nil, "\(transaction)")
            let operatorClient = try fixture.client("operator")
            defer { operatorClient.close() }
            #expect(try await operatorClient.xlen(Self.stream) == 0)
        }
    }

    @Test func theConsumersRealPathsWorkUnderTheirUsers() async throws {
        try await withServer { fixture in
            let operatorClient = try fixture.client("operator")
            let todo = try fixture.client("todo-service")
            let notification = try fixture.client("notification-service")
            defer {
                operatorClient.close()
                todo.close()
                notification.close()
            }
            func configuration(_ group: String) -> EventConsumer.Configuration {
                var configuration = EventConsumer.Configuration(
                    stream: Self.stream, group: group, consumerName: "\(group)-1", startPosition: .beginning,
                    blockTimeout: .milliseconds(100))
                configuration.reclaimInterval = .milliseconds(30)
                configuration.retry = RetryPolicy(initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(400), maxDeliveries: 3)
                configuration.receiptsStream = "receipts"
                configuration.removeIdleConsumersAfter = .milliseconds(200)
                return configuration
            }
            // notification-service: the record as transactional writes committed per batch,
            // dave's webhook down inside its IdempotencyGuard (claims, then a dead letter).
            let log = NotificationLog(client: notification)
            let webhook = WebhookNotificationSender(url: URL(string: "http://127.0.0.1:9/down")!, timeout: .seconds(1))
            let sender = RoutingNotificationSender(webhook: webhook, users: ["dave"], others: StreamNotificationSender())
            var notifying = configuration(NotificationHandlers.group)
            notifying.unhandledTypes = .acknowledge
            let notifier = try EventConsumer(
                redis: try RedisConfiguration(url: fixture.url("notification-service")), configuration: notifying,
                handlers: NotificationHandlers.make(sender: sender, client: notification))
            // analytics-service: transactional handlers (writes, marker and XACK in one script).
            let counter = try EventConsumer(
                redis: try RedisConfiguration(url: fixture.url("analytics-service")),
                configuration: configuration(AnalyticsHandlers.group), handlers: AnalyticsHandlers.make())
            let tasks = [Task { try await notifier.run() }, Task { try await counter.run() }]
            defer { for task in tasks { task.cancel() } }

            // todo-service publishes.
            let publisher = EventPublisher(client: todo)
            try await publisher.publish(TodoCreated(todoID: "a1", userID: "alice", title: "Buy milk"))
            try await publisher.publish(TodoCreated(todoID: "d1", userID: "dave", title: "Call the bank"))
            try await publisher.publish(TodoCompleted(todoID: "a1", userID: "alice", title: "Buy milk", priority: .medium, createdAt: Date()))
            // A consumer left behind by an earlier instance, idle and owning nothing: removed.
            #expect(try await Self.eventually { (try? await operatorClient.send("XINFO", "GROUPS", Self.stream).array?.count) == 2 })
            _ = try await operatorClient.send("XGROUP", "CREATECONSUMER", Self.stream, "notification-service", "ghost")

            let dlq = DeadLetter.streamKey(stream: Self.stream, group: NotificationHandlers.group)
            #expect(try await Self.eventually { try await operatorClient.xlen(dlq) == 1 })
            let letter = try #require(try await operatorClient.xrange(dlq).first)
            #expect(letter.string(named: "dlq_reason") == "max_deliveries")
            #expect(letter.string(named: "dlq_deliveries") == "3")
            #expect(try await Self.eventually { try await log.recent(userID: "alice").count == 2 })
            let store = AnalyticsStore(client: try fixture.client("analytics-service"))
            #expect(try await Self.eventually { try await store.statistics().totals.completed == 1 })
            #expect(try await store.statistics().totals.created == 2)
            for group in Self.consumers {
                #expect(try await Self.eventually {
                    (try await operatorClient.send("XPENDING", Self.stream, group).array?.first?.int) == 0
                }, "\(group) still has pending entries")
            }
            // Receipts (XADD receipts) of the handled events: alice's two, and the three counted.
            #expect(try await Self.eventually {
                let receipts = try await operatorClient.xrange("receipts").compactMap { $0.string(named: "group") }
                return receipts.sorted() == ["analytics-service", "analytics-service", "analytics-service", "notification-service", "notification-service"]
            })
            #expect(try await Self.eventually {
                let consumers = try await operatorClient.send("XINFO", "CONSUMERS", Self.stream, "notification-service").array ?? []
                return !consumers.contains { ($0.array ?? []).contains { $0.string == "ghost" } }
            }, "the idle consumer was not removed")
            #expect(try await operatorClient.xlen(DeadLetter.streamKey(stream: Self.stream, group: AnalyticsHandlers.group)) == 0)

            // An entry deleted while pending: the claim script writes a `deleted` dead letter
            // (XADD to the group's dead letters inside a script) and acknowledges it.
            let failing = try EventConsumer(
                redis: try RedisConfiguration(url: fixture.url("notification-service")),
                configuration: {
                    var configuration = configuration(NotificationHandlers.group)
                    configuration.consumerName = "notification-service-2"
                    configuration.retry = RetryPolicy(initialBackoff: .milliseconds(600), maximumBackoff: .seconds(2), maxDeliveries: 5)
                    return configuration
                }(),
                handlers: {
                    var handlers = EventHandlers()
                    handlers.on(TodoDeleted.self) { _ in throw Refused() }
                    return handlers
                }())
            tasks[0].cancel()
            _ = await tasks[0].result
            let failingTask = Task { try await failing.run() }
            defer { failingTask.cancel() }
            let doomed = try await publisher.publish(TodoDeleted(todoID: "z1", userID: "zoe", title: "x", priority: .low, wasCompleted: false))
            #expect(try await Self.eventually {
                (try await operatorClient.send("XPENDING", Self.stream, "notification-service").array?.first?.int) == 1
            })
            _ = try await operatorClient.send("XDEL", Self.stream, doomed.description)
            #expect(try await Self.eventually { try await operatorClient.xlen(dlq) == 2 })
            let deleted = try #require(try await operatorClient.xrange(dlq).last)
            #expect(deleted.string(named: "dlq_reason") == "deleted")
            #expect(deleted.string(named: "dlq_entry_id") == doomed.description)
            #expect(try await Self.eventually {
                (try await operatorClient.send("XPENDING", Self.stream, "notification-service").array?.first?.int) == 0
            })
        }
    }
}

/// A handler's failure, on purpose.
private struct Refused: Error {}
