import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Runs one consumer's share of a group with partition ownership: the heartbeat loop that
/// keeps its membership and leases in Redis (`partition-ownership.lua`), and a
/// `PartitionReader` for each partition it owns.
///
/// Guarantees (with `PartitionLeases`):
/// - A partition is read only under a lease this consumer holds: a reader starts after the
///   heartbeat that took the lease, and is stopped when the assignment moves the partition
///   elsewhere (drained first: handlers finish and are acknowledged, then the lease is
///   released), or at once when no heartbeat succeeded for a whole lease (the lease may have
///   expired and another consumer may own the partition).
/// - A newly acquired partition is read by a reader that first takes over everything
///   pending in it; a partition this consumer still drains from before is read again only
///   once that reader has returned.
/// - On a graceful stop the readers drain, then the consumer leaves the group's membership
///   and gives its leases up in one heartbeat, so the other members take them at once.
struct PartitionOwnership: Sendable {
    let consumer: EventConsumer
    let leases: PartitionLeases
    let client: RedisClient
    let logger: Logger

    private var configuration: EventConsumer.Configuration { consumer.configuration }

    /// The key of the group's ownership hash, `<stream>:owners:<group>`.
    static func ownersKey(stream: String, group: String) -> String {
        "\(stream):owners:\(group)"
    }

    /// The script is `Partitioning/partition-ownership.lua` (its header: KEYS, ARGV, reply, what it checks).
    static let script = LuaScripts.partitionOwnership

    /// A task that says whether it has returned.
    private final class ReaderTask: Sendable {
        private let done = Atomic<Bool>(false)
        private let task = Mutex<Task<Void, Never>?>(nil)

        init(after previous: ReaderTask?, _ body: @escaping @Sendable () async -> Void) {
            let task = Task { [self] in
                await previous?.value
                await body()
                self.done.store(true, ordering: .releasing)
            }
            self.task.withLock { $0 = task }
        }

        var isFinished: Bool { done.load(ordering: .acquiring) }
        var value: Void { get async { await task.withLock { $0 }?.value } }
    }

    /// A partition's reader and the task running it.
    private struct Running {
        let reader: PartitionReader
        let task: ReaderTask
        /// Stopped because the partition is to be released (drained, then given up).
        var releasing = false
    }

    func run() async {
        let clock = ContinuousClock()
        var running: [Int: Running] = [:]
        /// Readers stopped after the lease was lost: not released (nothing to give up), but a
        /// new reader of the partition waits for them.
        var stopping: [Int: ReaderTask] = [:]
        var validUntil: ContinuousClock.Instant?
        var failing = false
        var members = 0
        /// Leases to give up at the next heartbeat: partitions drained, and partitions this
        /// consumer holds in Redis without reading them (a restart under the same name, a
        /// heartbeat whose reply was lost). Giving up a lease another consumer holds is a no-op.
        var giveUp: Set<Int> = []

        while !shouldStop {
            for (partition, entry) in running where entry.releasing && entry.task.isFinished {
                giveUp.insert(partition)
                running[partition] = nil
            }
            stopping = stopping.filter { !$0.value.isFinished }
            let sent = clock.now
            do {
                let beat = try await heartbeat(releasing: giveUp.sorted(), leaving: false)
                giveUp = []
                validUntil = sent + leases.leaseDuration
                if failing { logger.info("Partition heartbeats work again") }
                failing = false
                if beat.members != members {
                    members = beat.members
                    logger.info(
                        "Partition assignment",
                        metadata: ["consumer.members": "\(beat.members)", "partitions.owned": "\(beat.owned)"])
                }
                let owned = Set(beat.owned)
                // Leases lost (expired while this consumer stalled): stop at once.
                for (partition, entry) in running where !owned.contains(partition) && !entry.releasing {
                    logger.warning(
                        "Lost the lease of a partition; stopping its reader",
                        metadata: ["partition": "\(partition)"])
                    entry.reader.stop()
                    stopping[partition] = entry.task
                    running[partition] = nil
                }
                for partition in beat.toRelease {
                    guard var entry = running[partition] else {
                        giveUp.insert(partition)  // held, not read: given up at the next beat
                        continue
                    }
                    guard !entry.releasing else { continue }
                    logger.info("Partition assigned to another consumer; draining it", metadata: ["partition": "\(partition)"])
                    entry.reader.stop()
                    entry.releasing = true
                    running[partition] = entry
                }
                for partition in beat.owned where running[partition] == nil && !beat.toRelease.contains(partition) {
                    running[partition] = start(partition, after: stopping[partition])
                }
            } catch {
                if !failing {
                    logger.warning("Partition heartbeat failed; retrying", metadata: ["error": "\(error)"])
                }
                failing = true
                if let deadline = validUntil, clock.now >= deadline {
                    // A whole lease without a heartbeat: another consumer may own these now.
                    for (partition, entry) in running {
                        entry.reader.stop()
                        stopping[partition] = entry.task
                    }
                    if !running.isEmpty {
                        logger.error(
                            "No partition heartbeat for a whole lease; stopped reading every partition",
                            metadata: ["partitions": "\(running.keys.sorted())"])
                    }
                    running = [:]
                    validUntil = nil
                }
            }
            await sleepUnlessStopping(leases.heartbeatInterval)
        }

        // Stopping: drain every reader, then leave and give the partitions up in one heartbeat.
        for entry in running.values { entry.reader.stop() }
        for entry in running.values { await entry.task.value }
        for task in stopping.values { await task.value }
        do {
            _ = try await heartbeat(releasing: giveUp.union(running.keys).sorted(), leaving: true)
        } catch {
            logger.warning(
                "Could not give the partitions up; they move when their leases expire",
                metadata: ["error": "\(error)", "lease_ms": "\(leases.leaseDuration.nanoseconds / 1_000_000)"])
        }
    }

    /// Starts reading `partition` (taking over what is pending in it), once `previous` (a
    /// reader of it still stopping) has returned.
    private func start(_ partition: Int, after previous: ReaderTask?) -> Running {
        let reader = consumer.reader(partition: partition, takeOverPending: true)
        logger.info("Reading an owned partition", metadata: ["partition": "\(partition)"])
        return Running(reader: reader, task: ReaderTask(after: previous) { await reader.run() })
    }

    private func heartbeat(releasing: [Int], leaving: Bool) async throws -> PartitionOwnershipReply {
        try await client.run(
            Self.script, keys: [Self.ownersKey(stream: configuration.stream, group: configuration.group)],
            as: PartitionOwnershipReply.self
        ) { command in
            command.append(configuration.consumerName)
            command.append(Int(leases.leaseDuration.nanoseconds / 1_000_000))
            command.append(configuration.partitions.count)
            command.append(leaving ? "leave" : "beat")
            for partition in releasing { command.append(partition) }
        }
    }

    private var shouldStop: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    private func sleepUnlessStopping(_ duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        while !shouldStop, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(50), deadline - .now))
        }
    }
}
