import EventBus
import RedisClient

/// An aggregate whose state is the fold of its events: `apply` is called for every event
/// of its history in order, and must be deterministic (no clock, no I/O) so that a rebuild
/// always gives the same state. Its `Codable` form is its snapshot.
public protocol EventSourcedAggregate: Codable, Sendable {
    /// The aggregate type (`todo`); its events go to that type's stream.
    static var aggregateType: String { get }
    /// The snapshot's schema: bump it when the stored form changes; older snapshots are then
    /// ignored and the aggregate rebuilt from its events.
    static var snapshotSchemaVersion: Int { get }

    /// The state before its first event.
    init(id: String)

    /// The state after `event`.
    mutating func apply(_ event: RecordedEvent) throws
}

/// Loads aggregates from their events and appends new ones, with snapshots.
///
/// Guarantees: a load is the fold of the events up to the version returned (from a
/// snapshot of the current schema when one exists: the same state); `append` writes only
/// when the aggregate is still at the version it was loaded at (else
/// `EventStoreError.conflict`, nothing written), so concurrent changes are serialized and
/// none is lost. A snapshot is saved after an append crosses a multiple of
/// `snapshotEvery`; a failed snapshot write is not an error (it is a cache).
public struct AggregateRepository<Aggregate: EventSourcedAggregate>: Sendable {
    public let store: EventStore
    /// Events between snapshots (0: never).
    public let snapshotEvery: Int

    public init(store: EventStore, snapshotEvery: Int = 100) {
        precondition(snapshotEvery >= 0)
        self.store = store
        self.snapshotEvery = snapshotEvery
    }

    /// The aggregate as it was after its `version`-th event (now when nil), with that version;
    /// nil when it has no events (or fewer than `version`).
    public func load(_ id: String, upTo version: Int? = nil) async throws -> (aggregate: Aggregate, version: Int)? {
        // With snapshots, the events after the latest one are fewer than `snapshotEvery` (a
        // few more while concurrent changes race): read that many with it, in one round trip.
        let history = try await store.load(
            id, upTo: version, snapshotSchemaVersion: snapshotEvery > 0 ? Aggregate.snapshotSchemaVersion : nil,
            tailWindow: snapshotEvery > 0 ? min(snapshotEvery + 2, 256) : 64)
        guard history.version > 0, version.map({ history.version == $0 }) ?? true else { return nil }
        var aggregate = Aggregate(id: id)
        if let snapshot = history.snapshot {
            do {
                aggregate = try EventDataDecoder().decode(Aggregate.self, from: snapshot.state)
            } catch {
                // An unreadable snapshot: rebuild from every event instead.
                return try await rebuild(id, upTo: version)
            }
        }
        for event in history.events { try aggregate.apply(event) }
        return (aggregate, history.version)
    }

    /// The aggregate from its events alone, ignoring any snapshot.
    public func rebuild(_ id: String, upTo version: Int? = nil) async throws -> (aggregate: Aggregate, version: Int)? {
        let history = try await store.load(id, upTo: version)
        guard history.version > 0, version.map({ history.version == $0 }) ?? true else { return nil }
        var aggregate = Aggregate(id: id)
        for event in history.events { try aggregate.apply(event) }
        return (aggregate, history.version)
    }

    /// Appends `events` to `id`, loaded at `expectedVersion`; `after` is the state they lead
    /// to (saved as a snapshot when the new version crosses a multiple of `snapshotEvery`).
    /// Returns the new version. `alsoWrite`: extra writes made with the events (see `EventStore.append`).
    @discardableResult
    public func append(
        _ events: [any DomainEvent], to id: String, expectedVersion: Int, after state: Aggregate, context: EventContext = EventContext(),
        alsoWrite: [RedisCommand] = []
    ) async throws -> Int {
        let version = try await store.append(events, to: id, expectedVersion: expectedVersion, context: context, alsoWrite: alsoWrite)
        if snapshotEvery > 0, version / snapshotEvery > expectedVersion / snapshotEvery {
            if let encoded = try? EventDataEncoder().encode(state) {
                try? await store.save(
                    EventStore.Snapshot(version: version, schemaVersion: Aggregate.snapshotSchemaVersion, state: encoded), of: id)
            }
        }
        return version
    }
}
