import EventBus
import EventStore
import Foundation
import RedisClient
import TodoEvents

/// The todo service's state: each todo is the fold of its events (`Todo` is an
/// event-sourced aggregate), kept by an `EventStore` for the type stream `todo-events`.
///
/// Keys (all under the hash tag `{todo-events}`): `es:{todo-events}:<id>` (the todo's
/// history, entry ids `0-<version>`), `es:{todo-events}:<id>:snapshot` (every
/// `snapshotEvery` events), `es:{todo-events}:user:<user_id>` (sorted set of the user's
/// live todo ids by creation time, written by the same script as the events), and the
/// type stream `todo-events` itself. Every change loads the todo, decides, and appends at
/// the loaded version; when another change was appended in between, it reloads and decides
/// again, so concurrent changes of one todo are serialized and none is lost.
public struct TodoStore: Sendable {
    let repository: AggregateRepository<Todo>
    let client: RedisClient

    /// `publishing`: retention and the line per published event (see `ServiceSettings.publisher`);
    /// its stream name is replaced by `todo-events`.
    public init(client: RedisClient, snapshotEvery: Int = 10, publishing: EventPublisher.Configuration = .init()) {
        self.client = client
        var configuration = publishing
        configuration.streamName = { _ in TodoEvents.stream }
        let publisher = EventPublisher(client: client, configuration: configuration)
        repository = AggregateRepository(
            store: EventStore(aggregateType: Todo.aggregateType, client: client, publisher: publisher), snapshotEvery: snapshotEvery)
    }

    var keys: EventStoreKeys { repository.store.keys }

    /// `<prefix>:user:<user_id>` (`es:{todo-events}:user:<user_id>` unpartitioned): the user's
    /// live todo ids by creation time, in each partition the ids of that partition's todos
    /// (so the index is written in the same script as the todo's events).
    func userKey(_ userID: String, partition: Int) -> String { keys.key("user:\(userID)", partition: partition) }

    /// The index key holding todo `id` of `userID`.
    func userKey(_ userID: String, todo id: String) -> String { userKey(userID, partition: keys.partition(of: id)) }

    // MARK: Reading

    /// The todo (deleted ones included) as it is now, or as it was after its `version`-th
    /// event; nil when there is none with this id (or it never had that version).
    public func find(_ id: String, version: Int? = nil) async throws -> Todo? {
        try await repository.load(id, upTo: version)?.aggregate
    }

    /// A live (not deleted) todo, or 404.
    public func get(_ id: String) async throws -> Todo {
        guard let todo = try await find(id), todo.status != .deleted else { throw TodoError.notFound(id) }
        return todo
    }

    /// The todo's events in order (deleted todos included), or 404.
    public func history(_ id: String) async throws -> [RecordedEvent] {
        let events = try await repository.store.load(id).events
        guard !events.isEmpty else { throw TodoError.notFound(id) }
        return events
    }

    /// The user's live todos, oldest first (at most `limit`).
    public func list(userID: String, limit: Int = 1000) async throws -> [Todo] {
        // Each partition's index, merged by creation time (one pipelined round trip).
        let replies = try await client.pipeline(
            (0..<keys.partitions.count).map {
                RedisCommand("ZRANGE", userKey(userID, partition: $0), "0", "\(limit - 1)", "WITHSCORES")
            })
        var indexed: [(id: String, createdAt: Double)] = []
        for reply in replies {
            let values = try reply.throwingError().array ?? []
            for pair in stride(from: 0, to: values.count - 1, by: 2) {
                guard let id = values[pair].string, let score = values[pair + 1].string.flatMap(Double.init) else { continue }
                indexed.append((id, score))
            }
        }
        let ids = indexed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.prefix(limit).map(\.id)
        var todos: [Todo] = []
        for id in ids {
            if let todo = try await find(id), todo.status != .deleted { todos.append(todo) }
        }
        return todos
    }

    // MARK: Changing

