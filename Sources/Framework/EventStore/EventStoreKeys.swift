import EventBus

/// Where an event store keeps one aggregate type's events: its type stream (the one every
/// consumer reads, `<type>-events`, or its partition streams), and per aggregate a history
/// stream and a snapshot.
///
/// Every key of an aggregate shares the hash tag of the type stream (partition) its events
/// go to, so a script's keys (history and type stream) are in one Redis Cluster slot:
/// - one partition: `es:{todo-events}:<id>` (the tag is the stream's whole name, which is
///   how the plain key `todo-events` hashes);
/// - partitioned: `es:todo-events:{<tag>}:<id>`, the tag of the partition of `<id>` (see
///   `StreamPartitions`); an aggregate's events always go to that partition.
public struct EventStoreKeys: Sendable, Hashable {
    /// The type stream, e.g. `todo-events`.
    public let stream: String
    /// The type stream's partitions.
    public let partitions: StreamPartitions

    public init(stream: String, partitions: StreamPartitions = .single) {
        precondition(!stream.contains("{") && !stream.contains("}"), "a type stream's name has no braces")
        self.stream = stream
        self.partitions = partitions
    }

    /// The partition of aggregate `id` (its id is its events' partition key).
    public func partition(of id: String) -> Int { partitions.partition(of: id) }

    /// The type stream (partition) aggregate `id`'s events are appended to.
    public func typeStream(for id: String) -> String { partitions.streamKey(stream, partitionKey: id) }

    /// The prefix of the keys in partition `partition`'s slot: `es:{<stream>}` or
    /// `es:<stream>:{<tag>}`.
    public func prefix(partition: Int) -> String {
        partitions.count == 1 ? "es:{\(stream)}" : "es:\(stream):{\(partitions.tags[partition])}"
    }

    /// A key of the type in partition `partition`'s slot: `<prefix>:<name>`, e.g. a read
    /// model's index written together with an append.
    public func key(_ name: String, partition: Int) -> String { "\(prefix(partition: partition)):\(name)" }

    /// A key in the slot of aggregate `id`'s events.
    public func key(_ name: String, besideAggregate id: String) -> String { key(name, partition: partition(of: id)) }

    /// `<prefix>:<id>`: the aggregate's events in order, entry ids `0-1`, `0-2`, ... (the id's
    /// sequence is the aggregate's version). Never trimmed.
    public func history(_ id: String) -> String { key(id, besideAggregate: id) }

    /// `<prefix>:<id>:snapshot`: a hash `version`, `schema_version`, `state` (JSON).
    public func snapshot(_ id: String) -> String { key("\(id):snapshot", besideAggregate: id) }

    /// The prefixes of every partition, in partition order (for `SCAN` patterns).
    public var prefixes: [String] { (0..<partitions.count).map { prefix(partition: $0) } }
}
