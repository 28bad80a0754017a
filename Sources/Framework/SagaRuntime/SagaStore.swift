import EventBus
import RedisClient

/// Saga instances of one type in Redis, each changed only together with what the change
/// emits.
///
/// Keys, per partition (`SagaKeys`; one partition: the prefix `saga:{<type>}`, partitioned:
/// `saga:<type>:{<tag>}`, the tag of the partition of the saga's id, the partition its
/// commands and replies travel on): `<prefix>:<id>` (hash: the state), `<prefix>:deadlines`
/// (sorted set: `<id>:<step>:<version>` scored by the deadline in ms since the epoch; survives
/// restarts), `<prefix>:history` (stream: one entry per transition, trimmed to about
/// `historyMaxLength`), `<prefix>:status:<status>` (sorted sets: the ids in each status,
/// scored by their last change, for listing), `<prefix>:deadlines:parked` (hash: deadline
/// member -> JSON `error`, `due_at_ms`, `parked_at_ms`; the deadlines that can never run,
/// set aside by `parkDeadline`).
///
/// A commit is one Lua script that refuses to write (returns a conflict) when the stored
/// version is not the one the change was computed from, so two coordinators never both
/// advance one saga; it checks the type of every key it writes before its first write (the
/// state hash by reading it; the deadlines, the parked deadlines and the status sets only when
/// touched), then appends the commands to their streams (the outbox), the state, the status
/// index, the deadline (the one it replaces goes, from the deadlines or the parked ones) and
/// the history entry: all of them or none. Partitioned, every key of a commit (the command
/// streams' partitions included) carries the saga's partition tag: one slot, so the commit
/// stays one atomic script on Redis Cluster. With one partition the command streams are in
/// other slots: a single Redis node only.
///
/// Reads over every saga (`ids`, `counts`, due deadlines, parked deadlines) read each
/// partition and merge.
///
/// Retention: with `endedRetention`, the commit that ends a saga (completed, compensated,
/// failed) gives its state hash that time to live and removes from the same status set the
/// sagas that ended longer ago than that; `trimEnded` (run by `SagaStatusSampler`) removes
/// them from every ended status's set, and this store's `counts` and `ids` leave them out
/// even before that, so that a saga whose state expired is counted in no status. Without
/// it, ended sagas are kept forever.
public struct SagaStore: Sendable {
    public let type: String
    /// The history stream's approximate bound (`XADD MAXLEN ~`).
    public let historyMaxLength: Int
    /// How long an ended saga stays readable (nil: forever).
    public let endedRetention: Duration?
    /// The partitions sagas are spread over (those of the command and reply streams).
    public let partitions: StreamPartitions
    let client: RedisClient

    public init(
        type: String, client: RedisClient, partitions: StreamPartitions = .single, historyMaxLength: Int = 100_000,
        endedRetention: Duration? = nil
    ) {
        self.type = type
        self.client = client
        self.partitions = partitions
        self.historyMaxLength = historyMaxLength
        self.endedRetention = endedRetention.flatMap { $0 > .zero ? $0 : nil }
    }

    /// The keys of partition `partition`.
    public func keys(partition: Int) -> SagaKeys {
        SagaKeys(prefix: partitions.count == 1 ? "saga:{\(type)}" : "saga:\(type):{\(partitions.tags[partition])}")
    }

    /// The keys of the partition of saga `id`.
    public func keys(for id: String) -> SagaKeys { keys(partition: partitions.partition(of: id)) }

    /// The keys of every partition.
    public var allKeys: [SagaKeys] { (0..<partitions.count).map { keys(partition: $0) } }

    public func stateKey(_ id: String) -> String { keys(for: id).state(id) }
    /// The first partition's keys (the only ones with one partition).
    public var deadlinesKey: String { keys(partition: 0).deadlines }
    public var parkedDeadlinesKey: String { keys(partition: 0).parkedDeadlines }
    public var historyKey: String { keys(partition: 0).history }
    public func statusKey(_ status: SagaStatus) -> String { keys(partition: 0).status(status) }

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

    /// The deadline member of a saga awaiting `step` at `version`: a deadline is acted on
    /// only while the saga is still at that version.
    public static func deadlineMember(id: String, step: Int, version: Int) -> String { "\(id):\(step):\(version)" }

