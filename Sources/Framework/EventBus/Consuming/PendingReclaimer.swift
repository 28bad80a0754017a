import EventCodec
import Logging
import RedisClient

/// The consumer's second and third loops.
///
/// The lease loop (`keepLeases`), every `reclaimInterval`, on its own schedule:
/// - cancels handlers that overran `handlerTimeout` (their delivery counts as failed);
/// - renews its claim (`XCLAIM ... JUSTID`) on the entries it is still handling and that are
///   still pending to it, so no other consumer takes them while it works (and it never takes
///   back one that another consumer claimed while it stalled).
/// It never waits for a handler: a redelivery that the reclaim loop runs (and awaits) is
/// renewed and timed out like any delivery.
///
/// The reclaim loop (`run`), driven by the group's pending-entries list (PEL), every
/// `reclaimInterval`:
/// - claims the group's entries idle longer than their retry backoff — failed deliveries,
///   and the entries of consumers that died — and hands them to the handlers again; an
///   entry whose body was trimmed away while pending becomes a `deleted` dead letter;
/// - now and then removes consumers idle past `removeIdleConsumersAfter` that own nothing.
///
/// All retry state is in Redis (idle time and delivery count of each pending entry), so a
/// consumer killed at any instant loses no retry: another one, or its restart, picks it up.
struct PendingReclaimer: Sendable {
    let dispatcher: EventDispatcher
    let client: RedisClient
    private var configuration: EventConsumer.Configuration { dispatcher.configuration }
    private var logger: Logger { dispatcher.logger }
    private static let pageSize = 100
    private static let pagesPerRound = 10

    init(dispatcher: EventDispatcher, client: RedisClient) {
        self.dispatcher = dispatcher
        self.client = client
    }

