import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// The benchmark client: the same modes, flags and JSON output as the hiredis reference
/// client `hb` (../shared/anchors/hb.c), but going through the framework: typed events
/// encoded by the publisher, read by an `EventConsumer`, decoded into typed values and
/// acknowledged. `scripts/bench.sh` runs both side by side.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams-bench",
        abstract: "Publish / consume / end-to-end benchmark through the event bus (hb-compatible flags).")

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case pub, consume, e2e
    }

    @Argument(help: "pub | consume | e2e")
    var mode: Mode

    @Option(name: .customShort("s"), help: "Unix socket of the redis-server.")
    var socket: String?

    @Option(name: .customShort("H"), help: "Host (when no socket is given).")
    var host = "127.0.0.1"

    @Option(name: .customShort("p"), help: "Port (when no socket is given).")
    var port = 6391

    @Option(name: .customShort("n"), help: "Number of events.")
    var count = 200_000

    @Option(name: .customShort("b"), help: "Publish batch size.")
    var batch = 100

    @Option(name: .customShort("k"), help: "Stream key.")
    var stream = "s"

    @Option(name: .customShort("r"), help: "Offered rate in events/s for e2e (0 = as fast as possible).")
    var rate: Double = 0

    @Option(name: .customShort("A"), help: "Accepted for hb compatibility; the consumer always acknowledges per batch.")
    var ackMode: String?

    @Option(name: .customShort("m"), help: "MAXLEN ~ for publishing (0 = none).")
    var maxLength = 0

    @Option(
        help: """
            The client's cluster mode: never (one node, no slot routing; the default), always (the slot \
            map loaded from the node, every command routed by its key's slot; against a cluster node), \
            automatic (routing from the first MOVED). scripts/cluster-routing-cost.sh compares never and \
            always against a one-master cluster.
            """)
    var cluster: RedisConfiguration.ClusterMode = .never

    @Option(name: .customLong("max-in-flight"), help: "Consumer handlers run at once.")
    var maxInFlight = 16

    @Option(name: .customShort("w"), help: "Publish batches in flight at once at full speed (concurrent publish calls).")
    var window = 2

    func run() async throws {
        var redis = RedisConfiguration(endpoint: socket.map { .unixSocket(path: $0) } ?? .tcp(host: host, port: port))
        redis.cluster = cluster
        let bench = Bench(
            redis: redis, stream: stream, count: count, batch: max(1, min(batch, 1000)),
            approximateMaxLength: maxLength > 0 ? maxLength : nil, maxInFlight: maxInFlight,
            window: max(1, window))
        let result: String
        switch mode {
        case .pub: result = try await bench.publishOnly()
        case .consume: result = try await bench.consumeOnly()
        case .e2e: result = try await bench.endToEnd(rate: rate)
        }
        print(result)
    }
}

extension RedisConfiguration.ClusterMode: ExpressibleByArgument {}
