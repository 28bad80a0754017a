import RedisClient

/// Runs a handler's external effect (an e-mail, an HTTP call) at most once per event id
/// while its record lives, and never twice at the same time.
///
/// The record is the key `<group>:processed:<event_id>`:
/// 1. `SET key running NX PX <lease>` claims the event. If the key exists with `done`, the
///    effect already happened: `once` returns nil without running it. If it holds `running`,
///    another delivery is running the effect right now (or died running it, and its lease
///    has not expired yet): `once` throws `EventBusError` `.effectInProgress`, which a
///    consumer does not count as a failed delivery: the event stays pending with its
///    delivery count unchanged and is tried again after its backoff, until the lease is
///    over. A refusal never spends the event's deliveries nor dead-letters it.
/// 2. The effect runs. On success the key becomes `done` for `window`; on error the claim
///    is deleted and the error is rethrown (the event is retried).
///
/// The edges, stated plainly: a process that dies after the effect and before marking it
/// done leaves a `running` claim that expires after `lease`; the retry then runs the effect
/// again (at-least-once, as for any effect outside Redis). A duplicate arriving after
/// `window` runs the effect again. Choose `lease` longer than the effect can take (a
/// deadline of its own, e.g. an HTTP request's, bounds it) but not much longer: after a
/// crash the event waits for the lease. Choose `window` longer than events can be
/// redelivered or replayed.
public struct IdempotencyGuard: Sendable {
    public let client: RedisClient
    public let group: String
    public let window: Duration
    public let lease: Duration

    public init(client: RedisClient, group: String, window: Duration = .seconds(7 * 24 * 3600), lease: Duration = .seconds(60)) {
        self.client = client
        self.group = group
        self.window = window
        self.lease = lease
    }

    /// Runs `effect` unless the event was already processed; returns its result, or nil
    /// when it was skipped as a duplicate.
    public func once<Result: Sendable>(
        _ envelope: EventEnvelope, _ effect: () async throws -> Result
    ) async throws -> Result? {
        let key = ProcessedEventTransaction.markerKey(group: group, eventID: envelope.eventID)
        var claim = RedisCommand("SET", key, "running", "NX", "PX")
        claim.append(Int(lease.nanoseconds / 1_000_000))
        if try await client.send(claim).isNull {
            let state = try await client.send("GET", key).string
            if state == "done" { return nil }
            throw EventBusError(
                .effectInProgress,
                "event \(envelope.eventID) is being processed by another delivery (\(key) = \(state ?? "expired"), lease \(lease)); retried later, this delivery not counted")
        }
        let result: Result
        do {
            result = try await effect()
        } catch {
            _ = try? await client.send("DEL", key)
            throw error
        }
        var done = RedisCommand("SET", key, "done", "PX")
        done.append(Int(window.nanoseconds / 1_000_000))
        _ = try await client.send(done)
        return result
    }

    /// Whether the event's effect is recorded as done.
    public func isProcessed(_ envelope: EventEnvelope) async throws -> Bool {
        let key = ProcessedEventTransaction.markerKey(group: group, eventID: envelope.eventID)
        return try await client.send("GET", key).string == "done"
    }
}
