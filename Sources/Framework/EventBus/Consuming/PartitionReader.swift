import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Reads one partition stream (or an unpartitioned stream) as one member of a consumer
/// group: the read loop, its reclaim loop and its lease loop (see `EventConsumer` for the
/// guarantees). It owns two Redis connections: one for `XREADGROUP ... BLOCK` (which holds a
/// connection while it waits), one for the reclaim and lease loops (`PendingReclaimer`).
final class PartitionReader: Sendable {
    let configuration: EventConsumer.Configuration
    private let redis: RedisConfiguration
    private let dispatcher: EventDispatcher
    /// Before reading new entries, take over every entry pending in the group on this stream,
    /// whoever it was delivered to (the reader owns the partition: its previous owner's lease
    /// is gone), and handle them first, in stream order.
    private let takeOverPending: Bool
    private let stopRequested = Atomic<Bool>(false)
    /// Set once the entries left pending before this reader started were taken back.
    private let recovered = Atomic<Bool>(false)
    private var logger: Logger { dispatcher.logger }

    /// `configuration.stream` is the stream key read: a partition stream when partitioned.
    init(
        redis: RedisConfiguration, configuration: EventConsumer.Configuration, handlers: EventHandlers,
        takeOverPending: Bool = false, logger: Logger
    ) {
        self.redis = redis
        self.configuration = configuration
        self.takeOverPending = takeOverPending
        var logger = logger
        logger[metadataKey: "redis.stream"] = "\(configuration.stream)"
        self.dispatcher = EventDispatcher(configuration: configuration, handlers: handlers, logger: logger)
    }

    // MARK: Running

