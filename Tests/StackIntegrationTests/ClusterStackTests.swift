import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// `streams-stack up --cluster`: the stack's services on a local Redis Cluster of six
/// detached redis-servers (3 masters, 3 replicas) with six partitions per stream; the todo
/// flow and the order saga across it; `status` showing the nodes; `down` leaving no process.
@Suite("Local stack on a Redis Cluster (streams-stack up --cluster)", .serialized)
struct ClusterStackTests {
    /// Runs `streams-stack <arguments>` with a private state folder and service ports.
    static func stack(_ arguments: [String], directory: String, ports: StackPorts) async throws -> (exitCode: Int32, output: String) {
        var environment = ports.environment(directory: directory)
        environment["STACK_REPOSITORY"] = StackTests.repository.path
        environment["STREAM_PARTITIONS"] = nil  // the cluster's default: six
        // Every write acknowledged by a replica too: the flows below also prove the services may WAIT.
        environment["PUBLISH_WAIT_REPLICAS"] = "1"
        return try await ChildProcess.run(try ChildProcess.builtExecutable(named: "streams-stack"), arguments, environment: environment)
    }

    static func pids(in directory: String) throws -> [String: pid_t] {
        var pids: [String: pid_t] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory + "/pids") where file.hasSuffix(".pid") {
            let text = try String(contentsOfFile: directory + "/pids/" + file, encoding: .utf8)
            pids[String(file.dropLast(4))] = pid_t(text.split(separator: " ")[0])
        }
        return pids
    }

    /// Whether `pid` is gone (a zombie not yet reaped by init counts as gone).
    static func isGone(_ pid: pid_t) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return stat.isEmpty || stat.contains(") Z")
    }

    @Test func upClusterRunsTheTodoFlowAndTheSagaOnSixNodesAndDownLeavesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-stack-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = ContinuousClock.now
        let (ports, up) = try await StackPorts.withFreshPorts { ports in
            let up = try await Self.stack(["up", "--cluster", "--timeout", "120"], directory: directory, ports: ports)
            if up.exitCode != 0 { _ = try await Self.stack(["down"], directory: directory, ports: ports) }
            return (up, up.exitCode != 0 && StackPorts.portWasTaken(up.output))
        }
        let upTook = ContinuousClock.now - started
        var pids: [String: pid_t] = [:]
        var nodePorts: [Int] = []
        do {
            try #require(up.exitCode == 0, "\(up.output)")
            print("streams-stack up --cluster took \(upTook)")
            #expect(up.output.contains("redis cluster: 3 masters, 3 replicas, formed and healthy"), "\(up.output)")
            #expect(up.output.contains("STREAM_PARTITIONS=6 (2 per master)"), "\(up.output)")
            pids = try Self.pids(in: directory)
            #expect(
                Set(pids.keys) == Set((1...6).map { "redis-node\($0)" } + [
                    "todo-service", "notification-service", "analytics-service", "order-service", "inventory-service",
                    "payment-service", "saga-coordinator",
                ]))
            #expect(try String(contentsOfFile: directory + "/mode", encoding: .utf8) == "cluster\n")
            for service in ["todo-service", "order-service", "saga-coordinator", "payment-service"] {
                let environ = (try? String(contentsOfFile: "/proc/\(pids[service] ?? 0)/environ", encoding: .utf8)) ?? ""
                #expect(environ.split(separator: "\0").contains("PUBLISH_WAIT_REPLICAS=1"), "\(service) does not wait for a replica")
            }
            for index in 1...6 {
                let port = try String(contentsOfFile: directory + "/cluster/node\(index)/port", encoding: .utf8)
                nodePorts.append(try #require(Int(port.trimmingCharacters(in: .whitespacesAndNewlines))))
                // Each node: its own cluster config file and data folder, its configuration private.
                #expect(FileManager.default.fileExists(atPath: directory + "/cluster/node\(index)/nodes.conf"))
                let mode = try FileManager.default.attributesOfItem(atPath: directory + "/cluster/node\(index)/redis.conf")[.posixPermissions]
                #expect((mode as? NSNumber)?.intValue == 0o600)
            }
            #expect(Set(nodePorts).count == 6)

            // status: the six nodes with their roles, the operator's URL naming every node.
            let status = try await Self.stack(["status"], directory: directory, ports: ports)
            #expect(status.exitCode == 0, "\(status.output)")
            let nodeLines = status.output.split(separator: "\n").filter { $0.hasPrefix("redis-node") }
            #expect(nodeLines.count == 6, "\(status.output)")
            #expect(nodeLines.filter { $0.contains("master (slots ") }.count == 3, "\(status.output)")
            #expect(nodeLines.filter { $0.contains("replica of redis-node") }.count == 3, "\(status.output)")
            let secrets = try String(contentsOfFile: directory + "/secrets.env", encoding: .utf8)
            let operatorURL = "redis://operator:\(SagaStack.secret("operator", in: secrets))@"
                + nodePorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
            #expect(status.output.contains("REDIS_URL=\(operatorURL)\n"), "\(status.output)")
            let redisURL = try await Self.stack(["redis-url", "todo-service"], directory: directory, ports: ports)
            #expect(redisURL.output.hasPrefix("redis://todo-service:\(SagaStack.secret("todo-service", in: secrets))@127.0.0.1:\(nodePorts[0]),"))

            // Every service runs with its own user on every node, and six partitions.
            for service in ["todo-service", "saga-coordinator"] {
                let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pids[service]!)/environ"))
                let variables = String(decoding: environ, as: UTF8.self).split(separator: "\0")
                #expect(variables.contains("STREAM_PARTITIONS=6"))
                let url = "REDIS_URL=redis://\(service):\(SagaStack.secret(service, in: secrets))@"
                    + nodePorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
                #expect(variables.contains { $0 == url }, "\(service): \(variables.filter { $0.hasPrefix("REDIS_URL") })")
            }
            let operatorClient = RedisClient(configuration: try RedisConfiguration(url: operatorURL))
            defer { operatorClient.close() }

            // The todo flow: created and completed, notified and counted.
            let todoURL = "http://127.0.0.1:\(ports.todo)"
            let (created, todo) = try await StackTests.json("POST", todoURL + "/todos", ["user_id": "erin", "title": "Water the plants"])
            #expect(created == 201)
            let id = try #require((todo as? [String: Any])?["id"] as? String)
            #expect(try await StackTests.json("POST", todoURL + "/todos/\(id)/complete").0 == 200)
            var notifications: [[String: Any]] = []
            var counters: [String: Any] = [:]
            let flowed = try await eventually(timeout: .seconds(30)) {
                notifications = (try await StackTests.json("GET", "http://127.0.0.1:\(ports.notification)/notifications?user_id=erin").1
                    as? [[String: Any]]) ?? []
                counters = ((try await StackTests.json("GET", "http://127.0.0.1:\(ports.analytics)/stats/users/erin").1
                    as? [String: Any])?["counters"] as? [String: Any]) ?? [:]
                return notifications.count == 2 && counters["completed"] as? Int == 1
            }
            #expect(flowed, "notifications \(notifications), counters \(counters)")
            #expect(notifications.map { $0["kind"] as? String } == ["todo_completed", "todo_created"])
            #expect(counters["created"] as? Int == 1 && counters["completed"] as? Int == 1)
            // Its events are in the todo's partition stream, on the master serving that slot.
            let partitionStreams = try await operatorClient.scanKeys(matching: "todo-events:{*}", type: "stream")
            #expect(!partitionStreams.isEmpty)
            var todoEvents = 0
            for key in partitionStreams where !key.contains(":dlq:") && !key.contains(":owners:") {
                todoEvents += try await operatorClient.xrange(key).filter { $0.string(named: "aggregate_id") == id }.count
            }
            #expect(todoEvents == 2)

            // The order saga: one confirmed, one compensated after a declined card.
            let orderURL = "http://127.0.0.1:\(ports.order)"
            func order(card: String) async throws -> String {
                let (status, body) = try await StackTests.json(
                    "POST", orderURL + "/orders",
                    ["user_id": "erin", "items": [["sku": "sku-1", "quantity": 1]], "amount_cents": 1_299, "card": card])
                #expect(status == 202, "\(String(describing: body))")
                return try #require((body as? [String: Any])?["id"] as? String)
            }
            for (card, state, status) in [("4242424242424242", "completed", "confirmed"), ("4000000000000002", "compensated", "cancelled")] {
                let orderID = try await order(card: card)
                var saga: [String: Any] = [:]
                let ended = try await eventually(timeout: .seconds(60)) {
                    saga = (try await StackTests.json("GET", "http://127.0.0.1:\(ports.saga)/sagas/\(orderID)").1 as? [String: Any]) ?? [:]
                    return saga["state"] as? String == state
                }
                #expect(ended, "saga \(orderID): \(saga)")
                let placed = try await StackTests.json("GET", orderURL + "/orders/\(orderID)").1 as? [String: Any]
                #expect(placed?["status"] as? String == status, "\(String(describing: placed))")
            }

            // cluster-init.sh (docker compose's one-shot) finds the nodes formed and healthy.
            var environment = ProcessInfo.processInfo.environment
            environment["REDIS_CLUSTER_NODES"] = nodePorts.map { "127.0.0.1:\($0)" }.joined(separator: " ")
            environment["REDIS_CLUSTER_ADMIN_PASSWORD"] = SagaStack.secret("cluster-admin", in: secrets)
            environment["REDIS_CLUSTER_TIMEOUT"] = "30"
            let initialization = try await ChildProcess.run(
                "/bin/sh", [StackTests.repository.appendingPathComponent("deploy/redis/cluster-init.sh").path], environment: environment)
            #expect(initialization.exitCode == 0 && initialization.output.contains("healthy: 6 nodes"), "\(initialization.output)")

            // A cluster stack refuses a plain up.
            let plain = try await Self.stack(["up", "--timeout", "10"], directory: directory, ports: ports)
            #expect(plain.exitCode != 0 && plain.output.contains("was started with --cluster"), "\(plain.output)")
        } catch {
            _ = try? await Self.stack(["down"], directory: directory, ports: ports)
            throw error
        }
        let down = try await Self.stack(["down"], directory: directory, ports: ports)
        #expect(down.exitCode == 0, "\(down.output)")
        #expect(down.output.split(separator: "\n").filter { $0.hasPrefix("redis-node") }.count == 6, "\(down.output)")
        #expect(!pids.isEmpty)
        #expect(try await eventually(timeout: .seconds(10)) { pids.values.allSatisfy(Self.isGone) }, "a process of the stack still runs")
        // No redis-server of the cluster left (pgrep -f matches a live process's command line).
        for port in nodePorts {
            let left = try await ChildProcess.run("/usr/bin/pgrep", ["-f", "redis-server 127.0.0.1:\(port)"])
            #expect(left.exitCode == 1, "a redis-server on port \(port) still runs: \(left.output)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory + "/pids")) ?? []).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + "/mode"))
    }

    @Test func upClusterRefusesToStartOverAPlainStackAndOneOrNoPartitions() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-refusal-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ports = StackPorts()
        // A plain stack's redis-server "running": a process recorded under its name.
        let stand = try ChildProcess(executable: "/bin/sleep", arguments: ["60"])
        defer {
            stand.send(SIGKILL)
            stand.wait()
        }
        try FileManager.default.createDirectory(atPath: directory + "/pids", withIntermediateDirectories: true)
        try "\(stand.pid) sleep".write(toFile: directory + "/pids/redis.pid", atomically: true, encoding: .utf8)
        let refused = try await Self.stack(["up", "--cluster", "--timeout", "10"], directory: directory, ports: ports)
        #expect(refused.exitCode != 0, "\(refused.output)")
        #expect(refused.output.contains("a stack started without --cluster is running"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/mode"))
        try FileManager.default.removeItem(atPath: directory + "/pids/redis.pid")
        // One partition cannot run on a cluster (keys without partition tags span slots).
        var environment = ports.environment(directory: directory)
        environment["STACK_REPOSITORY"] = StackTests.repository.path
        environment["STREAM_PARTITIONS"] = "1"
        let one = try await ChildProcess.run(
            try ChildProcess.builtExecutable(named: "streams-stack"), ["up", "--cluster", "--timeout", "10"], environment: environment)
        #expect(one.exitCode != 0 && one.output.contains("cannot run on a cluster"), "\(one.output)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory + "/pids")) ?? []).isEmpty)
    }
}