    /// The saga id, step and version of a deadline member, or nil when it is not one.
    public static func parseDeadlineMember(_ member: String) -> (id: String, step: Int, version: Int)? {
        let parts = member.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let step = Int(parts[parts.count - 2]), let version = Int(parts[parts.count - 1]) else { return nil }
        return (parts.dropLast(2).joined(separator: ":"), step, version)
    }

    /// Writes `state` (computed from the version `expectedVersion`), sends `commands` (each
    /// an `XADD` to `stream`, e.g. from `EventPublisher.xaddCommand(for:stream:context:)`),
    /// sets or clears the saga's deadline, and records `event` in the history, atomically.
    /// The deadline is `state.updatedAtMs` plus its duration. With `previous` (the state at
    /// `expectedVersion`) only the fields that differ from it are written: the version
    /// check makes the stored state that one.
    public func commit(
        _ state: SagaState, expectedVersion: Int, commands: [(stream: String, xadd: RedisCommand)],
        deadline: SagaEffects.Deadline?, event: String, previous: SagaState? = nil
    ) async throws -> CommitResult {
        try await EventSpans.run(
            "saga commit", ofKind: .client,
            describe: { span in
                span.attributes["db.system.name"] = "redis"
                span.attributes["db.operation.name"] = "EVALSHA"
                span.attributes["saga.id"] = state.id
                span.attributes["saga.version"] = state.version
                span.attributes["saga.commands"] = commands.count
            }
        ) {
            try await runCommitScript(
                state, expectedVersion: expectedVersion, commands: commands, deadline: deadline, event: event,
                previous: previous?.version == expectedVersion ? previous : nil)
        }
    }

