import EventCodec
import Logging
import RedisClient
import Synchronization
import Tracing

/// Hands a batch of entries to their handlers and settles each one: acknowledged, left
/// pending for a retry, or moved to the dead letters. Shared by the consumer's read loop and
/// its reclaim loop.
final class EventDispatcher: Sendable {
    let configuration: EventConsumer.Configuration
    let handlers: EventHandlers
    let logger: Logger
    let metrics: ConsumerMetrics
    let inFlight = InFlightWork()
    private let deadLetters: DeadLetterWriter
    private let tracer: (any Tracer)?
    /// Recent mean handler time (ns), to decide whether running handlers concurrently pays;
    /// it starts above the threshold so slow handlers run concurrently from the first batch.
    private let meanHandlerNanoseconds = Atomic<Int>(2 * EventDispatcher.concurrencyThresholdNanoseconds)

    /// Handlers slower than this on average (50 µs) run concurrently, up to `maxInFlight`.
    static let concurrencyThresholdNanoseconds = 50_000

    init(configuration: EventConsumer.Configuration, handlers: EventHandlers, logger: Logger) {
        self.configuration = configuration
        self.handlers = handlers
        self.logger = logger
        let metrics = ConsumerMetrics(
            stream: configuration.metricsStream ?? configuration.stream, group: configuration.group,
            eventTypes: handlers.eventTypes)
        self.metrics = metrics
        self.deadLetters = DeadLetterWriter(
            stream: configuration.stream, group: configuration.group, consumer: configuration.consumerName,
            supersededCounter: metrics.superseded)
        self.tracer = EventTracing.tracer
    }

    /// Whether handlers take long enough on average for concurrency to pay.
    var handlersWait: Bool {
        meanHandlerNanoseconds.load(ordering: .relaxed) >= Self.concurrencyThresholdNanoseconds
    }

    /// One entry ready for its handler (a class: passed around by reference, not copied
    /// field by field).
    final class Work: Sendable {
        let raw: RawEvent
        let handler: AnyEventHandler
        let entry: StreamEntry
        let deliveries: Int

        init(raw: RawEvent, handler: AnyEventHandler, entry: StreamEntry, deliveries: Int) {
            self.raw = raw
            self.handler = handler
            self.entry = entry
            self.deliveries = deliveries
        }
    }

    /// What a batch left to acknowledge: the ids, and the token that holds them (this
    /// consumer does not reclaim them) until `inFlight.release` once the `XACK` was sent.
    struct Acknowledgements {
        var ids: [StreamEntryID]
        var hold: Int
    }

    /// Handles `entries` and returns the ids the caller must acknowledge. Dead letters are
    /// written (and acknowledged) here; failed entries are left pending for the reclaim loop.
    /// - Parameters:
    ///   - deliveryCounts: each entry's delivery count including this one (nil: all first deliveries).
    ///   - executor: where the handlers run.
    ///   - inlineCancel: when given, a single lane runs inline in the caller's task (no task
    ///     per batch), and a handler that overruns its timeout calls this to cancel that task.
    func handle(
        _ entries: [StreamEntry], deliveryCounts: [Int]? = nil, client: RedisClient, executor: any TaskExecutor,
        inlineCancel: (@Sendable () -> Void)? = nil
    ) async -> Acknowledgements {
        let token = inFlight.track(entries.map(\.id))
        var work: [Work] = []
        work.reserveCapacity(entries.count)
        var acknowledged: [StreamEntryID] = []
        var deadLetterRequests: [DeadLetterRequest] = []
        for (index, entry) in entries.enumerated() {
            let deliveries = deliveryCounts?[index] ?? 1
            switch prepare(entry, deliveries: deliveries) {
            case .handle(let item): work.append(item)
            case .acknowledge: acknowledged.append(entry.id)
            case .deadLetter(let request): deadLetterRequests.append(request)
            }
        }
        var outcomes = await run(work, client: client, executor: executor, inlineCancel: inlineCancel)
        await commitBatchedWrites(work, &outcomes, client: client)
        var receipts: [RedisCommand] = []
        var deferred: [Work] = []
        for (item, outcome) in zip(work, outcomes) {
            switch outcome {
            case .handled?:
                acknowledged.append(item.raw.entryID)
                if let stream = configuration.receiptsStream { receipts.append(receipt(for: item, in: stream)) }
            case .acknowledged?:
                if let stream = configuration.receiptsStream { receipts.append(receipt(for: item, in: stream)) }
            case .failed(let error)? where error.code == .effectInProgress:
                deferred.append(item)
            case .failed(let error)?:
                if let request = settleFailure(item, error) { deadLetterRequests.append(request) }
            case .superseded?:
                break  // no longer this consumer's: whoever holds it settles it
            case .writes?: preconditionFailure("batched writes are committed before they are settled")
            case nil: break  // not run (the consumer is stopping): stays pending
            }
        }
        if !receipts.isEmpty {
            do {
                _ = try await client.pipeline(receipts)
            } catch {
                logger.warning("Could not write receipts", metadata: ["error": "\(error)"])
            }
        }
        if !deferred.isEmpty { await giveBackDeliveries(deferred, client: client) }
        if !deadLetterRequests.isEmpty {
            let moved = await deadLetters.write(deadLetterRequests, client: client, logger: logger)
            metrics.deadLettered.increment(by: moved.count)
        }
        inFlight.finish(token, holding: acknowledged)
        return Acknowledgements(ids: acknowledged, hold: token)
    }