    public func create(userID: String, title: String, description: String, priority: TodoPriority, context: EventContext)
        async throws -> Todo
    {
        let now = Date()
        let id = EventID.generate()
        let event = TodoCreated(todoID: id, userID: userID, title: title, description: description, priority: priority, createdAt: now)
        let todo = Todo(
            id: id, userID: userID, title: title, description: description, priority: priority, status: .open,
            createdAt: now, updatedAt: now, completedAt: nil)
        let index = RedisCommand("ZADD", userKey(userID, todo: id), "\(Int(now.timeIntervalSince1970 * 1000))", id)
        do {
            try await repository.append([event], to: id, expectedVersion: 0, after: todo, context: context, alsoWrite: [index])
        } catch is EventStoreError {
            throw TodoError.conflict("todo \(id) already exists")
        }
        return todo
    }

    public func complete(_ id: String, context: EventContext) async throws -> Todo {
        try await change(id, context: context) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can be completed") }
            return TodoCompleted(
                todoID: id, userID: todo.userID, title: todo.title, priority: todo.priority, createdAt: todo.createdAt,
                completedAt: now)
        }
    }

    public func changePriority(_ id: String, to priority: TodoPriority, context: EventContext) async throws -> Todo {
        try await change(id, context: context) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can change") }
            guard todo.priority != priority else { return nil }
            return TodoPriorityChanged(
                todoID: id, userID: todo.userID, title: todo.title, oldPriority: todo.priority, newPriority: priority, changedAt: now)
        }
    }

    public func changeTitle(_ id: String, to title: String, context: EventContext) async throws -> Todo {
        try await change(id, context: context) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can change") }
            guard todo.title != title else { return nil }
            return TodoTitleChanged(todoID: id, userID: todo.userID, oldTitle: todo.title, newTitle: title, changedAt: now)
        }
    }

    public func delete(_ id: String, context: EventContext) async throws -> Todo {
        try await change(id, context: context, removeFromIndex: true) { todo, now in
            TodoDeleted(
                todoID: id, userID: todo.userID, title: todo.title, priority: todo.priority,
                wasCompleted: todo.status == .completed, deletedAt: now)
        }
    }

    /// Loads the todo, lets `decide` return the event (nil: no change), and appends it at the
    /// loaded version; on a conflict (another change appended in between) loads and decides
    /// again, a bounded number of times.
    private func change(
        _ id: String, context: EventContext, removeFromIndex: Bool = false,
        _ decide: (Todo, Date) throws -> (any DomainEvent)?
    ) async throws -> Todo {
        for attempt in 0..<64 {
            if attempt > 0 {
                // Back off a little, with jitter, so that many writers of one todo do not keep colliding.
                try await Task.sleep(for: .microseconds(Int.random(in: 0...min(10_000, 500 * attempt))))
            }
            guard let loaded = try await repository.load(id) else { throw TodoError.notFound(id) }
            let (todo, version) = loaded
            if todo.status == .deleted { throw TodoError.conflict("todo \(id) was deleted") }
            guard let event = try decide(todo, Date()) else { return todo }
            let index = removeFromIndex ? [RedisCommand("ZREM", userKey(todo.userID, todo: id), id)] : []
            // The new state is the fold of the new event too, so that the answer is what a reload gives.
            var after = todo
            let envelope = EventEnvelope(
                eventID: "", eventType: type(of: event).eventType, eventVersion: type(of: event).schemaVersion,
                aggregateType: Todo.aggregateType, aggregateID: id, timestampMicroseconds: 0, correlationID: "", causationID: "")
            try after.apply(RecordedEvent(version: version + 1, envelope: envelope, data: try EventDataEncoder().encode(event)))
            do {
                try await repository.append([event], to: id, expectedVersion: version, after: after, context: context, alsoWrite: index)
                return after
            } catch EventStoreError.conflict {
                continue
            }
        }
        throw TodoError.conflict("todo \(id) is being changed by other requests; try again")
    }
}