    /// Asks `run` to return as on a graceful stop: no new read; the handlers in flight finish
    /// (not cancelled) and are acknowledged. Takes effect within `blockTimeout`.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
    }

    /// Runs until `stop()`, task cancellation or a graceful shutdown; then stops reading,
    /// lets the handlers in flight finish and acknowledges them.
    func run() async {
        var redis = self.redis
        let partition = StreamPartitions.partitionTag(of: configuration.stream).map { ":" + $0 } ?? ""
        let name = redis.clientName ?? "consumer:\(configuration.group):\(configuration.consumerName)\(partition)"
        redis.clientName = name
        let client = RedisClient(configuration: redis, logger: logger)
        redis.clientName = name + ":reclaim"
        let reclaimer = PendingReclaimer(dispatcher: dispatcher, client: RedisClient(configuration: redis, logger: logger))
        // The consumer runs on its connection's thread: a read that returns resumes it there
        // without a thread wake-up, which is most of the latency of an idle consumer. The
        // reclaim loop runs on its own connection's thread.
        await withTaskExecutorPreference(client.executor) {
            await withDiscardingTaskGroup { group in
                group.addTask(executorPreference: reclaimer.client.executor) {
                    await reclaimer.run { self.recovered.load(ordering: .acquiring) }
                }
                // Claim renewal and handler timeouts on their own schedule: never behind a
                // redelivery that the reclaim loop is running.
                group.addTask(executorPreference: reclaimer.client.executor) { await reclaimer.keepLeases() }
                var state = ReadState()
                while true {
                    // One reading session. Quick handlers run inline in it (no task per batch);
                    // one that overruns its timeout cancels the session, which ends (acknowledging
                    // what it handled) and is started again.
                    let session = SessionHandle()
                    let task = Task(executorPreference: client.executor) { [state] in
                        await self.consume(client, reclaimer: reclaimer, state: state, cancelSession: session.cancel)
                    }
                    session.attach(task)
                    state = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
                    if shouldStop { break }
                    logger.warning("Read loop restarted after a handler overran its timeout")
                }
                group.cancelAll()
            }
        }
        // The last acknowledgements are answered before `run` returns.
        await client.shutdown()
        await reclaimer.client.shutdown()
    }

    /// What a reading session hands to the next one.
    private struct ReadState: Sendable {
        var groupReady = false
        var recovered = false
        var lastReadID: StreamEntryID?
    }

    /// The read loop of one session; returns when stopping or when the session is cancelled.
    private func consume(
        _ client: RedisClient, reclaimer: PendingReclaimer, state: ReadState, cancelSession: @escaping @Sendable () -> Void
    ) async -> ReadState {
        var state = state
        var backoff = configuration.initialErrorBackoff
        var acknowledgements: [StreamEntryID] = []
        // The batches whose handled entries `acknowledgements` holds (see `InFlightWork`),
        // released once their XACK was sent.
        var holds: [Int] = []
        let inFlight = dispatcher.inFlight

        // The next batch, read while the current one is handled (only while there is a backlog),
        // with the acknowledgements that travelled with it.
        var prefetch: (read: PendingEntries, acknowledgements: [StreamEntryID], holds: [Int])?

        if !state.recovered {
            logger.info(
                "Consumer starting",
                metadata: ["event.types": "\(dispatcher.handlers.eventTypes.joined(separator: ","))"])
        }
        while !shouldStop || prefetch != nil {
            do {
                if !state.groupReady {
                    try await createGroup(client, after: state.lastReadID)
                    state.groupReady = true
                }
                if !state.recovered {
                    // A restarted consumer first takes back what it had not acknowledged; a new
                    // owner of a partition, everything pending in it.
                    if takeOverPending {
                        try await reclaimer.takeOverPending()
                    } else {
                        await reclaimer.recoverOwnPending()
                    }
                    state.recovered = true
                    recovered.store(true, ordering: .releasing)
                }
                let entries: [StreamEntry]
                if let (read, sent, sentHolds) = prefetch {
                    prefetch = nil
                    do {
                        entries = try await read.value()
                        inFlight.release(sentHolds)
                    } catch {
                        acknowledgements = sent + acknowledgements  // not known to have arrived
                        holds = sentHolds + holds
                        throw error
                    }
                } else {
                    entries = try await client.readEntries(
                        readCommands(acknowledging: acknowledgements, block: true), block: configuration.blockTimeout)
                    acknowledgements.removeAll(keepingCapacity: true)
                    inFlight.release(holds)
                    holds.removeAll(keepingCapacity: true)
                }
                backoff = configuration.initialErrorBackoff
                if let last = entries.last { state.lastReadID = max(last.id, state.lastReadID ?? last.id) }
                // A full batch of quick handlers means a backlog: fetch the next batch while this
                // one is handled, so Redis and the handlers work at the same time. (Slow handlers
                // get no prefetch: entries would wait unhandled, and reads pause while they run.)
                if entries.count == configuration.batchSize && !shouldStop && !dispatcher.handlersWait {
                    // Without BLOCK: handlers' jobs share this thread and must not wait behind it.
                    prefetch = (
                        client.readEntriesLater(readCommands(acknowledging: acknowledgements, block: false), block: nil),
                        acknowledgements, holds
                    )
                    acknowledgements.removeAll(keepingCapacity: true)
                    holds.removeAll(keepingCapacity: true)
                    // Handle this batch on the shared pool, so the connection thread reads the
                    // next one meanwhile.
                    let handled = await withTaskExecutorPreference(globalConcurrentExecutor) {
                        await dispatcher.handle(
                            entries, client: client, executor: globalConcurrentExecutor, inlineCancel: cancelSession)
                    }
                    acknowledgements += handled.ids
                    holds.append(handled.hold)
                } else if !entries.isEmpty {
                    // No backlog: handle right here, with no thread hop (lowest latency).
                    let handled = await dispatcher.handle(
                        entries, client: client, executor: client.executor, inlineCancel: cancelSession)
                    acknowledgements += handled.ids
                    holds.append(handled.hold)
                }
            } catch let error as RedisError where error.code == .noGroup {
                logger.error(
                    "Consumer group is gone (destroyed, its stream deleted, or data flushed); creating it again",
                    metadata: ["error": "\(error.message)"])
                state.groupReady = false
                acknowledgements.removeAll()  // their group no longer exists
                inFlight.release(holds)
                holds.removeAll()
            } catch let error as RedisError where error.code == .wrongType {
                logger.error(
                    "The stream key holds another type of value; waiting for it to be a stream again",
                    metadata: [
                        "error": "\(error.message)", "retry.delay_ms": "\(backoff.nanoseconds / 1_000_000)",
                    ])
                state.groupReady = false
                await sleepUnlessStopping(backoff)
                backoff = min(backoff * 2, configuration.maximumErrorBackoff)
            } catch {
                // Acknowledgements that may not have reached Redis are sent again: XACK is idempotent.
                logger.warning(
                    "Reading from Redis failed; retrying",
                    metadata: ["error": "\(error)", "retry.delay_ms": "\(backoff.nanoseconds / 1_000_000)"])
                await sleepUnlessStopping(backoff)
                backoff = min(backoff * 2, configuration.maximumErrorBackoff)
            }
        }
        await acknowledgeBeforeStopping(acknowledgements, client: client)
        inFlight.release(holds)
        if Task.isShuttingDownGracefully || !Task.isCancelled { logger.info("Consumer stopped") }
        return state
    }

    private var shouldStop: Bool {
        Task.isShuttingDownGracefully || Task.isCancelled || stopRequested.load(ordering: .acquiring)
    }

    /// Creates the group if it does not exist. A group that vanished while this consumer ran
    /// is recreated just after the last entry it read, so the events published meanwhile are
    /// still delivered (and those already handled are not delivered again).
    private func createGroup(_ client: RedisClient, after lastReadID: StreamEntryID?) async throws {
        let start = lastReadID?.description ?? configuration.startPosition.streamID
        let created = try await client.xgroupCreate(configuration.stream, group: configuration.group, startAt: start)
        if created {
            logger.info("Created consumer group", metadata: ["consumer.start": "\(start)"])
        }
    }

    /// `XACK` of the handled entries (if any) followed by the next `XREADGROUP`, sent as one
    /// pipeline: acknowledging costs no round trip of its own.
    private func readCommands(acknowledging ids: [StreamEntryID], block: Bool) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if !ids.isEmpty {
            commands.append(.xack(configuration.stream, group: configuration.group, ids: ids))
        }
        var command = RedisCommand("XREADGROUP", capacity: 96)
        command.append("GROUP")
        command.append(configuration.group)
        command.append(configuration.consumerName)
        command.append("COUNT")
        command.append(configuration.batchSize)
        if block {
            command.append("BLOCK")
            command.append(Int(configuration.blockTimeout.nanoseconds / 1_000_000))
        }
        command.append("STREAMS")
        command.append(configuration.stream)
        command.append(">")
        commands.append(command)
        return commands
    }

    private func acknowledgeBeforeStopping(_ ids: [StreamEntryID], client: RedisClient) async {
        guard !ids.isEmpty else { return }
        for attempt in 1...3 {
            do {
                try await client.xack(configuration.stream, group: configuration.group, ids: ids)
                return
            } catch {
                logger.warning(
                    "Acknowledging handled events at stop failed; they stay pending and will be delivered again",
                    metadata: ["attempt": "\(attempt)", "event.count": "\(ids.count)", "error": "\(error)"])
            }
        }
    }

    private func sleepUnlessStopping(_ duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        while !shouldStop, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(50), deadline - .now))
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// The task of one reading session, cancellable by the handler watchdog.
private final class SessionHandle: Sendable {
    private let cancelAction = Mutex<(@Sendable () -> Void)?>(nil)
    private let cancelled = Atomic<Bool>(false)

    func attach<Success: Sendable>(_ task: Task<Success, Never>) {
        cancelAction.withLock { $0 = { task.cancel() } }
        if cancelled.load(ordering: .acquiring) { task.cancel() }
    }

    @Sendable func cancel() {
        cancelled.store(true, ordering: .releasing)
        cancelAction.withLock { $0 }?()
    }
}