    private func receipt(for item: Work, in stream: String) -> RedisCommand {
        var command = RedisCommand.xadd(stream, approximateMaxLength: 1_000_000, capacity: 320)
        let envelope = item.raw.envelope
        for (name, value) in [
            ("event_id", envelope.eventID), ("event_type", envelope.eventType), ("aggregate_id", envelope.aggregateID),
            ("group", configuration.group), ("consumer", configuration.consumerName),
            ("published_at", envelope.timestampText),
            ("handled_at", RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds())),
            ("delivery", "\(item.deliveries)"),
        ] {
            command.append(name)
            command.append(value)
        }
        return command
    }

    /// Commits the writes of the `.perBatch` transactional handlers that ran, in one script
    /// per batch, and settles their outcomes and metrics.
    private func commitBatchedWrites(_ work: [Work], _ outcomes: inout [HandlingOutcome?], client: RedisClient) async {
        var indices: [Int] = []
        var items: [BatchedEventTransaction.Item] = []
        for (index, outcome) in outcomes.enumerated() {
            if case .writes(let writes, _)? = outcome {
                indices.append(index)
                items.append(BatchedEventTransaction.Item(raw: work[index].raw, writes: writes))
            }
        }
        guard !items.isEmpty else { return }
        let committed = await BatchedEventTransaction.commit(items, context: handlingContext(client: client, deliveries: 1))
        for (index, outcome) in zip(indices, committed) {
            guard case .writes(_, let duration)? = outcomes[index] else { continue }
            outcomes[index] = outcome
            recordOutcome(work[index], outcome, duration: duration)
        }
    }

    private func handlingContext(client: RedisClient, deliveries: Int) -> HandlingContext {
        HandlingContext(
            client: client, group: configuration.group, deliveryCount: deliveries,
            processedMarkerTTL: configuration.processedMarkerTTL, consumer: configuration.consumerName,
            batchesTransactions: true)
    }

    // MARK: Before the handler

    private enum Preparation {
        case handle(Work)
        /// Acknowledge without handling (a type this group does not want).
        case acknowledge
        case deadLetter(DeadLetterRequest)
    }

    /// Decodes the envelope, finds the handler, and turns away what no delivery can fix.
    private func prepare(_ entry: StreamEntry, deliveries: Int) -> Preparation {
        func deadLetter(_ reason: DeadLetter.Reason, _ error: String, deliveries: Int = deliveries) -> Preparation {
            if reason == .undecodable { metrics.undecodable.increment() }
            if reason == .unknownType { metrics.unknownType.increment() }
            return .deadLetter(DeadLetterRequest(entry: entry, reason: reason, error: error, deliveries: deliveries))
        }
        let raw: RawEvent
        do {
            raw = try RawEvent(stream: configuration.stream, entry: entry)
        } catch {
            if isReplayForAnotherGroup(entry) { return .acknowledge }
            return deadLetter(.undecodable, (error as? EventBusError)?.message ?? "\(error)")
        }
        if let target = raw.envelope.metadata[DeadLetter.replayForGroupMetadataKey], target != configuration.group {
            // A dead letter of another group, replayed for that group alone.
            metrics.skipped.increment()
            return .acknowledge
        }
        if raw.data.count > configuration.maximumEventBytes {
            return deadLetter(
                .undecodable, "data is \(raw.data.count) bytes, more than the maximum of \(configuration.maximumEventBytes)")
        }
        guard let handler = handlers.byType[raw.envelope.eventType] else {
            if configuration.unhandledTypes == .acknowledge {
                metrics.skipped.increment()
                return .acknowledge
            }
            return deadLetter(.unknownType, "no handler for event type '\(raw.envelope.eventType)' in group \(configuration.group)")
        }
        let maxDeliveries = handler.maxDeliveries ?? configuration.retry.maxDeliveries
        if deliveries > maxDeliveries {
            // The last allowed delivery never finished (its consumer died or its handler overran).
            return deadLetter(
                .maxDeliveries,
                "delivered \(deliveries - 1) times without success; the last delivery did not finish (consumer stopped or handler timed out)",
                deliveries: deliveries - 1)
        }
        return .handle(Work(raw: raw, handler: handler, entry: entry, deliveries: deliveries))
    }

    /// Whether an entry that does not decode was replayed for another group (which will
    /// dead-letter it again if it still does not decode).
    private func isReplayForAnotherGroup(_ entry: StreamEntry) -> Bool {
        guard let target = entry.value(named: DeadLetter.replayForGroupField) else { return false }
        return !target.elementsEqual(configuration.group.utf8)
    }

    // MARK: After the handler

    /// A dead letter for a failure no retry can fix or after the last allowed delivery; nil
    /// when the entry stays pending for a retry.
    private func settleFailure(_ item: Work, _ error: EventBusError) -> DeadLetterRequest? {
        let reason: DeadLetter.Reason?
        switch error.code {
        case .undecodable: reason = .undecodable
        case .unsupportedVersion: reason = .unsupportedVersion
        default:
            let maxDeliveries = item.handler.maxDeliveries ?? configuration.retry.maxDeliveries
            reason = item.deliveries >= maxDeliveries ? .maxDeliveries : nil
        }
        if let reason {
            return DeadLetterRequest(entry: item.entry, reason: reason, error: error.message, deliveries: item.deliveries)
        }
        let retryIn = configuration.retry.backoff(afterDeliveries: item.deliveries)
        var metadata = eventMetadata(item.raw)
        metadata["error"] = "\(error.message)"
        metadata["delivery"] = "\(item.deliveries)"
        metadata["retry.after_ms"] = "\(retryIn.nanoseconds / 1_000_000)"
        metadata["outcome"] = "retry"
        logger.warning("Event handling failed; left pending for a retry", metadata: metadata)
        return nil
    }

    /// The entries whose effect another delivery is running (`.effectInProgress`): this
    /// delivery does not count. Each stays pending with its delivery count set back to what
    /// it was before this delivery (`XCLAIM ... RETRYCOUNT <deliveries - 1> JUSTID`, only if
    /// still pending to this consumer), so it is tried again after its backoff and a lease
    /// outlasting the retry budget never sends it to the dead letters.
    private func giveBackDeliveries(_ items: [Work], client: RedisClient) async {
        do {
            _ = try await client.run(Self.giveBackScript, keys: [configuration.stream], as: ScriptCount.self) { command in
                command.append(configuration.group)
                command.append(configuration.consumerName)
                for item in items {
                    command.append(item.raw.entryID)
                    command.append(max(0, item.deliveries - 1))
                }
            }
        } catch {
            logger.warning(
                "Could not set back the delivery count of events whose effect is in progress elsewhere; this delivery counts",
                metadata: ["error": "\(error)", "event.count": "\(items.count)"])
            return
        }
        for item in items {
            let retryIn = configuration.retry.backoff(afterDeliveries: max(1, item.deliveries - 1))
            var metadata = eventMetadata(item.raw)
            metadata["delivery"] = "\(item.deliveries)"
            metadata["retry.after_ms"] = "\(retryIn.nanoseconds / 1_000_000)"
            metadata["outcome"] = "deferred"
            logger.info(
                "Another delivery holds this event's effect (idempotency lease); left pending, this delivery not counted",
                metadata: metadata)
        }
    }

    /// KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, then per entry: id, the delivery
    /// count to set. Only entries still pending to ARGV[2]; replies how many were set.
    /// The script is `Consuming/give-back-deliveries.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let giveBackScript = LuaScripts.giveBackDeliveries

    // MARK: Running handlers

    /// Runs the handlers; outcome nil for an entry whose handler was not run (stopping).
    private func run(
        _ work: [Work], client: RedisClient, executor: any TaskExecutor, inlineCancel: (@Sendable () -> Void)?
    ) async -> [HandlingOutcome?] {
        guard !work.isEmpty else { return [] }
        // Concurrency pays only when handlers wait (I/O); for handlers that return within
        // microseconds, fanning out costs more in task switches than it saves.
        let laneCount = handlersWait ? min(configuration.maxInFlight, work.count) : 1
        var lanes = Array(repeating: [Int](), count: laneCount)
        if laneCount == 1 {
            lanes[0] = Array(work.indices)
        } else {
            // Events of one aggregate share a lane and run in order; lanes run concurrently.
            for (index, item) in work.enumerated() {
                var hasher = Hasher()
                hasher.combine(item.raw.envelope.aggregateID)
                lanes[Int(UInt(bitPattern: hasher.finalize()) % UInt(laneCount))].append(index)
            }
        }
        var outcomes = [HandlingOutcome?](repeating: nil, count: work.count)
        if laneCount == 1, let inlineCancel {
            // Inline: a timeout cancels the caller's whole task (the consumer restarts it).
            let watch = inFlight.openLane(work.map(\.raw.entryID))
            defer { inFlight.closeLane(watch) }
            watch.attach(cancel: inlineCancel)
            for (index, outcome) in await runLane(watch, lanes[0][...], work, client: client) { outcomes[index] = outcome }
            return outcomes
        }
        var remaining = lanes.filter { !$0.isEmpty }.map { $0[...] }
        // A lane whose handler timed out is cancelled; what it had not started runs again in
        // a fresh lane. Stops when everything ran or the consumer itself is cancelled.
        while !remaining.isEmpty && !Task.isCancelled {
            let results = await runLanes(remaining, work, client: client, executor: executor)
            remaining = []
            for (lane, result) in results {
                for (index, outcome) in result { outcomes[index] = outcome }
                let unstarted = lane.dropFirst(result.count)
                if !unstarted.isEmpty { remaining.append(unstarted) }
            }
        }
        return outcomes
    }

    /// Runs each lane in its own task (so a timed-out handler can be cancelled alone).
    private func runLanes(
        _ lanes: [ArraySlice<Int>], _ work: [Work], client: RedisClient, executor: any TaskExecutor
    ) async -> [(ArraySlice<Int>, [(Int, HandlingOutcome)])] {
        var tasks: [(ArraySlice<Int>, Task<[(Int, HandlingOutcome)], Never>)] = []
        for lane in lanes {
            let watch = inFlight.openLane(lane.map { work[$0].raw.entryID })
            let task = Task(executorPreference: executor) {
                defer { self.inFlight.closeLane(watch) }
                return await self.runLane(watch, lane, work, client: client)
            }
            watch.attach { task.cancel() }
            tasks.append((lane, task))
        }
        let started = tasks
        return await withTaskCancellationHandler {
            var results: [(ArraySlice<Int>, [(Int, HandlingOutcome)])] = []
            for (lane, task) in started { results.append((lane, await task.value)) }
            return results
        } onCancel: {
            for (_, task) in started { task.cancel() }
        }
    }

    private func runLane(
        _ watch: HandlerLane, _ lane: ArraySlice<Int>, _ work: [Work], client: RedisClient
    ) async -> [(Int, HandlingOutcome)] {
        var results: [(Int, HandlingOutcome)] = []
        results.reserveCapacity(lane.count)
        for (position, index) in lane.enumerated() {
            if Task.isCancelled { break }
            let item = work[index]
            let start = ContinuousClock.now
            watch.begin(position, at: start)
            var outcome = await dispatch(item, client: client, startedAt: start)
            if watch.end(position) {
                let limit = configuration.handlerTimeout.map { "\($0)" } ?? "the limit"
                outcome = .failed(EventBusError(.handlerTimedOut, "handler ran longer than \(limit)"))
            }
            results.append((index, outcome))
        }
        return results
    }

    /// Runs one handler, with metrics, its log line and (tracing on) a consumer span that is
    /// a child of the entry's `traceparent`.
    private func dispatch(_ item: Work, client: RedisClient, startedAt start: ContinuousClock.Instant) async -> HandlingOutcome {
        let context = handlingContext(client: client, deliveries: item.deliveries)
        if item.deliveries > 1 { metrics.redelivered.increment() }
        var outcome: HandlingOutcome
        if let tracer {
            outcome = await traced(item, context, tracer: tracer)
        } else {
            outcome = await item.handler.handle(item.raw, context)
        }
        let duration = ContinuousClock.now - start
        recordHandlerTime(duration)
        if case .writes(let writes, _) = outcome {
            // Settled once the batch's writes are committed.
            outcome = .writes(writes, handlerDuration: duration)
        } else {
            recordOutcome(item, outcome, duration: duration)
        }
        return outcome
    }

    /// The handler's duration, its outcome's counter and (per the event log policy) its line.
    private func recordOutcome(_ item: Work, _ outcome: HandlingOutcome, duration: Duration) {
        let typeMetrics = metrics.forType(item.raw.envelope.eventType)
        typeMetrics.duration.recordNanoseconds(duration.nanoseconds)
        switch outcome {
        case .handled, .acknowledged:
            typeMetrics.handled.increment()
            if configuration.eventLog.shouldLog(logger, correlationID: item.raw.envelope.correlationID) {
                var metadata = eventMetadata(item.raw)
                metadata["duration_us"] = "\(duration.nanoseconds / 1000)"
                metadata["delivery"] = "\(item.deliveries)"
                metadata["outcome"] = "handled"
                logger.log(level: configuration.eventLog.level, "Handled event", metadata: metadata)
            }
        case .failed(let error) where error.code == .effectInProgress:
            metrics.deferred.increment()
        case .failed:
            typeMetrics.failed.increment()
        case .superseded:
            metrics.superseded.increment()
            var metadata = eventMetadata(item.raw)
            metadata["delivery"] = "\(item.deliveries)"
            metadata["outcome"] = "superseded"
            logger.warning(
                "Commit skipped: the entry is no longer pending to this consumer (claimed by another consumer, dead-lettered or acknowledged meanwhile); nothing written",
                metadata: metadata)
        case .writes:
            break
        }
    }

    private func traced(_ item: Work, _ context: HandlingContext, tracer: any Tracer) async -> HandlingOutcome {
        let envelope = item.raw.envelope
        let parent = EventTracing.context(fromTraceparent: envelope.traceparent, tracer: tracer)
        let name = "process \(configuration.metricsStream ?? configuration.stream)"
        return await tracer.withSpan(name, context: parent, ofKind: .consumer) { span in
            span.describe(
                stream: configuration.stream, eventType: envelope.eventType, aggregateID: envelope.aggregateID, operation: "process")
            span.attributes["messaging.consumer.group.name"] = configuration.group
            span.attributes["messaging.message.id"] = envelope.eventID
            span.attributes["messaging.message.conversation_id"] = envelope.correlationID
            span.attributes["redis.entry_id"] = "\(item.raw.entryID)"
            span.attributes["delivery"] = item.deliveries
            let outcome = await item.handler.handle(item.raw, context)
            if case .failed(let error) = outcome {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: error.message))
            }
            return outcome
        }
    }

    /// Keeps an exponentially weighted mean of handler durations (weight 1/8).
    private func recordHandlerTime(_ duration: Duration) {
        let sample = Int(clamping: duration.nanoseconds)
        let mean = meanHandlerNanoseconds.load(ordering: .relaxed)
        meanHandlerNanoseconds.store(mean + (sample - mean) / 8, ordering: .relaxed)
    }

    func eventMetadata(_ raw: RawEvent) -> Logger.Metadata {
        [
            "event.type": "\(raw.envelope.eventType)", "event.id": "\(raw.envelope.eventID)",
            "event.aggregate_id": "\(raw.envelope.aggregateID)", "event.correlation_id": "\(raw.envelope.correlationID)",
            "redis.entry_id": "\(raw.entryID)", "redis.stream": "\(configuration.stream)",
            "consumer.group": "\(configuration.group)",
        ]
    }
}
