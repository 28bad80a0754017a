/// Where a command must run on a Redis Cluster: the hash slot of its first key, read from
/// its encoded arguments (the keys of a multi-key command must share that slot, or Redis
/// answers `CROSSSLOT`).
enum CommandRoute: Equatable {
    /// Runs on the master of this slot.
    case slot(Int)
    /// Names no key (`PING`, `INFO`, `MULTI`, `WAIT`, ...): runs where the commands around it
    /// in its pipeline run, or on any master.
    case anyNode
    /// Runs on every master (`SCRIPT LOAD`, so a script is known wherever it is called).
    case everyMaster
}

extension RedisCommand {
    /// The route of this command (see `CommandRoute`).
    var route: CommandRoute {
        var arguments = ArgumentReader(body: body)
        guard let name = arguments.next() else { return .anyNode }
        let upper = Self.uppercased(name)
        switch upper {
        case "EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO":
            _ = arguments.next()
            guard let count = arguments.next().flatMap(Self.integer), count > 0, let key = arguments.next() else {
                return .anyNode
            }
            return .slot(RedisHashSlot.slot(ofBytes: key))
        case "XREAD", "XREADGROUP":
            while let argument = arguments.next() {
                if Self.uppercased(argument) == "STREAMS" {
                    return arguments.next().map { .slot(RedisHashSlot.slot(ofBytes: $0)) } ?? .anyNode
                }
            }
            return .anyNode
        case "XGROUP", "XINFO", "OBJECT", "MEMORY":
            // XGROUP CREATE <key> ..., XINFO STREAM <key>, OBJECT ENCODING <key>, MEMORY USAGE <key>
            let sub = arguments.next().map(Self.uppercased) ?? ""
            if sub == "HELP" || (upper == "MEMORY" && sub != "USAGE") { return .anyNode }
            return arguments.next().map { .slot(RedisHashSlot.slot(ofBytes: $0)) } ?? .anyNode
        case "SCRIPT":
            return arguments.next().map(Self.uppercased) == "LOAD" ? .everyMaster : .anyNode
        default:
            if Self.keyless.contains(upper) { return .anyNode }
            return arguments.next().map { .slot(RedisHashSlot.slot(ofBytes: $0)) } ?? .anyNode
        }
    }

    /// The command's name in upper case (for errors and logs).
    var name: String {
        var arguments = ArgumentReader(body: body)
        return arguments.next().map(Self.uppercased) ?? ""
    }

    /// Commands without keys.
    static let keyless: Set<String> = [
        "PING", "ECHO", "INFO", "CLIENT", "CLUSTER", "CONFIG", "COMMAND", "TIME", "DBSIZE", "SCAN", "KEYS", "FLUSHALL",
        "FLUSHDB", "SELECT", "HELLO", "AUTH", "MULTI", "EXEC", "DISCARD", "WAIT", "READONLY", "READWRITE", "ASKING",
        "ACL", "SLOWLOG", "LATENCY", "MONITOR", "ROLE", "LASTSAVE", "SAVE", "BGSAVE", "BGREWRITEAOF", "DEBUG",
        "FUNCTION", "QUIT", "RESET", "RANDOMKEY", "SWAPDB", "WAITAOF", "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE",
    ]

    private static func uppercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) -> Int? {
        Int(String(decoding: bytes, as: UTF8.self))
    }
}

/// Reads the arguments of an encoded command body (`$<length>\r\n<bytes>\r\n` each).
struct ArgumentReader {
    let body: [UInt8]
    var position = 0

    init(body: [UInt8]) {
        self.body = body
    }

    mutating func next() -> ArraySlice<UInt8>? {
        guard position < body.count, body[position] == UInt8(ascii: "$") else { return nil }
        var length = 0
        var index = position + 1
        while index < body.count, body[index] != 13 {
            length = length * 10 + Int(body[index] &- 48)
            index += 1
        }
        let start = index + 2
        let end = start + length
        guard end <= body.count else { return nil }
        position = end + 2
        return body[start..<end]
    }
}
