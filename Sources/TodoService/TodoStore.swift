import EventBus
import Foundation
import RedisClient
import TodoEvents

/// The todo service's state in Redis, changed only together with its event.
///
/// Keys: `todos:<id>` (hash, one todo; deleted ones stay as tombstones with status
/// `deleted`) and `todos:user:<user_id>` (sorted set of the user's live todo ids by creation
/// time). Every change is one Lua script that checks the version it read, writes the hash,
/// the index and `XADD`s the event to `todo-events`: no state without its event, no event
/// without its state. A concurrent change makes the script decline, and the change is
/// re-read and re-checked.
public struct TodoStore: Sendable {
    let client: RedisClient
    let publisher: EventPublisher

    public init(client: RedisClient) {
        self.client = client
        self.publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in TodoEvents.stream }))
    }

    static func key(_ id: String) -> String { "todos:\(id)" }
    static func userKey(_ userID: String) -> String { "todos:user:\(userID)" }

    // MARK: Reading

    /// The todo, deleted ones included; nil when there is none with this id.
    public func find(_ id: String) async throws -> Todo? {
        let hash = try await client.hgetall(Self.key(id))
        return hash.isEmpty ? nil : Todo(hash: hash)
    }

    /// A live (not deleted) todo, or 404.
    public func get(_ id: String) async throws -> Todo {
        guard let todo = try await find(id), todo.status != .deleted else { throw TodoError.notFound(id) }
        return todo
    }

    /// The user's live todos, oldest first (at most `limit`).
    public func list(userID: String, limit: Int = 1000) async throws -> [Todo] {
        let ids = try await client.send(RedisCommand("ZRANGE", Self.userKey(userID), "0", "\(limit - 1)")).array ?? []
        var todos: [Todo] = []
        for id in ids.compactMap(\.string) {
            if let todo = try await find(id), todo.status != .deleted { todos.append(todo) }
        }
        return todos
    }

    // MARK: Changing

    public func create(userID: String, title: String, description: String, priority: TodoPriority, context: EventContext)
        async throws -> Todo
    {
        let now = Date()
        let todo = Todo(
            id: EventID.generate(), userID: userID, title: title, description: description, priority: priority,
            status: .open, createdAt: now, updatedAt: now, completedAt: nil, version: 1)
        let event = TodoCreated(
            todoID: todo.id, userID: userID, title: title, description: description, priority: priority, createdAt: now)
        guard try await commit(todo, expectedVersion: 0, index: .add, event: event, context: context) else {
            throw TodoError.conflict("todo \(todo.id) already exists")
        }
        return todo
    }

    public func complete(_ id: String, context: EventContext) async throws -> Todo {
        try await change(id) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can be completed") }
            todo.status = .completed
            todo.completedAt = now
            return TodoCompleted(
                todoID: id, userID: todo.userID, title: todo.title, priority: todo.priority, createdAt: todo.createdAt,
                completedAt: now)
        } context: { context }
    }

    public func changePriority(_ id: String, to priority: TodoPriority, context: EventContext) async throws -> Todo {
        try await change(id) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can change") }
            guard todo.priority != priority else { return nil }
            let old = todo.priority
            todo.priority = priority
            return TodoPriorityChanged(
                todoID: id, userID: todo.userID, title: todo.title, oldPriority: old, newPriority: priority, changedAt: now)
        } context: { context }
    }

    public func changeTitle(_ id: String, to title: String, context: EventContext) async throws -> Todo {
        try await change(id) { todo, now in
            guard todo.status == .open else { throw TodoError.conflict("todo \(id) is \(todo.status.rawValue); only an open todo can change") }
            guard todo.title != title else { return nil }
            let old = todo.title
            todo.title = title
            return TodoTitleChanged(todoID: id, userID: todo.userID, oldTitle: old, newTitle: title, changedAt: now)
        } context: { context }
    }

    public func delete(_ id: String, context: EventContext) async throws -> Todo {
        try await change(id, index: .remove) { todo, now in
            let wasCompleted = todo.status == .completed
            todo.status = .deleted
            return TodoDeleted(
                todoID: id, userID: todo.userID, title: todo.title, priority: todo.priority, wasCompleted: wasCompleted,
                deletedAt: now)
        } context: { context }
    }

    /// Reads the todo, applies `transition` (which returns the event, or nil for no change),
    /// and commits; retried when another change committed in between.
    private func change(
        _ id: String, index: IndexChange = .keep,
        _ transition: (inout Todo, Date) throws -> (any DomainEvent)?, context: () -> EventContext
    ) async throws -> Todo {
        for attempt in 0..<64 {
            if attempt > 0 {
                // Another change committed in between: back off a little, with jitter, so that
                // many writers of one todo do not keep colliding.
                try await Task.sleep(for: .microseconds(Int.random(in: 0...min(10_000, 500 * attempt))))
            }
            guard var todo = try await find(id) else { throw TodoError.notFound(id) }
            if todo.status == .deleted { throw TodoError.conflict("todo \(id) was deleted") }
            let expected = todo.version
            let now = Date()
            guard let event = try transition(&todo, now) else { return todo }
            todo.version += 1
            todo.updatedAt = now
            if try await commit(todo, expectedVersion: expected, index: index, event: event, context: context()) {
                return todo
            }
        }
        throw TodoError.conflict("todo \(id) is being changed by other requests; try again")
    }

    enum IndexChange: String {
        case add, remove, keep
    }

    /// Writes the todo and its event in one script, if the stored version is still `expectedVersion`.
    private func commit(
        _ todo: Todo, expectedVersion: Int, index: IndexChange, event: any DomainEvent, context: EventContext
    ) async throws -> Bool {
        let xadd = try publisher.xaddCommand(for: event, context: context)
        let fields = todo.hashFields
        let reply = try await client.run(
            Self.commitScript, keys: [Self.key(todo.id), Self.userKey(todo.userID), TodoEvents.stream]
        ) { command in
            command.append(expectedVersion)
            command.append(index.rawValue)
            command.append(Int(todo.createdAt.timeIntervalSince1970 * 1000))
            command.append(todo.id)
            command.append(countedPairs: fields)
            command.append(countedArgumentsOf: xadd)
        }
        if reply.isNull { return false }
        publisher.recordPublished(of: type(of: event))
        return true
    }

    /// Checks the version and everything else that can fail (the three keys' types), then
    /// `XADD`s the event first and writes the hash and the user index; returns the entry
    /// id, or nil (without writing) when the version changed. Redis does not roll a script
    /// back, so nothing is written before every check has passed, and the writes after the
    /// `XADD` cannot fail on keys of the right type.
    static let commitScript = RedisScript(
        """
        -- KEYS[1] todo hash, KEYS[2] user index, KEYS[3] event stream
        -- ARGV[1] expected version (0: must not exist), ARGV[2] add|remove|keep, ARGV[3] score, ARGV[4] todo id,
        -- ARGV[5] n, ARGV[6 .. 5+n] hash fields and values, then the XADD: its argument count and arguments.
        local expected = {'hash', 'zset', 'stream'}
        for k = 1, 3 do
          local t = redis.call('TYPE', KEYS[k]).ok
          if t ~= 'none' and t ~= expected[k] then
            return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a ' .. expected[k] .. '; nothing was written')
          end
        end
        local version = redis.call('HGET', KEYS[1], 'version') or '0'
        if version ~= ARGV[1] then return false end
        local n = tonumber(ARGV[5])
        local i = 6 + n
        local id = redis.call(unpack(ARGV, i + 1, i + tonumber(ARGV[i])))
        redis.call('HSET', KEYS[1], unpack(ARGV, 6, 5 + n))
        if ARGV[2] == 'add' then
          redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
        elseif ARGV[2] == 'remove' then
          redis.call('ZREM', KEYS[2], ARGV[4])
        end
        return id
        """)
}
