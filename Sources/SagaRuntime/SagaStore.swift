import RedisClient

/// Saga instances of one type in Redis, each changed only together with what the change
/// emits.
///
/// Keys (one hash tag per saga type, `{<type>}`): `saga:{<type>}:<id>` (hash: the state),
/// `saga:{<type>}:deadlines` (sorted set: `<id>:<step>` scored by the deadline in ms since
/// the epoch; survives restarts), `saga:{<type>}:history` (stream: one entry per
/// transition). A commit is one Lua script that refuses to write (returns a conflict) when
/// the stored version is not the one the change was computed from, so two coordinators
/// never both advance one saga; it checks every key's type before its first write, then
/// appends the commands to their streams (the outbox), the state, the deadline and the
/// history entry: all of them or none.
public struct SagaStore: Sendable {
    public let type: String
    let client: RedisClient

    public init(type: String, client: RedisClient) {
        self.type = type
        self.client = client
    }

    public func stateKey(_ id: String) -> String { "saga:{\(type)}:\(id)" }
    public var deadlinesKey: String { "saga:{\(type)}:deadlines" }
    public var historyKey: String { "saga:{\(type)}:history" }

    /// The stored state, or nil when there is no such saga.
    public func load(_ id: String) async throws -> SagaState? {
        let hash = try await client.hgetall(stateKey(id))
        if hash.isEmpty { return nil }
        return try SagaState(id: id, hash: hash)
    }

    /// What a commit did.
    public enum CommitResult: Sendable, Equatable {
        case committed
        /// The stored version was not `expectedVersion`: reload and compute again.
        case conflict
    }

    /// Writes `state` (computed from the version `expectedVersion`), sends `commands` (each
    /// a stream and its entry's fields), sets or clears the saga's deadline, and records
    /// `event` in the history, atomically. The deadline is `nowMilliseconds` (since the
    /// epoch) plus its duration.
    public func commit(
        _ state: SagaState, expectedVersion: Int, commands: [(stream: String, fields: [(String, String)])],
        deadline: SagaEffects.Deadline?, event: String, nowMilliseconds: Int
    ) async throws -> CommitResult {
        let streams = commands.map(\.stream)
        let keys = [stateKey(state.id), deadlinesKey, historyKey] + streams
        let reply = try await client.run(Self.commitScript, keys: keys) { command in
            command.append(expectedVersion)
            let fields = state.hashFields
            command.append(fields.count * 2)
            for (name, value) in fields {
                command.append(name)
                command.append(value)
            }
            if let deadline {
                let milliseconds = deadline.after.components.seconds * 1000
                    + deadline.after.components.attoseconds / 1_000_000_000_000_000
                command.append("set")
                command.append("\(state.id):\(deadline.step)")
                command.append(nowMilliseconds + Int(milliseconds))
            } else {
                command.append("clear")
                command.append(state.id + ":")
                command.append(0)
            }
            command.append(event)
            for (_, commandFields) in commands {
                command.append(commandFields.count * 2)
                for (name, value) in commandFields {
                    command.append(name)
                    command.append(value)
                }
            }
        }
        return reply.isNull ? .conflict : .committed
    }

    /// KEYS: state hash, deadlines, history, then one command stream per command.
    /// ARGV: expected version, n, n hash fields and values, set|clear, deadline member (or
    /// the member prefix to clear), score, history event, then per command its field count
    /// and fields. Nil on a version conflict, without writing.
    static let commitScript = RedisScript(
        """
        #!lua
        local expected = {'hash', 'zset', 'stream'}
        for k = 1, #KEYS do
          local t = redis.call('TYPE', KEYS[k]).ok
          local want = expected[k] or 'stream'
          if t ~= 'none' and t ~= want then
            return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a ' .. want .. '; nothing was written')
          end
        end
        local version = redis.call('HGET', KEYS[1], 'version') or '0'
        if version ~= ARGV[1] then return false end
        local n = tonumber(ARGV[2])
        local i = 3 + n
        local mode, member, score, event = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
        -- Every check passed: the outbox first, then the state, the deadline, the history.
        local j = i + 4
        for c = 4, #KEYS do
          local count = tonumber(ARGV[j])
          redis.call('XADD', KEYS[c], '*', unpack(ARGV, j + 1, j + count))
          j = j + count + 1
        end
        redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n))
        -- A saga awaits one thing at a time: its earlier deadline goes.
        local old = redis.call('HGET', KEYS[1], 'deadline_member')
        if old then redis.call('ZREM', KEYS[2], old) end
        if mode == 'set' then
          redis.call('ZADD', KEYS[2], score, member)
          redis.call('HSET', KEYS[1], 'deadline_member', member)
        else
          redis.call('HDEL', KEYS[1], 'deadline_member')
        end
        local h = {'saga_id', string.match(KEYS[1], ':([^:]*)$'), 'event', event}
        for f = 3, 2 + n, 2 do
          if ARGV[f] == 'status' or ARGV[f] == 'version' or ARGV[f] == 'current_step' then
            h[#h + 1] = ARGV[f]
            h[#h + 1] = ARGV[f + 1]
          end
        end
        redis.call('XADD', KEYS[3], '*', unpack(h))
        return 'OK'
        """)
}

/// A saga hash that cannot be read back.
public struct SagaStoreError: Error, CustomStringConvertible {
    public let description: String
}

extension SagaState {
    /// The hash fields of the state (plain text, readable with `redis-cli HGETALL`).
    var hashFields: [(String, String)] {
        [
            ("status", status.rawValue), ("current_step", "\(currentStep)"),
            ("completed_steps", completedSteps.map(String.init).joined(separator: ",")),
            ("pending_compensations", pendingCompensations.map(String.init).joined(separator: ",")),
            ("compensation_attempts", "\(compensationAttempts)"), ("reason", reason ?? ""), ("version", "\(version)"),
        ]
    }

    init(id: String, hash: [String: String]) throws {
        func list(_ name: String) throws -> [Int] {
            let text = hash[name] ?? ""
            if text.isEmpty { return [] }
            let values = text.split(separator: ",").compactMap { Int($0) }
            guard values.count == text.split(separator: ",").count else {
                throw SagaStoreError(description: "saga \(id): field \(name) is not a list of integers: '\(text)'")
            }
            return values
        }
        guard let status = hash["status"].flatMap(SagaStatus.init(rawValue:)), let version = hash["version"].flatMap(Int.init),
            let currentStep = hash["current_step"].flatMap(Int.init)
        else {
            throw SagaStoreError(description: "saga \(id): status, version or current_step is missing or invalid")
        }
        self.init(id: id)
        self.status = status
        self.version = version
        self.currentStep = currentStep
        completedSteps = try list("completed_steps")
        pendingCompensations = try list("pending_compensations")
        compensationAttempts = Int(hash["compensation_attempts"] ?? "") ?? 0
        reason = (hash["reason"] ?? "").isEmpty ? nil : hash["reason"]
    }
}
