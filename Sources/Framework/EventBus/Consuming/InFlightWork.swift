import RedisClient
import Synchronization

/// What one consumer is handling right now: the batches delivered to it (whose claim it
/// renews while they are handled, so live consumers never take each other's work) and the
/// handler running in each lane (to enforce the handler timeout).
final class InFlightWork: Sendable {
    private struct Batch {
        let deliveredAt: ContinuousClock.Instant
        let ids: [StreamEntryID]
    }

    private struct State {
        var nextToken = 0
        var batches: [Int: Batch] = [:]
        var lanes: [Int: HandlerLane] = [:]
        /// Entries whose handler overran: no longer renewed, so the group retries them.
        var timedOut: Set<StreamEntryID> = []
        /// Handled entries whose `XACK` is not yet known to be sent, by the token of their batch.
        var unacknowledged: [Int: [StreamEntryID]] = [:]
    }

    private let state = Mutex(State())

    // MARK: Batches (claim renewal)

    func track(_ ids: [StreamEntryID]) -> Int {
        state.withLock { state in
            state.nextToken += 1
            state.batches[state.nextToken] = Batch(deliveredAt: .now, ids: ids)
            return state.nextToken
        }
    }

    /// Ends a batch: `handled` stay held (not to be reclaimed by this consumer) until
    /// `release(token)`, once their acknowledgement was sent.
    func finish(_ token: Int, holding handled: [StreamEntryID]) {
        state.withLock { state in
            let batch = state.batches.removeValue(forKey: token)
            if !state.timedOut.isEmpty, let batch { state.timedOut.subtract(batch.ids) }
            if !handled.isEmpty { state.unacknowledged[token] = handled }
        }
    }

    /// The acknowledgements of these batches were sent.
    func release(_ tokens: [Int]) {
        guard !tokens.isEmpty else { return }
        state.withLock { state in
            for token in tokens { state.unacknowledged.removeValue(forKey: token) }
        }
    }

    /// Entries this consumer is handling (and not timed out) or has handled without its
    /// acknowledgement sent yet: its own retry loop must not take them.
    func busy() -> Set<StreamEntryID> {
        state.withLock { state in
            var ids = Set<StreamEntryID>()
            for batch in state.batches.values { ids.formUnion(batch.ids) }
            ids.subtract(state.timedOut)
            for handled in state.unacknowledged.values { ids.formUnion(handled) }
            return ids
        }
    }

    /// Entries delivered longer ago than `age` and still being handled (not timed out).
    func entriesToRenew(olderThan age: Duration) -> [StreamEntryID] {
        let limit = ContinuousClock.now - age
        return state.withLock { state in
            var ids: [StreamEntryID] = []
            for batch in state.batches.values where batch.deliveredAt < limit {
                ids += state.timedOut.isEmpty ? batch.ids : batch.ids.filter { !state.timedOut.contains($0) }
            }
            return ids
        }
    }

    // MARK: Lanes (handler timeouts)

    /// Registers a lane (handlers run one after another, for the entries `ids` in order)
    /// for the watchdog.
    func openLane(_ ids: [StreamEntryID]) -> HandlerLane {
        let lane = HandlerLane(ids)
        state.withLock { state in
            state.nextToken += 1
            lane.token = state.nextToken
            state.lanes[state.nextToken] = lane
        }
        return lane
    }

    func closeLane(_ lane: HandlerLane) {
        _ = state.withLock { $0.lanes.removeValue(forKey: lane.token) }
    }

    /// Marks the handlers running longer than `timeout` as timed out and cancels their
    /// lanes; returns their entry ids.
    func expireHandlers(runningLongerThan timeout: Duration) -> [StreamEntryID] {
        let lanes = state.withLock { Array($0.lanes.values) }
        let expired = lanes.compactMap { $0.expire(runningLongerThan: timeout) }
        if !expired.isEmpty { state.withLock { $0.timedOut.formUnion(expired) } }
        return expired
    }
}

/// One lane's current handler, watched for the timeout: the lane writes one atomic word
/// per handler start and end, the watchdog reads it (no lock on the handlers' path).
final class HandlerLane: Sendable {
    private let ids: [StreamEntryID]
    private let opened = ContinuousClock.now
    /// (position + 1) << 40 | milliseconds since `opened` at the handler's start; 0 when idle.
    private let running = Atomic<UInt64>(0)
    /// position + 1 of the handler the watchdog timed out; 0 for none.
    private let timedOut = Atomic<Int>(0)
    private let cancelAction = Mutex<(@Sendable () -> Void)?>(nil)
    private let tokenStorage = Atomic<Int>(0)

    init(_ ids: [StreamEntryID]) {
        self.ids = ids
    }

    /// The lane's key in `InFlightWork`.
    fileprivate var token: Int {
        get { tokenStorage.load(ordering: .relaxed) }
        set { tokenStorage.store(newValue, ordering: .relaxed) }
    }

    /// Gives the lane its cancel action (called at once if it already overran).
    func attach(cancel: @escaping @Sendable () -> Void) {
        cancelAction.withLock { $0 = cancel }
        if timedOut.load(ordering: .acquiring) != 0 { cancel() }
    }

    /// The handler for the lane's entry at `position` starts at `instant`.
    func begin(_ position: Int, at instant: ContinuousClock.Instant) {
        let milliseconds = UInt64(max(0, (instant - opened).nanoseconds / 1_000_000)) & ((1 << 40) - 1)
        running.store(UInt64(position + 1) << 40 | milliseconds, ordering: .releasing)
    }

    /// Ends the handler at `position`; true when it overran its timeout.
    func end(_ position: Int) -> Bool {
        running.store(0, ordering: .releasing)
        return timedOut.compareExchange(expected: position + 1, desired: 0, ordering: .acquiringAndReleasing).exchanged
    }

    /// Marks the current handler timed out if it has run longer than `timeout`, cancels the
    /// lane, and returns its entry id.
    fileprivate func expire(runningLongerThan timeout: Duration) -> StreamEntryID? {
        let word = running.load(ordering: .acquiring)
        guard word != 0 else { return nil }
        let position = Int(word >> 40) - 1
        let startedAt = opened + .milliseconds(Int64(word & ((1 << 40) - 1)))
        guard ContinuousClock.now - startedAt > timeout, position < ids.count,
            timedOut.compareExchange(expected: 0, desired: position + 1, ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        cancelAction.withLock { $0 }?()
        return ids[position]
    }
}
