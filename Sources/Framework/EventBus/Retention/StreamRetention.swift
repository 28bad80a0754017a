import RedisClient

/// How long a stream is kept.
public enum RetentionPolicy: Sendable, Hashable {
    /// Never trimmed: the stream grows until someone trims it.
    case none
    /// `MAXLEN`: keep the newest `n` entries. Risk: Redis trims by count alone, so a
    /// group that lags more than `n` entries behind (a consumer down, a slow handler)
    /// loses the entries it has not read, and pending entries lose their bodies (they are
    /// claimed as deleted and end up as `deleted` dead letters). Cheap; use only when
    /// losing old events is acceptable.
    case maxLength(Int)
    /// `StreamRetention.trimSafely`: trim what every consumer group has handled
    /// (acknowledged and delivered), keeping at least the newest `maxLength` entries when
    /// given. Never drops an entry a group still needs, so a stalled group makes the
    /// stream grow past `maxLength` (watch `groups` lag and pending).
    case safe(maxLength: Int?)
}

/// The outcome of `StreamRetention.trimSafely`.
public struct SafeTrimResult: Sendable, Hashable {
    /// Entries removed.
    public let removed: Int
    /// The `MINID` trimmed to (entries before it were removed), or nil when nothing was
    /// to be trimmed and `XTRIM` was not run.
    public let minimumID: StreamEntryID?
    /// The group whose needs set `minimumID` (it holds the oldest pending or undelivered
    /// entry), or nil when `maxLength` (or nothing) set it.
    public let limitingGroup: String?

    public init(removed: Int, minimumID: StreamEntryID?, limitingGroup: String?) {
        self.removed = removed
        self.minimumID = minimumID
        self.limitingGroup = limitingGroup
    }
}

/// Trims streams, plainly (`MAXLEN`) or safely (never past what a consumer group needs).
public struct StreamRetention: Sendable {
    let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    /// `XTRIM stream MAXLEN [~|=] maxLength`: keeps the newest `maxLength` entries and
    /// returns how many were removed. It looks at no consumer group: it CAN delete entries
    /// a group has not read yet or holds pending (unacknowledged). Use `trimSafely` unless
    /// that is acceptable. With `approximate`, Redis removes only whole internal nodes
    /// (fewer entries, cheaper).
    @discardableResult
    public func trim(stream: String, maxLength: Int, approximate: Bool = false) async throws -> Int {
        guard maxLength >= 0 else { throw EventBusError(.invalidArgument, "maxLength must not be negative") }
        try await client.requireStream(stream)
        return try await client.send("XTRIM", stream, "MAXLEN", approximate ? "~" : "=", "\(maxLength)").int ?? 0
    }

    /// Trims `stream` up to the oldest entry that some consumer group still needs, in one
    /// atomic Lua script (no entry can be delivered or acknowledged in between).
    ///
    /// For each group (`XINFO GROUPS`), the oldest entry it needs is the older of its
    /// oldest pending entry (`XPENDING stream group - + 1`: delivered, not acknowledged)
    /// and the first id after its last-delivered-id (not yet delivered). The oldest over
    /// all groups is the limit. With `maxLength`, the id the newest `maxLength` entries
    /// start at is a second limit, and the OLDER of the two wins: the stream keeps at
    /// least its newest `maxLength` entries and, beyond them, everything a group needs.
    /// Then `XTRIM stream MINID [~|=] limit`. With `approximate`, Redis removes only
    /// whole internal nodes, so it may keep more than asked, never less.
    ///
    /// Guarantees: no pending (unacknowledged) entry and no undelivered entry of any
    /// group is removed. With no group and no `maxLength`, nothing is trimmed: nobody has
    /// declared what is handled, and a group created later (`XGROUP CREATE ... 0`) could
    /// still want the history. A stream shorter than `maxLength` is not trimmed.
    ///
    /// Cost: O(groups + min(maxLength, length - maxLength)) inside Redis, while the
    /// script blocks the server; trim often with a moderate `maxLength` rather than once
    /// with a huge one.
    public func trimSafely(stream: String, maxLength: Int? = nil, approximate: Bool = false) async throws
        -> SafeTrimResult
    {
        if let maxLength, maxLength < 0 {
            throw EventBusError(.invalidArgument, "maxLength must not be negative")
        }
        let reply = try await client.run(Self.safeTrimScript, keys: [stream], as: SafeTrimReply.self) { arguments in
            arguments.append(maxLength.map(String.init) ?? "")
            arguments.append(approximate ? "~" : "=")
        }
        switch reply {
        case .trimmed(let result): return result
        case .missing: throw EventBusError.noSuchStream(stream)
        case .wrongType(let type): throw EventBusError.wrongType(stream, type: type)
        }
    }

    /// Applies `policy` to `stream` once; returns the number of entries removed.
    @discardableResult
    public func apply(_ policy: RetentionPolicy, to stream: String, approximate: Bool = true) async throws -> Int {
        switch policy {
        case .none: 0
        case .maxLength(let maxLength): try await trim(stream: stream, maxLength: maxLength, approximate: approximate)
        case .safe(let maxLength):
            try await trimSafely(stream: stream, maxLength: maxLength, approximate: approximate).removed
        }
    }

    /// KEYS: stream. ARGV: maxLength or "", "~" or "=".
    /// Ids are compared as decimal strings (exact for any 64-bit part); "the id after
    /// ms-seq" is ms-(seq+1), or (ms+1)-0 when seq is the largest 64-bit value.
    /// The script is `Retention/trim-safely.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let safeTrimScript = LuaScripts.trimSafely
}
