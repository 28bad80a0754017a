import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Reads one stream as one member of a consumer group and hands each event to the handler
/// registered for its type.
///
/// Guarantees:
/// - At least once: an event is acknowledged (`XACK`) only after its handler returned. A
///   handler that throws or overruns `handlerTimeout`, a crash or a kill before the
///   acknowledgement leaves the event pending in the group; the group's pending-entries list
///   drives its redelivery (by this consumer or another) after a backoff that grows with
///   each delivery (`RetryPolicy`). Nothing is ever dropped silently: after
///   `maxDeliveries` the event moves to the dead letters `<stream>:dlq:<group>`, atomically
///   with its acknowledgement.
/// - Every group gets every event; within a group each event goes to one consumer at a time.
///   A consumer renews its claim on what it is handling (never taking back an entry another
///   consumer claimed meanwhile); a transactional commit or a dead letter writes only while
///   the entry is still pending to this consumer, so an event is never both applied and
///   dead-lettered (a delivery that lost its entry is `superseded`: nothing written).
/// - A delivery refused because another one holds the event's `IdempotencyGuard` lease does
///   not count towards `maxDeliveries`: the event waits, pending, for the lease to end.
/// - Per-aggregate order: events of one aggregate read by this consumer are handled one at
///   a time in stream order; events of different aggregates run concurrently, up to
///   `maxInFlight`, once handlers are seen to take long enough (≥ 50 µs on average) for
///   concurrency to pay. Across consumers of a group, or after a redelivery, no order is
///   promised.
/// - An entry that no retry can fix goes to the dead letters on first sight, with its
///   reason: `undecodable` (envelope or data invalid, too large), `unsupported_version`,
///   `unknown_type` (unless the group acknowledges the types it does not want,
///   `unhandledTypes: .acknowledge`), `deleted` (trimmed away while pending).
/// - A group that vanished (`XGROUP DESTROY`, `FLUSHALL`) is recreated, loudly; a stream key
///   of the wrong type is reported and retried with backoff, never in a tight loop.
/// - Graceful stop (SIGTERM through a `ServiceGroup`, or task cancellation): it stops reading,
///   lets the handlers in flight finish, acknowledges them, and returns.
///
/// The consumer owns two Redis connections: one for `XREADGROUP ... BLOCK` (which holds a
/// connection while it waits, so it is never shared with publishers), one for its reclaim
/// loop and its lease loop (`PendingReclaimer`: retries; claim renewal and handler timeouts,
/// which never wait behind a redelivery).
public final class EventConsumer: Service, Sendable {
    public let configuration: Configuration
    private let redis: RedisConfiguration
    private let dispatcher: EventDispatcher
    private var logger: Logger { dispatcher.logger }

    public init(
        redis: RedisConfiguration, configuration: Configuration, handlers: EventHandlers,
        logger: Logger = Logger(label: "event-consumer")
    ) throws {
        try configuration.validate()
        self.redis = redis
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.stream"] = "\(configuration.stream)"
        logger[metadataKey: "consumer.group"] = "\(configuration.group)"
        logger[metadataKey: "consumer.name"] = "\(configuration.consumerName)"
        self.dispatcher = EventDispatcher(configuration: configuration, handlers: handlers, logger: logger)
    }

    // MARK: Running

    public func run() async throws {
        var redis = self.redis
        let name = redis.clientName ?? "consumer:\(configuration.group):\(configuration.consumerName)"
        redis.clientName = name
        let client = RedisClient(configuration: redis, logger: logger)
        redis.clientName = name + ":reclaim"
        let reclaimer = PendingReclaimer(dispatcher: dispatcher, client: RedisClient(configuration: redis, logger: logger))
        // The consumer runs on its connection's thread: a read that returns resumes it there
        // without a thread wake-up, which is most of the latency of an idle consumer. The
        // reclaim loop runs on its own connection's thread.
        await withTaskExecutorPreference(client.executor) {
            await withDiscardingTaskGroup { group in
                group.addTask(executorPreference: reclaimer.client.executor) { await reclaimer.run() }
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
                    if Task.isCancelled || Task.isShuttingDownGracefully { break }
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
                    if !state.recovered {
                        // A restarted consumer first takes back what it had not acknowledged.
                        await reclaimer.recoverOwnPending()
                        state.recovered = true
                    }
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

    private var shouldStop: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

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
