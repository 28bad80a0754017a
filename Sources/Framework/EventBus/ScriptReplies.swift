import RedisClient

// The replies of EventBus's Lua scripts (`LuaScripts`, from the module's `.lua` files),
// each decoded in one place: a script's caller gets a typed value or an `.unexpectedReply`
// error, never a reply to compare with strings.

/// A count the script replies (`renew-claims.lua`, `give-back-deliveries.lua`).
struct ScriptCount: RedisScriptReply, Equatable {
    let value: Int
    init?(reply: RedisReply) {
        guard let value = reply.int, value >= 0 else { return nil }
        self.value = value
    }
}

/// `remove-idle-consumers.lua`: the consumers removed.
struct RemovedConsumers: RedisScriptReply, Equatable {
    let names: [String]
    init?(reply: RedisReply) {
        guard let names = reply.array?.compactMap(\.string), names.count == reply.array?.count else {
            return nil
        }
        self.names = names
    }
}

/// Per item, 1 or 0 (`write-dead-letters.lua`: moved; `commit-batch.lua`: committed).
struct ScriptFlags: RedisScriptReply, Equatable {
    let flags: [Bool]
    init?(reply: RedisReply) {
        guard let values = reply.array?.compactMap(\.int), values.count == reply.array?.count,
            values.allSatisfy({ $0 == 0 || $0 == 1 })
        else { return nil }
        flags = values.map { $0 == 1 }
    }
}

extension ProcessedEventTransaction.Result: RedisScriptReply {
    /// `commit-event.lua`: 1 applied, 0 already applied, -1 superseded.
    init?(reply: RedisReply) {
        switch reply.int {
        case 1: self = .applied
        case 0: self = .alreadyApplied
        case -1: self = .superseded
        default: return nil
        }
    }
}

/// `replay-dead-letter.lua`.
enum ReplayReply: RedisScriptReply, Equatable {
    /// Published again as `newID`; `originalID` is the entry it was dead-lettered from.
    case replayed(newID: StreamEntryID, originalID: StreamEntryID?)
    /// Left where it was (not found, malformed, reason `deleted`, target not a stream).
    case skipped(String)
    /// Left where it was: older than the processed-marker TTL.
    case refused(String)

    init?(reply: RedisReply) {
        let parts = reply.array ?? []
        switch (parts.first?.string, parts.count) {
        case ("replayed", 3):
            guard let newID = parts[1].string.flatMap({ StreamEntryID($0) }) else {
                return nil
            }
            self = .replayed(newID: newID, originalID: parts[2].string.flatMap { StreamEntryID($0) })
        case ("skipped", 2): self = .skipped(parts[1].string ?? "")
        case ("refused", 2): self = .refused(parts[1].string ?? "")
        default: return nil
        }
    }
}

/// `trim-safely.lua`.
enum SafeTrimReply: RedisScriptReply, Equatable {
    case trimmed(SafeTrimResult)
    case missing
    case wrongType(String)

    init?(reply: RedisReply) {
        let parts = reply.array ?? []
        switch (parts.first?.string, parts.count) {
        case ("ok", 4):
            guard let removed = parts[1].int else { return nil }
            self = .trimmed(
                SafeTrimResult(
                    removed: removed, minimumID: parts[2].string.flatMap { StreamEntryID($0) },
                    limitingGroup: parts[3].string))
        case ("missing", 1): self = .missing
        case ("wrongtype", 2): self = .wrongType(parts[1].string ?? "?")
        default: return nil
        }
    }
}

/// `partition-ownership.lua`: one heartbeat's outcome.
struct PartitionOwnershipReply: RedisScriptReply, Equatable {
    /// The partitions this consumer owns after the heartbeat (leases renewed or taken).
    let owned: [Int]
    /// Of `owned`, those taken in this heartbeat (their pending entries are to be taken over).
    let acquired: [Int]
    /// Of `owned`, those now assigned to another member: to stop reading and give up.
    let toRelease: [Int]
    /// Live members of the group, this consumer included unless it left.
    let members: Int

    init(owned: [Int], acquired: [Int], toRelease: [Int], members: Int) {
        self.owned = owned
        self.acquired = acquired
        self.toRelease = toRelease
        self.members = members
    }

    init?(reply: RedisReply) {
        guard let parts = reply.array, parts.count == 4, let members = parts[3].int else { return nil }
        func partitions(_ reply: RedisReply) -> [Int]? {
            guard let values = reply.array?.compactMap(\.int), values.count == reply.array?.count else { return nil }
            return values
        }
        guard let owned = partitions(parts[0]), let acquired = partitions(parts[1]), let toRelease = partitions(parts[2])
        else { return nil }
        self.init(owned: owned, acquired: acquired, toRelease: toRelease, members: members)
    }
}
