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

    func untrack(_ token: Int) {
        state.withLock { state in
            let batch = state.batches.removeValue(forKey: token)
            if !state.timedOut.isEmpty, let batch { state.timedOut.subtract(batch.ids) }
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

    /// Registers a lane (a sequence of handlers run one after another) for the watchdog.
    func openLane() -> HandlerLane {
        let lane = HandlerLane()
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
        let expired = lanes.compactMap { $0.expire(startedBefore: .now - timeout) }
        if !expired.isEmpty { state.withLock { $0.timedOut.formUnion(expired) } }
        return expired
    }
}

/// One lane's current handler, watched for the timeout. Updated twice per event by the
/// lane and read by the watchdog, each under the lane's own lock (no shared table).
final class HandlerLane: Sendable {
    private struct Current {
        var entryID: StreamEntryID?
        var startedAt: ContinuousClock.Instant?
        var timedOut = false
        var cancel: (@Sendable () -> Void)?
    }

    private let current = Mutex(Current())
    private let tokenStorage = Atomic<Int>(0)
    /// The lane's key in `InFlightWork`.
    fileprivate var token: Int {
        get { tokenStorage.load(ordering: .relaxed) }
        set { tokenStorage.store(newValue, ordering: .relaxed) }
    }

    /// Gives the lane its cancel action (called at once if it already overran).
    func attach(cancel: @escaping @Sendable () -> Void) {
        let overran = current.withLock { current -> Bool in
            current.cancel = cancel
            return current.timedOut
        }
        if overran { cancel() }
    }

    func begin(_ entryID: StreamEntryID) {
        let now = ContinuousClock.now
        current.withLock { current in
            current.entryID = entryID
            current.startedAt = now
        }
    }

    /// Ends the current handler; true when it overran its timeout.
    func end() -> Bool {
        current.withLock { current in
            let timedOut = current.timedOut
            current.startedAt = nil
            current.timedOut = false
            return timedOut
        }
    }

    /// Marks the current handler timed out if it started before `limit`, cancels the lane,
    /// and returns its entry id.
    fileprivate func expire(startedBefore limit: ContinuousClock.Instant) -> StreamEntryID? {
        let (id, cancel) = current.withLock { current -> (StreamEntryID?, (@Sendable () -> Void)?) in
            guard !current.timedOut, let startedAt = current.startedAt, startedAt < limit else { return (nil, nil) }
            current.timedOut = true
            return (current.entryID, current.cancel)
        }
        if id != nil { cancel?() }
        return id
    }
}