    private func runCommitScript(
        _ state: SagaState, expectedVersion: Int, commands: [(stream: String, xadd: RedisCommand)],
        deadline: SagaEffects.Deadline?, event: String, previous: SagaState?
    ) async throws -> CommitResult {
        let sagaKeys = keys(for: state.id)
        let keys = [sagaKeys.state(state.id), sagaKeys.deadlines, sagaKeys.history] + SagaStatus.allCases.map(sagaKeys.status)
            + [sagaKeys.parkedDeadlines] + commands.map(\.stream)
        var hashFields = try state.hashFields(changedFrom: previous)
        let member = deadline.map { Self.deadlineMember(id: state.id, step: $0.step, version: state.version) } ?? ""
        hashFields.append(("deadline_member", member))
        return try await client.run(Self.commitScript, keys: keys, as: CommitResult.self) { command in
            command.append(expectedVersion)
            command.append(hashFields.count * 2)
            for (name, value) in hashFields {
                command.append(name)
                command.append(value)
            }
            if let deadline {
                command.append("set")
                command.append(member)
                command.append(state.updatedAtMs + Self.milliseconds(deadline.after))
            } else {
                command.append("clear")
                command.append("")
                command.append(0)
            }
            command.append(event)
            command.append(state.status.rawValue)
            command.append(state.updatedAtMs)
            command.append(historyMaxLength)
            command.append(state.id)
            command.append(endedRetention.map(Self.milliseconds) ?? 0)
            for (_, xadd) in commands {
                command.append(xadd.argumentCount)
                command.append(argumentsOf: xadd)
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// The trace context saga `id`'s last step was taken in (nil: none recorded).
    public func traceparent(of id: String) async throws -> String? {
        let value = try await client.send("HGET", stateKey(id), "traceparent").throwingError().string
        return value?.isEmpty == false ? value : nil
    }

    /// The ids of the sagas in `status`, the most recently changed first (with
    /// `endedRetention`, an ended status leaves out the sagas whose state has expired).
    public func ids(in status: SagaStatus, limit: Int) async throws -> [String] {
        let count = "\(max(limit, 1))"
        let oldest = oldestLiveEnd(of: status, nowMilliseconds: SagaClock.nowMilliseconds())
        let replies = try await client.pipeline(
            allKeys.map { keys in
                if let oldest {
                    RedisCommand("ZREVRANGEBYSCORE", keys.status(status), "+inf", "\(oldest)", "WITHSCORES", "LIMIT", "0", count)
                } else {
                    RedisCommand("ZREVRANGE", keys.status(status), "0", "\(max(limit, 1) - 1)", "WITHSCORES")
                }
            })
        return try Self.merged(replies, limit: limit, descending: true)
    }

    /// The members of `WITHSCORES` replies (one per partition) merged by score, at most `limit`.
    static func merged(_ replies: [RedisReply], limit: Int, descending: Bool) throws -> [String] {
        var scored: [(member: String, score: Double)] = []
        for reply in replies {
            let values = try reply.throwingError().array ?? []
            for index in stride(from: 0, to: values.count - 1, by: 2) {
                guard let member = values[index].string, let score = values[index + 1].string.flatMap(Double.init) else { continue }
                scored.append((member, score))
            }
        }
        if replies.count > 1 {
            scored.sort { descending ? ($0.score, $0.member) > ($1.score, $1.member) : ($0.score, $0.member) < ($1.score, $1.member) }
        }
        return scored.prefix(max(limit, 0)).map(\.member)
    }

    /// How many sagas are in each status (with `endedRetention`, only the ended sagas whose
    /// state has not expired; without it, every id of each status set), over every partition.
    public func counts() async throws -> [SagaStatus: Int] {
        let now = SagaClock.nowMilliseconds()
        var commands: [RedisCommand] = []
        for keys in allKeys {
            for status in SagaStatus.allCases {
                if let oldest = oldestLiveEnd(of: status, nowMilliseconds: now) {
                    commands.append(RedisCommand("ZCOUNT", keys.status(status), "\(oldest)", "+inf"))
                } else {
                    commands.append(RedisCommand("ZCARD", keys.status(status)))
                }
            }
        }
        let replies = try await client.pipeline(commands)
        var counts: [SagaStatus: Int] = [:]
        for (index, reply) in replies.enumerated() {
            let status = SagaStatus.allCases[index % SagaStatus.allCases.count]
            counts[status, default: 0] += try reply.throwingError().int ?? 0
        }
        return counts
    }

    /// Removes from the ended statuses' sets the sagas that ended longer than
    /// `endedRetention` ago (their state has expired), so that readers that do not know the
    /// retention (`streamsctl`) count them no more; returns how many. Without a retention,
    /// does nothing.
    @discardableResult
    public func trimEnded(nowMilliseconds: Int) async throws -> Int {
        let commands = allKeys.flatMap { keys in
            SagaStatus.allCases.compactMap { status in
                oldestLiveEnd(of: status, nowMilliseconds: nowMilliseconds).map {
                    RedisCommand("ZREMRANGEBYSCORE", keys.status(status), "-inf", "(\($0)")
                }
            }
        }
        if commands.isEmpty { return 0 }
        return try await client.pipeline(commands).reduce(0) { $0 + (try $1.throwingError().int ?? 0) }
    }

    /// For an ended status with a retention: the lowest score (end time, ms) of a saga whose
    /// state is still kept; nil otherwise (every id of the set counts).
    private func oldestLiveEnd(of status: SagaStatus, nowMilliseconds: Int) -> Int? {
        guard status.isFinal, let endedRetention else { return nil }
        return nowMilliseconds - Self.milliseconds(endedRetention)
    }

    /// Deadlines due at `nowMilliseconds`, the earliest first, at most `limit` (over every
    /// partition).
    public func dueDeadlines(nowMilliseconds: Int, limit: Int) async throws -> [String] {
        let replies = try await client.pipeline(
            allKeys.map {
                RedisCommand("ZRANGEBYSCORE", $0.deadlines, "-inf", "\(nowMilliseconds)", "WITHSCORES", "LIMIT", "0", "\(limit)")
            })
        return try Self.merged(replies, limit: limit, descending: false)
    }

    /// The keys of the partition of the saga a deadline member belongs to.
    func keys(ofDeadline member: String) -> SagaKeys {
        keys(for: Self.parseDeadlineMember(member)?.id ?? member)
    }

    /// Removes a deadline member that no longer matches its saga (the saga moved on).
    public func removeDeadline(_ member: String) async throws {
        _ = try await client.send("ZREM", keys(ofDeadline: member).deadlines, member).throwingError()
    }

    // MARK: Parked deadlines

    /// A deadline set aside because it can never run as it is (see `parkDeadline`).
    public struct ParkedDeadline: Sendable, Equatable, Codable {
        /// The deadline's member (`<id>:<step>:<version>`).
        public var member: String
        /// Why it could not run.
        public var error: String
        /// When it fell due and when it was parked (milliseconds since the epoch).
        public var dueAtMs: Int
        public var parkedAtMs: Int

        enum CodingKeys: String, CodingKey {
            case member, error, dueAtMs = "due_at_ms", parkedAtMs = "parked_at_ms"
        }
    }

    /// Moves `member` from the deadlines to the parked deadlines with `error`, in one
    /// checked script; false when it is no longer a deadline (acted on or parked meanwhile
    /// by another coordinator, or the saga moved on), and then nothing is written.
    @discardableResult
    public func parkDeadline(_ member: String, error: String, nowMilliseconds: Int) async throws -> Bool {
        let keys = keys(ofDeadline: member)
        return try await client.run(Self.parkScript, keys: [keys.deadlines, keys.parkedDeadlines], as: ParkReply.self) { command in
            command.append(member)
            command.append(String(error.prefix(2000)))
            command.append(nowMilliseconds)
        }.parked
    }

    /// The parked deadlines, the earliest parked first (over every partition).
    public func parkedDeadlines() async throws -> [ParkedDeadline] {
        var fields: [String] = []
        for reply in try await client.pipeline(allKeys.map { RedisCommand("HGETALL", $0.parkedDeadlines) }) {
            fields += try reply.throwingError().array?.compactMap(\.string) ?? []
        }
        var parked: [ParkedDeadline] = []
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            struct Stored: Decodable {
                var error: String?
                var dueAtMs: Int?
                var parkedAtMs: Int?
                enum CodingKeys: String, CodingKey { case error, dueAtMs = "due_at_ms", parkedAtMs = "parked_at_ms" }
            }
            let stored = try? EventDataDecoder().decode(Stored.self, from: Array(fields[index + 1].utf8)[...])
            parked.append(
                ParkedDeadline(
                    member: fields[index], error: stored?.error ?? fields[index + 1], dueAtMs: stored?.dueAtMs ?? 0,
                    parkedAtMs: stored?.parkedAtMs ?? 0))
        }
        return parked.sorted { ($0.parkedAtMs, $0.member) < ($1.parkedAtMs, $1.member) }
    }

    /// How many deadlines are parked.
    public func parkedDeadlineCount() async throws -> Int {
        try await client.pipeline(allKeys.map { RedisCommand("HLEN", $0.parkedDeadlines) }).reduce(0) {
            $0 + (try $1.throwingError().int ?? 0)
        }
    }

    /// Puts parked deadlines back among the deadlines, due at `nowMilliseconds` (every
    /// parked one when `members` is empty; members that are not parked are skipped), in one
    /// checked script; returns how many. One that still cannot run is parked again.
    @discardableResult
    public func retryParkedDeadlines(_ members: [String] = [], nowMilliseconds: Int) async throws -> Int {
        // One script per partition (its keys in one slot): every partition for "all", else
        // the partitions of the members given.
        var byPartition: [(keys: SagaKeys, members: [String])] = []
        if members.isEmpty {
            byPartition = allKeys.map { ($0, []) }
        } else {
            for member in members {
                let keys = keys(ofDeadline: member)
                if let index = byPartition.firstIndex(where: { $0.keys == keys }) {
                    byPartition[index].members.append(member)
                } else {
                    byPartition.append((keys, [member]))
                }
            }
        }
        var moved = 0
        for (keys, members) in byPartition {
            moved += try await client.run(
                Self.retryParkedScript, keys: [keys.deadlines, keys.parkedDeadlines], as: RetryParkedReply.self
            ) { command in
                command.append(nowMilliseconds)
                for member in members { command.append(member) }
            }.moved
        }
        return moved
    }

    /// KEYS: deadlines, parked deadlines. ARGV: member, error, now (ms). 1 when parked, 0
    /// (nothing written) when the member is no longer a deadline.
    /// The script is `park-deadline.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let parkScript = LuaScripts.parkDeadline

    /// KEYS: deadlines, parked deadlines. ARGV: now (ms), then the members (none: all).
    /// Returns how many were put back.
    /// The script is `retry-parked-deadlines.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let retryParkedScript = LuaScripts.retryParkedDeadlines

    // MARK: Commit script

    /// KEYS: state hash, deadlines, history, the five status sets (`SagaStatus.allCases`
    /// order), the parked deadlines, then one command stream per command.
    /// ARGV: expected version, n, n hash fields and values (`deadline_member` among them:
    /// the member, or empty), set|clear, deadline member, score, history event, new
    /// status, now (ms), history bound, saga id, retention of an ended saga (ms, 0: none),
    /// then per command its argument count and its arguments (`XADD <its stream> ...`). Nil
    /// on a version conflict, without writing.
    /// The script is `commit-saga.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let commitScript = LuaScripts.commitSaga
}

/// A saga hash that cannot be read back.
public struct SagaStoreError: Error, CustomStringConvertible {
    public let description: String
}

extension SagaState {
    /// The hash fields of the state (plain text, readable with `redis-cli HGETALL`; the
    /// steps' timeline as one JSON field per step, `step.<index>`): all of them, or those
    /// that differ from `previous` (a transition changes one or two steps).
    func hashFields(changedFrom previous: SagaState? = nil) throws -> [(String, String)] {
        var fields: [(String, String)] = []
        func field(_ name: String, _ changed: (SagaState) -> Bool, _ value: () throws -> String) rethrows {
            if let previous, !changed(previous) { return }
            fields.append((name, try value()))
        }
        if !traceparent.isEmpty { field("traceparent", { $0.traceparent != traceparent }) { traceparent } }
        field("status", { $0.status != status }) { status.rawValue }
        field("current_step", { $0.currentStep != currentStep }) { "\(currentStep)" }
        field("completed_steps", { $0.completedSteps != completedSteps }) { completedSteps.map(String.init).joined(separator: ",") }
        field("pending_compensations", { $0.pendingCompensations != pendingCompensations }) {
            pendingCompensations.map(String.init).joined(separator: ",")
        }
        field("compensation_attempts", { $0.compensationAttempts != compensationAttempts }) { "\(compensationAttempts)" }
        field("reason", { $0.reason != reason }) { reason ?? "" }
        fields.append(("version", "\(version)"))
        field("correlation_id", { $0.correlationID != correlationID }) { correlationID }
        field("data", { $0.data != data }) { data }
        field("started_at_ms", { $0.startedAtMs != startedAtMs }) { "\(startedAtMs)" }
        field("updated_at_ms", { $0.updatedAtMs != updatedAtMs }) { "\(updatedAtMs)" }
        for (index, step) in steps.enumerated() {
            try field("step.\(index)", { index >= $0.steps.count || $0.steps[index] != step }) {
                var record: [UInt8] = []
                try EventDataEncoder().encode(step, into: &record)
                return String(decoding: record, as: UTF8.self)
            }
        }
        return fields
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
        correlationID = hash["correlation_id"] ?? ""
        traceparent = hash["traceparent"] ?? ""
        data = hash["data"] ?? "{}"
        startedAtMs = Int(hash["started_at_ms"] ?? "") ?? 0
        updatedAtMs = Int(hash["updated_at_ms"] ?? "") ?? 0
        // The whole timeline in one field (`steps`, as written before one field per step),
        // then every `step.<index>` over it. A saga stored in that layout gets only the steps
        // a transition changes (a reply to step 1 writes `step.1` and `step.2`, never
        // `step.0`), so each `step.<index>` counts, wherever the first gap is.
        if let timeline = hash["steps"], !timeline.isEmpty {
            do {
                steps = try EventDataDecoder().decode([SagaStepRecord].self, from: Array(timeline.utf8)[...])
            } catch {
                throw SagaStoreError(description: "saga \(id): field steps is not a step timeline: \(error)")
            }
        }
        let records = hash.compactMap { name, record -> (index: Int, record: String)? in
            guard name.hasPrefix("step."), let index = Int(name.dropFirst(5)), index >= 0, "step.\(index)" == name else { return nil }
            return (index, record)
        }
        for (index, record) in records.sorted(by: { $0.index < $1.index }) {
            let step: SagaStepRecord
            do {
                step = try EventDataDecoder().decode(SagaStepRecord.self, from: Array(record.utf8)[...])
            } catch {
                throw SagaStoreError(description: "saga \(id): field step.\(index) is not a step record: \(error)")
            }
            if index < steps.count {
                steps[index] = step
            } else if index == steps.count {
                steps.append(step)
            } else {
                throw SagaStoreError(description: "saga \(id): field step.\(index) follows \(steps.count) steps: its timeline has a gap")
            }
        }
    }
}

/// The keys of one partition of a saga type (see `SagaStore`).
public struct SagaKeys: Sendable, Hashable {
    /// `saga:{<type>}` (one partition) or `saga:<type>:{<tag>}`.
    public let prefix: String

    public func state(_ id: String) -> String { "\(prefix):\(id)" }
    public var deadlines: String { "\(prefix):deadlines" }
    public var parkedDeadlines: String { "\(prefix):deadlines:parked" }
    public var history: String { "\(prefix):history" }
    public func status(_ status: SagaStatus) -> String { "\(prefix):status:\(status.rawValue)" }
}
