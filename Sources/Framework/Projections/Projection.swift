import EventBus
import EventStore

/// A projection: a read model kept by a consumer group whose handlers are all
/// transactional (each event's read-model writes, its processed marker
/// `<name>:processed:<event_id>` and its `XACK` in one script). The group's last-delivered
/// id and pending list are its checkpoint.
public struct Projection: Sendable {
    /// The consumer group's name (also the projection's name).
    public let name: String
    /// The type stream the group reads, e.g. `todo-events`.
    public let stream: String
    /// The prefix of every read-model key (e.g. `analytics:`); a rebuild deletes them all.
    public let keyPrefix: String
    /// The aggregate type whose histories (`es:{<stream>}:<id>`) a rebuild replays.
    public let aggregateType: String
    /// The group's handlers (transactional), used to replay histories.
    public let handlers: EventHandlers
    /// The stream's partitions (the group reads each of them).
    public let partitions: StreamPartitions

    public init(
        name: String, stream: String, keyPrefix: String, aggregateType: String, handlers: EventHandlers,
        partitions: StreamPartitions = .single
    ) {
        precondition(!keyPrefix.isEmpty && !keyPrefix.contains("*"), "a projection's key prefix is not empty and has no glob")
        self.name = name
        self.stream = stream
        self.keyPrefix = keyPrefix
        self.aggregateType = aggregateType
        self.handlers = handlers
        self.partitions = partitions
    }

    /// The keys of the type's histories.
    public var historyKeys: EventStoreKeys { EventStoreKeys(stream: stream, partitions: partitions) }

    /// The stream keys the group reads.
    public var partitionStreams: [String] { partitions.streamKeys(stream) }
}

/// The projection keys outside the read model.
public enum ProjectionKeys {
    /// `projection:<name>:state`: a hash `status` (`rebuilding`, `ready`), `phase` (`reset`,
    /// `history`, `catching_up`, `done`), `started_at`, `finished_at`, `generation`.
    public static func state(_ name: String) -> String { "projection:\(name):state" }
    /// The glob of every projection's state key.
    public static let statePattern = "projection:*:state"
    /// The glob of a group's processed markers.
    public static func markerPattern(_ group: String) -> String { "\(group):processed:*" }

    /// The name in a state key, or nil.
    public static func name(inStateKey key: String) -> String? {
        guard key.hasPrefix("projection:"), key.hasSuffix(":state") else { return nil }
        let name = key.dropFirst("projection:".count).dropLast(":state".count)
        return name.isEmpty ? nil : String(name)
    }
}
