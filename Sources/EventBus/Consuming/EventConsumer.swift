import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Reads one stream as one member of a consumer group and hands each event to the handler
/// registered for its type.
///
/// Guarantees:
/// - At least once: an event is acknowledged (`XACK`) only after its handler returned. A
///   handler that throws, a crash or a kill before the acknowledgement leaves the event
///   pending in the group, to be delivered again (never silently dropped).
/// - Every group gets every event; within a group each event goes to one consumer at a time.
/// - Per-aggregate order: events of one aggregate read by this consumer are handled one at
///   a time in stream order; events of different aggregates run concurrently, up to
///   `maxInFlight`, once handlers are seen to take long enough (≥ 50 µs on average) for
///   concurrency to pay. Across consumers of a group, or after a redelivery, no order is
///   promised.
/// - An entry that cannot be decoded is logged and left pending, never acknowledged
///   silently. One whose type has no handler is left pending too, unless the consumer is
///   configured to acknowledge the types it does not want (`unhandledTypes: .acknowledge`).
/// - Graceful stop (SIGTERM through a `ServiceGroup`, or task cancellation): it stops reading,
///   lets the handlers in flight finish, acknowledges them, and returns.
///
/// The consumer owns its Redis connection: `XREADGROUP ... BLOCK` holds a connection
/// while it waits, so it is never shared with publishers.
public final class EventConsumer: Service, Sendable {
    public let configuration: Configuration
    private let redis: RedisConfiguration
    private let handlers: EventHandlers
    private let logger: Logger
    private let metrics: ConsumerMetrics
    /// Recent mean handler time (ns), to decide whether running handlers concurrently pays;
    /// it starts above the threshold so slow handlers run concurrently from the first batch.
    private let meanHandlerNanoseconds = Atomic<Int>(2 * EventConsumer.concurrencyThresholdNanoseconds)

    public init(
        redis: RedisConfiguration, configuration: Configuration, handlers: EventHandlers,
        logger: Logger = Logger(label: "event-consumer")
    ) throws {
        try configuration.validate()
        self.redis = redis
        self.configuration = configuration
        self.handlers = handlers
        var logger = logger
        logger[metadataKey: "redis.stream"] = "\(configuration.stream)"
        logger[metadataKey: "consumer.group"] = "\(configuration.group)"
        logger[metadataKey: "consumer.name"] = "\(configuration.consumerName)"
        self.logger = logger
        self.metrics = ConsumerMetrics(
            stream: configuration.stream, group: configuration.group, eventTypes: handlers.eventTypes)
    }

    // MARK: Running

    public func run() async throws {
        var redis = self.redis
        redis.clientName = redis.clientName ?? "consumer:\(configuration.group):\(configuration.consumerName)"
        let client = RedisClient(configuration: redis, logger: logger)
        defer { client.close() }
        // The consumer runs on its connection's thread: a read that returns resumes it there
        // without a thread wake-up, which is most of the latency of an idle consumer.
        await withTaskExecutorPreference(client.executor) {
            await consume(client)
        }
    }

