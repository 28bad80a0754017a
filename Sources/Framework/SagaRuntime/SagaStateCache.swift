import Synchronization

/// The states this coordinator committed last, so that the next input of a running saga
/// skips reading it back from Redis.
///
/// A cached state is only ever a guess: a commit computed from it is refused by the
/// store's version check when another coordinator (or an operator) changed the saga
/// meanwhile, and the coordinator then reloads. A decision that commits nothing (an input
/// ignored) is never taken from a cached state. Holds at most `capacity` sagas; an ended
/// saga leaves it at once, the oldest entry goes first when it is full.
final class SagaStateCache: Sendable {
    private struct Entries {
        var states: [String: SagaState] = [:]
        /// Ids in insertion order, oldest first, from `orderStart`; may hold ids already
        /// removed (and an id removed and stored again twice: it may then go early).
        var order: [String] = []
        var orderStart = 0
    }

    let capacity: Int
    private let entries = Mutex(Entries())

    init(capacity: Int) {
        self.capacity = max(capacity, 0)
    }

    func state(of id: String) -> SagaState? {
        entries.withLock { $0.states[id] }
    }

    /// Keeps `state` as its saga's latest, or forgets the saga when it has ended.
    func store(_ state: SagaState) {
        if state.status.isFinal || capacity == 0 {
            remove(state.id)
            return
        }
        entries.withLock { entries in
            if entries.states.updateValue(state, forKey: state.id) == nil { entries.order.append(state.id) }
            while entries.states.count > capacity, entries.orderStart < entries.order.count {
                entries.states[entries.order[entries.orderStart]] = nil
                entries.orderStart += 1
            }
            // The ids of removed sagas pile up in `order`: compact once they are most of it.
            if entries.order.count > 2 * capacity + 64 {
                var seen = Set<String>()
                entries.order = entries.order[entries.orderStart...].filter { entries.states[$0] != nil && seen.insert($0).inserted }
                entries.orderStart = 0
            }
        }
    }

    func remove(_ id: String) {
        entries.withLock { _ = $0.states.removeValue(forKey: id) }
    }

    var count: Int { entries.withLock { $0.states.count } }
}
