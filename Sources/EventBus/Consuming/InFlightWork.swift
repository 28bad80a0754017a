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

    private struct Lane {
        var cancel: (@Sendable () -> Void)?
        var entryID: StreamEntryID?
        var startedAt: ContinuousClock.Instant?
        var timedOut = false
    }

    private struct State {
        var nextToken = 0
        var batches: [Int: Batch] = [:]
        var lanes: [Int: Lane] = [:]
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

    func openLane() -> Int {
        state.withLock { state in
            state.nextToken += 1
            state.lanes[state.nextToken] = Lane()
            return state.nextToken
        }
    }

    /// Gives the lane its cancel action (cancelled at once if it already overran).
    func attach(_ lane: Int, cancel: @escaping @Sendable () -> Void) {
        let overran = state.withLock { state -> Bool in
            state.lanes[lane]?.cancel = cancel
            return state.lanes[lane]?.timedOut == true
        }
        if overran { cancel() }
    }

    func closeLane(_ lane: Int) {
        _ = state.withLock { $0.lanes.removeValue(forKey: lane) }
    }

    func begin(_ lane: Int, _ entryID: StreamEntryID) {
        state.withLock { state in
            state.lanes[lane]?.entryID = entryID
            state.lanes[lane]?.startedAt = .now
        }
    }

    /// Ends the lane's current handler; true when it overran its timeout.
    func end(_ lane: Int) -> Bool {
        state.withLock { state in
            let timedOut = state.lanes[lane]?.timedOut ?? false
            state.lanes[lane]?.startedAt = nil
            state.lanes[lane]?.timedOut = false
            return timedOut
        }
    }

    /// Marks the handlers running longer than `timeout` as timed out and cancels their
    /// lanes; returns their entry ids.
    func expireHandlers(runningLongerThan timeout: Duration) -> [StreamEntryID] {
        let limit = ContinuousClock.now - timeout
        var cancels: [@Sendable () -> Void] = []
        let expired = state.withLock { state -> [StreamEntryID] in
            var expired: [StreamEntryID] = []
            for (key, lane) in state.lanes where !lane.timedOut {
                guard let startedAt = lane.startedAt, startedAt < limit, let id = lane.entryID else { continue }
                state.lanes[key]?.timedOut = true
                state.timedOut.insert(id)
                expired.append(id)
                if let cancel = lane.cancel { cancels.append(cancel) }
            }
            return expired
        }
        for cancel in cancels { cancel() }
        return expired
    }
}