    private func consume(_ client: RedisClient) async {
        var backoff = configuration.initialErrorBackoff
        var readingOwnPending = true
        var pendingCursor = "0"
        var acknowledgements: [StreamEntryID] = []
        var groupReady = false
        var lastReadID: StreamEntryID?

        // The next batch, read while the current one is handled (only while there is a backlog),
        // with the acknowledgements that travelled with it.
        var prefetch: (read: PendingEntries, acknowledgements: [StreamEntryID])?

        logger.info("Consumer starting", metadata: ["event.types": "\(handlers.eventTypes.joined(separator: ","))"])
        while !shouldStop || prefetch != nil {
            do {
                if !groupReady {
                    try await createGroup(client, after: lastReadID)
                    groupReady = true
                }
                let entries: [StreamEntry]
                if let (read, sent) = prefetch {
                    prefetch = nil
                    do {
                        entries = try await read.value()
                    } catch {
                        acknowledgements = sent + acknowledgements  // not known to have arrived
                        throw error
                    }
                } else {
                    // A restarted consumer first re-reads the entries it was given and did not
                    // acknowledge (id 0 and on), then switches to new entries (`>`).
                    entries = try await client.readEntries(
                        readCommands(acknowledging: acknowledgements, from: readingOwnPending ? pendingCursor : ">"),
                        block: readingOwnPending ? nil : configuration.blockTimeout)
                    acknowledgements.removeAll(keepingCapacity: true)
                }
                backoff = configuration.initialErrorBackoff
                if readingOwnPending {
                    if let last = entries.last {
                        pendingCursor = last.id.description
                    } else {
                        readingOwnPending = false
                    }
                } else if let last = entries.last {
                    lastReadID = max(last.id, lastReadID ?? last.id)
                }
                // A full batch means a backlog: fetch the next batch while this one is handled,
                // so Redis and the handlers work at the same time.
                if !readingOwnPending && entries.count == configuration.batchSize && !shouldStop {
                    // Without BLOCK: handlers' jobs share this thread and must not wait behind it.
                    let commands = readCommands(acknowledging: acknowledgements, from: ">", block: false)
                    prefetch = (client.readEntriesLater(commands, block: nil), acknowledgements)
                    acknowledgements.removeAll(keepingCapacity: true)
                    // Handle this batch on the shared pool, so the connection thread reads the
                    // next one meanwhile: Redis and the handlers work at the same time.
                    let handled = await withTaskExecutorPreference(globalConcurrentExecutor) { await handle(entries) }
                    acknowledgements += handled
                } else if !entries.isEmpty {
                    // No backlog: handle right here, with no thread hop (lowest latency).
                    acknowledgements += await handle(entries)
                }
            } catch let error as RedisError where error.code == .noGroup {
                logger.error(
                    "Consumer group is gone (destroyed or data flushed); creating it again",
                    metadata: ["error": "\(error.message)"])
                groupReady = false
                acknowledgements.removeAll()  // their group no longer exists
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
        logger.info("Consumer stopped")
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
    private func readCommands(acknowledging ids: [StreamEntryID], from id: String, block: Bool? = nil) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if !ids.isEmpty {
            commands.append(.xack(configuration.stream, group: configuration.group, ids: ids))
        }
        commands.append(readCommand(from: id, block: block ?? (id == ">")))
        return commands
    }

    private func readCommand(from id: String, block: Bool) -> RedisCommand {
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
        command.append(id)
        return command
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

    // MARK: Handling a batch

    /// Handles a batch and returns the ids to acknowledge (those whose handler succeeded).
    private func handle(_ entries: [StreamEntry]) async -> [StreamEntryID] {
        var work: [(RawEvent, AnyEventHandler)] = []
        work.reserveCapacity(entries.count)
        var skipped: [StreamEntryID] = []
        for entry in entries {
            switch prepare(entry) {
            case .handle(let raw, let handler): work.append((raw, handler))
            case .skip: skipped.append(entry.id)
            case .leavePending: break
            }
        }
        // Concurrency pays only when handlers wait (I/O); for handlers that return within
        // microseconds, fanning out costs more in task switches than it saves.
        let handlersWait = meanHandlerNanoseconds.load(ordering: .relaxed) >= Self.concurrencyThresholdNanoseconds
        let laneCount = handlersWait ? min(configuration.maxInFlight, work.count) : 1
        if laneCount <= 1 {
            var acknowledged = skipped
            acknowledged.reserveCapacity(work.count + skipped.count)
            for (raw, handler) in work where await dispatch(raw, handler) {
                acknowledged.append(raw.entryID)
            }
            return acknowledged
        }
        // Events of one aggregate share a lane and run in order; lanes run concurrently.
        var lanes = Array(repeating: [(RawEvent, AnyEventHandler)](), count: laneCount)
        for item in work {
            var hasher = Hasher()
            hasher.combine(item.0.envelope.aggregateID)
            lanes[Int(UInt(bitPattern: hasher.finalize()) % UInt(laneCount))].append(item)
        }
        return await withTaskGroup(of: [StreamEntryID].self) { group in
            for lane in lanes where !lane.isEmpty {
                group.addTask {
                    var acknowledged: [StreamEntryID] = []
                    for (raw, handler) in lane where await self.dispatch(raw, handler) {
                        acknowledged.append(raw.entryID)
                    }
                    return acknowledged
                }
            }
            var acknowledged = skipped
            acknowledged.reserveCapacity(work.count + skipped.count)
            for await ids in group { acknowledged += ids }
            return acknowledged
        }
    }

    private enum Preparation {
        case handle(RawEvent, AnyEventHandler)
        /// Acknowledge without handling (an unwanted type).
        case skip
        case leavePending
    }

    /// Decodes the envelope and finds the handler.
    private func prepare(_ entry: StreamEntry) -> Preparation {
        let raw: RawEvent
        do {
            raw = try RawEvent(stream: configuration.stream, entry: entry)
        } catch {
            metrics.undecodable.increment()
            logger.error(
                "Cannot decode stream entry; left pending",
                metadata: ["redis.entry_id": "\(entry.id)", "error": "\(error)"])
            return .leavePending
        }
        guard let handler = handlers.byType[raw.envelope.eventType] else {
            if configuration.unhandledTypes == .acknowledge {
                metrics.skipped.increment()
                logger.debug(
                    "No handler for event type; acknowledged without handling",
                    metadata: ["redis.entry_id": "\(entry.id)", "event.type": "\(raw.envelope.eventType)"])
                return .skip
            }
            metrics.unknownType.increment()
            logger.error(
                "No handler for event type; left pending",
                metadata: [
                    "redis.entry_id": "\(entry.id)", "event.type": "\(raw.envelope.eventType)",
                    "event.id": "\(raw.envelope.eventID)",
                ])
            return .leavePending
        }
        return .handle(raw, handler)
    }

    /// Runs one handler; true when the event may be acknowledged.
    private func dispatch(_ raw: RawEvent, _ handler: AnyEventHandler) async -> Bool {
        let start = ContinuousClock.now
        let outcome = await handler.handle(raw)
        let duration = ContinuousClock.now - start
        recordHandlerTime(duration)
        let typeMetrics = metrics.forType(raw.envelope.eventType)
        typeMetrics.duration.recordNanoseconds(duration.nanoseconds)
        switch outcome {
        case .handled:
            typeMetrics.handled.increment()
            logger.debug(
                "Handled event",
                metadata: eventMetadata(raw, duration: duration, outcome: "success"))
            return true
        case .failed(let error):
            typeMetrics.failed.increment()
            var metadata = eventMetadata(raw, duration: duration, outcome: "\(error.code)")
            metadata["error"] = "\(error.message)"
            logger.warning("Event handling failed; left pending for redelivery", metadata: metadata)
            return false
        }
    }

    /// Handlers slower than this on average (50 µs) run concurrently, up to `maxInFlight`.
    static let concurrencyThresholdNanoseconds = 50_000

    /// Keeps an exponentially weighted mean of handler durations (weight 1/8).
    private func recordHandlerTime(_ duration: Duration) {
        let sample = Int(clamping: duration.nanoseconds)
        let mean = meanHandlerNanoseconds.load(ordering: .relaxed)
        meanHandlerNanoseconds.store(mean + (sample - mean) / 8, ordering: .relaxed)
    }

    private func eventMetadata(_ raw: RawEvent, duration: Duration, outcome: String) -> Logger.Metadata {
        [
            "event.type": "\(raw.envelope.eventType)", "event.id": "\(raw.envelope.eventID)",
            "event.aggregate_id": "\(raw.envelope.aggregateID)", "event.correlation_id": "\(raw.envelope.correlationID)",
            "redis.entry_id": "\(raw.entryID)", "duration_us": "\(duration.nanoseconds / 1000)", "outcome": "\(outcome)",
        ]
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
