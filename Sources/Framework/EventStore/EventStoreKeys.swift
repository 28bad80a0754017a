/// Where an event store keeps one aggregate type's events: its type stream (the one every
/// consumer reads, `<type>-events`), and per aggregate a history stream and a snapshot.
///
/// Every key of a type shares the hash tag of its type stream's name
/// (`es:{todo-events}:<id>`), so that a script's keys (history and type stream) are in
/// one slot: the layout is ready for Redis Cluster, where a type lives in one slot.
public struct EventStoreKeys: Sendable, Hashable {
    /// The type stream, e.g. `todo-events`.
    public let stream: String

    public init(stream: String) {
        precondition(!stream.contains("{") && !stream.contains("}"), "a type stream's name has no braces")
        self.stream = stream
    }

    /// `es:{<stream>}:<id>`: the aggregate's events in order, entry ids `0-1`, `0-2`, ...
    /// (the id's sequence is the aggregate's version). Never trimmed.
    public func history(_ id: String) -> String { "es:{\(stream)}:\(id)" }

    /// `es:{<stream>}:<id>:snapshot`: a hash `version`, `schema_version`, `state` (JSON).
    public func snapshot(_ id: String) -> String { "es:{\(stream)}:\(id):snapshot" }
}