    /// Runs until the task is cancelled or the service shuts down; skips its rounds while
    /// `ready` is false (a new owner of a partition takes over its pending entries first, in
    /// order, and a redelivery of one of them meanwhile would race it).
    func run(ready: @escaping @Sendable () -> Bool = { true }) async {
        let clock = ContinuousClock()
        var nextHousekeeping = clock.now + housekeepingInterval
        // After an error the next round waits longer (doubling up to the maximum error
        // backoff), and the error is logged once per streak, not at every round.
        var pause = configuration.reclaimInterval
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: pause)
            if Task.isCancelled { break }
            guard ready() else { continue }
            do {
                try await reclaimDueEntries()
                if clock.now >= nextHousekeeping, let idle = configuration.removeIdleConsumersAfter {
                    nextHousekeeping = clock.now + housekeepingInterval
                    try await removeIdleConsumers(idleFor: idle)
                }
                if failing { logger.info("Reclaiming pending entries works again") }
                failing = false
                pause = configuration.reclaimInterval
            } catch {
                // NOGROUP and WRONGTYPE are reported by the read loop, which repairs what it can.
                let quiet = (error as? RedisError).map { $0.code == .noGroup || $0.code == .wrongType } ?? false
                if !failing && !quiet {
                    logger.warning("Reclaiming pending entries failed; retrying with backoff", metadata: ["error": "\(error)"])
                }
                failing = true
                pause = min(pause * 2, max(configuration.maximumErrorBackoff, configuration.reclaimInterval))
            }
        }
    }

    /// The lease loop: handler timeouts and claim renewal every `reclaimInterval`, until the
    /// task is cancelled (it goes on through a graceful stop, while the handlers in flight
    /// finish). Runs apart from `run`, whose redeliveries it must not wait for.
    func keepLeases() async {
        var pause = configuration.reclaimInterval
        var failing = false
        while !Task.isCancelled {
            try? await Task.sleep(for: pause)
            if Task.isCancelled { break }
            expireHandlers()
            do {
                try await renewClaims()
                if failing { logger.info("Renewing claims works again") }
                failing = false
                pause = configuration.reclaimInterval
            } catch {
                let quiet = (error as? RedisError).map { $0.code == .noGroup || $0.code == .wrongType } ?? false
                if !failing && !quiet {
                    logger.warning("Renewing claims failed; retrying with backoff", metadata: ["error": "\(error)"])
                }
                failing = true
                // Not longer than the retry backoff: past it, other consumers take the entries.
                pause = min(pause * 2, max(configuration.retry.initialBackoff / 3, configuration.reclaimInterval))
            }
        }
    }

    private var housekeepingInterval: Duration {
        max(configuration.reclaimInterval, min(.seconds(60), (configuration.removeIdleConsumersAfter ?? .seconds(60)) / 2))
    }

    /// Before reading new events, takes back the entries this consumer name left pending in
    /// an earlier life (same name after a restart), whatever their idle time.
    func recoverOwnPending() async {
        var start = "-"
        do {
            while !Task.isCancelled {
                let pending = try await client.xpending(
                    configuration.stream, group: configuration.group, from: start, count: Self.pageSize,
                    consumer: configuration.consumerName)
                if pending.isEmpty { return }
                logger.info(
                    "Taking back entries this consumer left pending before a restart",
                    metadata: ["event.count": "\(pending.count)"])
                try await claimAndHandle(pending, minimumIdle: { _ in .zero })
                guard pending.count == Self.pageSize, let last = pending.last else { return }
                start = "(\(last.id)"
            }
        } catch {
            logger.warning("Could not take back this consumer's pending entries", metadata: ["error": "\(error)"])
        }
    }

    /// For a new owner of a partition (its previous owner's lease is gone): claims every
    /// entry pending in the group on this stream, whoever it was delivered to, and hands them
    /// to the handlers in stream order before any new entry is read. Throws (and is called
    /// again) when Redis fails: reading on first would break the partition's order.
    func takeOverPending() async throws {
        var start = "-"
        while !Task.isCancelled {
            let pending = try await client.xpending(
                configuration.stream, group: configuration.group, from: start, count: Self.pageSize)
            if pending.isEmpty { return }
            logger.info(
                "Taking over the entries pending in this partition", metadata: ["event.count": "\(pending.count)"])
            try await claimAndHandle(pending, minimumIdle: { _ in .zero })
            guard pending.count == Self.pageSize, let last = pending.last else { return }
            start = "(\(last.id)"
        }
    }

    // MARK: Steps

    private func expireHandlers() {
        guard let timeout = configuration.handlerTimeout else { return }
        for id in dispatcher.inFlight.expireHandlers(runningLongerThan: timeout) {
            logger.error(
                "Handler timed out; cancelled, and its event will be retried",
                metadata: ["redis.entry_id": "\(id)", "timeout_ms": "\(timeout.nanoseconds / 1_000_000)"])
        }
    }

    private func renewClaims() async throws {
        let ids = dispatcher.inFlight.entriesToRenew(olderThan: configuration.reclaimInterval)
        guard !ids.isEmpty else { return }
        _ = try await client.run(Self.renewScript, keys: [configuration.stream], as: ScriptCount.self) { command in
            command.append(configuration.group)
            command.append(configuration.consumerName)
            for id in ids { command.append(id) }
        }
    }

    private func reclaimDueEntries() async throws {
        let retry = configuration.retry
        var start = "-"
        for _ in 0..<Self.pagesPerRound {
            let pending = try await client.xpending(
                configuration.stream, group: configuration.group, minIdle: retry.initialBackoff, from: start,
                count: Self.pageSize)
            var due = pending.filter { $0.idle >= retry.backoff(afterDeliveries: $0.deliveries) }
            if !due.isEmpty {
                // Not what this consumer is still handling or has not acknowledged yet (on a
                // loaded machine its claim renewal or XACK can come later than the backoff).
                let busy = dispatcher.inFlight.busy()
                if !busy.isEmpty { due.removeAll { busy.contains($0.id) } }
            }
            if !due.isEmpty {
                try await claimAndHandle(due) { retry.backoff(afterDeliveries: $0.deliveries) }
            }
            guard pending.count == Self.pageSize, let last = pending.last else { return }
            start = "(\(last.id)"
        }
    }

    /// Claims `candidates` (each only if still idle for `minimumIdle`), dead-letters those
    /// whose body is gone, hands the rest to the handlers and acknowledges what succeeded.
    private func claimAndHandle(_ candidates: [PendingEntry], minimumIdle: (PendingEntry) -> Duration) async throws {
        let failedAt = RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds())
        let result = try await client.runClaimScript(
            Self.claimScript, keys: [configuration.stream, configuration.deadLetterStream]
        ) { command in
            command.append(configuration.group)
            command.append(configuration.consumerName)
            command.append(failedAt)
            for candidate in candidates {
                command.append(candidate.id)
                command.append(Int(minimumIdle(candidate).nanoseconds / 1_000_000))
                command.append(candidate.consumer)
                command.append(candidate.deliveries)
            }
        }
        for id in result.deletedIDs {
            dispatcher.metrics.deadLettered.increment()
            logger.error(
                "Pending entry was trimmed or deleted from the stream; recorded in the dead letters",
                metadata: ["redis.entry_id": "\(id)", "dlq.reason": "deleted", "dlq.stream": "\(configuration.deadLetterStream)"])
        }
        guard !result.entries.isEmpty else { return }
        dispatcher.metrics.reclaimed.increment(by: result.entries.count)
        var previousDeliveries: [StreamEntryID: Int] = [:]
        for candidate in candidates { previousDeliveries[candidate.id] = candidate.deliveries }
        let counts = result.entries.map { (previousDeliveries[$0.id] ?? 0) + 1 }
        let acknowledged = await dispatcher.handle(
            result.entries, deliveryCounts: counts, client: client, executor: globalConcurrentExecutor)
        defer { dispatcher.inFlight.release([acknowledged.hold]) }
        if !acknowledged.ids.isEmpty {
            try await client.xack(configuration.stream, group: configuration.group, ids: acknowledged.ids)
        }
    }

    private func removeIdleConsumers(idleFor idle: Duration) async throws {
        let removed = try await client.run(
            Self.housekeepingScript, keys: [configuration.stream], as: RemovedConsumers.self
        ) { command in
            command.append(configuration.group)
            command.append(configuration.consumerName)
            command.append(Int(idle.nanoseconds / 1_000_000))
        }
        for name in removed.names {
            logger.info(
                "Removed idle consumer with no pending entries from the group",
                metadata: ["removed_consumer": "\(name)", "idle_ms": "\(idle.nanoseconds / 1_000_000)"])
        }
    }

    // MARK: Scripts

    /// Claims each candidate (`XCLAIM` with its own minimum idle time, so two consumers
    /// cannot both take it) or, when its body is gone, writes a `deleted` dead letter and
    /// acknowledges it — atomically, so a crash cannot lose the record. Replies like
    /// `XAUTOCLAIM`: `["0-0", claimed entries, deleted ids]`.
    ///
    /// What can fail fails before the first write: a stream key of another type or missing,
    /// or a group that is gone, makes the first candidate's `XRANGE`/`XPENDING`/`XCLAIM`
    /// raise before anything is written. A dead letter Redis refuses (out of memory, a key of
    /// another type) is a `pcall` whose failure skips that entry's `XACK`: it stays pending.
    /// Each candidate's claim or dead letter stands alone, so an error after some of them
    /// leaves only complete steps (an entry claimed then is retried by idle time).
    /// The script is `Consuming/claim-pending.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let claimScript = LuaScripts.claimPending

    /// Renews this consumer's claim on the entries it is handling (`XCLAIM ... 0 ... JUSTID`:
    /// idle time back to zero, delivery count unchanged), each only while it is still pending
    /// to this consumer: an entry another consumer claimed meanwhile (after a stall of this
    /// one) is never taken back. Replies how many were renewed.
    /// The script is `Consuming/renew-claims.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let renewScript = LuaScripts.renewClaims

    /// Removes, in one atomic step, the group's consumers (other than the caller) that own no
    /// pending entry and have been idle at least ARGV[3] ms; returns their names. Every
    /// removal is complete by itself; `XINFO CONSUMERS` raises (no stream, no group) before
    /// the first.
    /// The script is `Consuming/remove-idle-consumers.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let housekeepingScript = LuaScripts.removeIdleConsumers
}
