import EventBus
import RedisClient

/// Saga instances of one type in Redis, each changed only together with what the change
/// emits.
///
/// Keys (one hash tag per saga type, `{<type>}`): `saga:{<type>}:<id>` (hash: the state),
/// `saga:{<type>}:deadlines` (sorted set: `<id>:<step>:<version>` scored by the deadline
/// in ms since the epoch; survives restarts), `saga:{<type>}:history` (stream: one entry
/// per transition, trimmed to about `historyMaxLength`), `saga:{<type>}:status:<status>`
/// (sorted sets: the ids in each status, scored by their last change, for listing),
/// `saga:{<type>}:deadlines:parked` (hash: deadline member -> JSON `error`, `due_at_ms`,
/// `parked_at_ms`; the deadlines that can never run, set aside by `parkDeadline`).
///
/// A commit is one Lua script that refuses to write (returns a conflict) when the stored
/// version is not the one the change was computed from, so two coordinators never both
/// advance one saga; it checks the type of every key it writes before its first write (the
/// state hash by reading it; the deadlines, the parked deadlines and the status sets only when
/// touched), then appends the commands to their streams (the outbox), the state, the status
/// index, the deadline (the one it replaces goes, from the deadlines or the parked ones) and
/// the history entry: all of them or none. The command streams are outside the hash tag:
/// on Redis Cluster they would have to be relayed from the saga (see the README).
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
    let client: RedisClient

    public init(type: String, client: RedisClient, historyMaxLength: Int = 100_000, endedRetention: Duration? = nil) {
        self.type = type
        self.client = client
        self.historyMaxLength = historyMaxLength
        self.endedRetention = endedRetention.flatMap { $0 > .zero ? $0 : nil }
    }

    public func stateKey(_ id: String) -> String { "saga:{\(type)}:\(id)" }
    public var deadlinesKey: String { "saga:{\(type)}:deadlines" }
    public var parkedDeadlinesKey: String { "saga:{\(type)}:deadlines:parked" }
    public var historyKey: String { "saga:{\(type)}:history" }
    public func statusKey(_ status: SagaStatus) -> String { "saga:{\(type)}:status:\(status.rawValue)" }

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
        let keys = [stateKey(state.id), deadlinesKey, historyKey] + SagaStatus.allCases.map(statusKey) + [parkedDeadlinesKey]
            + commands.map(\.stream)
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
        let reply: RedisReply
        if let oldest = oldestLiveEnd(of: status, nowMilliseconds: SagaClock.nowMilliseconds()) {
            reply = try await client.send("ZREVRANGEBYSCORE", statusKey(status), "+inf", "\(oldest)", "LIMIT", "0", count).throwingError()
        } else {
            reply = try await client.send("ZREVRANGE", statusKey(status), "0", "\(max(limit, 1) - 1)").throwingError()
        }
        return reply.array?.compactMap(\.string) ?? []
    }

    /// How many sagas are in each status (with `endedRetention`, only the ended sagas whose
    /// state has not expired; without it, every id of each status set).
    public func counts() async throws -> [SagaStatus: Int] {
        let now = SagaClock.nowMilliseconds()
        let replies = try await client.pipeline(
            SagaStatus.allCases.map { status in
                if let oldest = oldestLiveEnd(of: status, nowMilliseconds: now) {
                    RedisCommand("ZCOUNT", statusKey(status), "\(oldest)", "+inf")
                } else {
                    RedisCommand("ZCARD", statusKey(status))
                }
            })
        var counts: [SagaStatus: Int] = [:]
        for (status, reply) in zip(SagaStatus.allCases, replies) { counts[status] = try reply.throwingError().int ?? 0 }
        return counts
    }

    /// Removes from the ended statuses' sets the sagas that ended longer than
    /// `endedRetention` ago (their state has expired), so that readers that do not know the
    /// retention (`streamsctl`) count them no more; returns how many. Without a retention,
    /// does nothing.
    @discardableResult
    public func trimEnded(nowMilliseconds: Int) async throws -> Int {
        let commands = SagaStatus.allCases.compactMap { status in
            oldestLiveEnd(of: status, nowMilliseconds: nowMilliseconds).map {
                RedisCommand("ZREMRANGEBYSCORE", statusKey(status), "-inf", "(\($0)")
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

    /// Deadlines due at `nowMilliseconds`, the earliest first, at most `limit`.
    public func dueDeadlines(nowMilliseconds: Int, limit: Int) async throws -> [String] {
        let reply = try await client.send(
            "ZRANGEBYSCORE", deadlinesKey, "-inf", "\(nowMilliseconds)", "LIMIT", "0", "\(limit)"
        ).throwingError()
        return reply.array?.compactMap(\.string) ?? []
    }

    /// Removes a deadline member that no longer matches its saga (the saga moved on).
    public func removeDeadline(_ member: String) async throws {
        _ = try await client.send("ZREM", deadlinesKey, member).throwingError()
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
        try await client.run(Self.parkScript, keys: [deadlinesKey, parkedDeadlinesKey], as: ParkReply.self) { command in
            command.append(member)
            command.append(String(error.prefix(2000)))
            command.append(nowMilliseconds)
        }.parked
    }

    /// The parked deadlines, the earliest parked first.
    public func parkedDeadlines() async throws -> [ParkedDeadline] {
        let fields = try await client.send("HGETALL", parkedDeadlinesKey).throwingError().array?.compactMap(\.string) ?? []
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
        try await client.send("HLEN", parkedDeadlinesKey).throwingError().int ?? 0
    }

    /// Puts parked deadlines back among the deadlines, due at `nowMilliseconds` (every
    /// parked one when `members` is empty; members that are not parked are skipped), in one
    /// checked script; returns how many. One that still cannot run is parked again.
    @discardableResult
    public func retryParkedDeadlines(_ members: [String] = [], nowMilliseconds: Int) async throws -> Int {
        try await client.run(Self.retryParkedScript, keys: [deadlinesKey, parkedDeadlinesKey], as: RetryParkedReply.self) {
            command in
            command.append(nowMilliseconds)
            for member in members { command.append(member) }
        }.moved
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
