import CHiredis

/// The id of a stream entry (`<milliseconds>-<sequence>`), ordered as Redis orders them.
public struct StreamEntryID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses `1732500000000-7` (or `1732500000000`, sequence 0).
    public init?(_ text: some StringProtocol) {
        var bytes = Array(text.utf8)
        guard let id = bytes.withUnsafeMutableBytes({ StreamEntryID(bytes: UnsafeRawBufferPointer($0)) }) else {
            return nil
        }
        self = id
    }

    init?(bytes: UnsafeRawBufferPointer) {
        var milliseconds: UInt64 = 0
        var sequence: UInt64 = 0
        var seenDash = false
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: "-") {
                guard !seenDash, digits > 0 else { return nil }
                seenDash = true
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = UInt64(byte - UInt8(ascii: "0"))
            let (scaled, overflow1) = (seenDash ? sequence : milliseconds).multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = scaled.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            if seenDash { sequence = sum } else { milliseconds = sum }
            digits += 1
        }
        guard digits > 0 else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    /// Appends the id's text (as Redis writes it) to `buffer`.
    public func append(to buffer: inout [UInt8]) {
        DecimalFormatting.append(milliseconds, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        DecimalFormatting.append(sequence, to: &buffer)
    }

    public static func < (lhs: StreamEntryID, rhs: StreamEntryID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}

extension RedisCommand {
    public mutating func append(_ id: StreamEntryID) {
        var text: [UInt8] = []
        text.reserveCapacity(24)
        id.append(to: &text)
        append(text)
    }
}

/// One stream entry as read by `XRANGE`, `XREADGROUP` or `XCLAIM`: its id and its fields in
/// the order they were added. Field names and values are binary-safe bytes.
///
/// An entry whose body was trimmed or deleted while it was pending has `isDeleted == true`
/// and no fields (Redis returns such ids with nil fields).
public struct StreamEntry: Sendable {
    public let id: StreamEntryID
    /// Every field name and value, back to back.
    private let storage: [UInt8]
    /// For field `i`: name at `bounds[4i]..<bounds[4i+1]`, value at `bounds[4i+2]..<bounds[4i+3]`.
    private let bounds: [Int32]
    public let isDeleted: Bool

    /// An entry built from field pairs (for tests and in-memory use).
    public init(id: StreamEntryID, fields: [(String, String)]) {
        var storage: [UInt8] = []
        var bounds: [Int32] = []
        for (name, value) in fields {
            bounds.append(Int32(storage.count))
            storage.append(contentsOf: name.utf8)
            bounds.append(Int32(storage.count))
            bounds.append(Int32(storage.count))
            storage.append(contentsOf: value.utf8)
            bounds.append(Int32(storage.count))
        }
        self.id = id
        self.storage = storage
        self.bounds = bounds
        self.isDeleted = false
    }

    public var fieldCount: Int { bounds.count / 4 }

    /// The name of field `index` (in insertion order).
    public func name(at index: Int) -> ArraySlice<UInt8> {
        storage[Int(bounds[4 * index])..<Int(bounds[4 * index + 1])]
    }

    /// The value of field `index` (in insertion order).
    public func value(at index: Int) -> ArraySlice<UInt8> {
        storage[Int(bounds[4 * index + 2])..<Int(bounds[4 * index + 3])]
    }

    /// The value of the first field called `name`, if any.
    public func value(named fieldName: String) -> ArraySlice<UInt8>? {
        let wanted = Array(fieldName.utf8)
        for index in 0..<fieldCount where name(at: index).elementsEqual(wanted) {
            return value(at: index)
        }
        return nil
    }

    /// The value of the first field called `name` as text (invalid UTF-8 is repaired).
    public func string(named fieldName: String) -> String? {
        value(named: fieldName).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every field as text, in insertion order.
    public var fields: [(name: String, value: String)] {
        (0..<fieldCount).map {
            (String(decoding: name(at: $0), as: UTF8.self), String(decoding: value(at: $0), as: UTF8.self))
        }
    }
}

// MARK: - Decoding from hiredis replies

extension StreamEntry {
    /// Decodes `[id, [field, value, ...]]` or `[id, nil]`.
    init(reply: UnsafeMutablePointer<redisReply>) throws(RedisError) {
        let node = reply.pointee
        guard node.type == REDIS_REPLY_ARRAY, node.elements == 2,
            let idReply = node.element[0], idReply.pointee.type == REDIS_REPLY_STRING,
            let id = StreamEntryID(bytes: ReplyBytes.buffer(idReply))
        else {
            throw ReplyBytes.unexpected(reply, expected: "a stream entry [id, fields]")
        }
        let fieldsReply = node.element[1]!
        self.id = id
        if fieldsReply.pointee.type == REDIS_REPLY_NIL {
            storage = []
            bounds = []
            isDeleted = true
            return
        }
        guard fieldsReply.pointee.type == REDIS_REPLY_ARRAY, fieldsReply.pointee.elements % 2 == 0 else {
            throw ReplyBytes.unexpected(reply, expected: "a stream entry's field list")
        }
        let count = fieldsReply.pointee.elements
        let elements = fieldsReply.pointee.element!
        var total = 0
        for index in 0..<count {
            total += elements[index]!.pointee.len
        }
        var storage: [UInt8] = []
        storage.reserveCapacity(total)
        var bounds: [Int32] = []
        bounds.reserveCapacity(count * 2)
        for index in 0..<count {
            let element = elements[index]!
            bounds.append(Int32(storage.count))
            storage.append(contentsOf: ReplyBytes.buffer(element))
            bounds.append(Int32(storage.count))
        }
        self.storage = storage
        self.bounds = bounds
        self.isDeleted = false
    }

    /// Decodes an array of entries (the reply of `XRANGE`/`XREVRANGE`/`XCLAIM`).
    static func list(reply: UnsafeMutablePointer<redisReply>) throws(RedisError) -> [StreamEntry] {
        try ReplyBytes.checkError(reply)
        let node = reply.pointee
        if node.type == REDIS_REPLY_NIL { return [] }
        guard node.type == REDIS_REPLY_ARRAY else { throw ReplyBytes.unexpected(reply, expected: "an array of stream entries") }
        var entries: [StreamEntry] = []
        entries.reserveCapacity(node.elements)
        for index in 0..<node.elements {
            entries.append(try StreamEntry(reply: node.element[index]!))
        }
        return entries
    }
}

/// The entries `XREADGROUP`/`XREAD` returned for one stream.
public struct StreamReadResult: Sendable {
    public let stream: String
    public let entries: [StreamEntry]
}

/// The reply of `XREADGROUP`/`XREAD`: nil (timeout) or one result per stream.
struct StreamReadResponse: ReplyDecodable {
    let results: [StreamReadResult]

    init(reply: UnsafeMutablePointer<redisReply>) throws(RedisError) {
        try ReplyBytes.checkError(reply)
        let node = reply.pointee
        if node.type == REDIS_REPLY_NIL {
            results = []
            return
        }
        guard node.type == REDIS_REPLY_ARRAY else { throw ReplyBytes.unexpected(reply, expected: "an XREADGROUP reply") }
        var results: [StreamReadResult] = []
        for index in 0..<node.elements {
            let pair = node.element[index]!
            guard pair.pointee.type == REDIS_REPLY_ARRAY, pair.pointee.elements == 2 else {
                throw ReplyBytes.unexpected(reply, expected: "[stream, entries]")
            }
            let name = RedisConnection.string(pair.pointee.element[0]!)
            results.append(StreamReadResult(stream: name, entries: try StreamEntry.list(reply: pair.pointee.element[1]!)))
        }
        self.results = results
    }
}

struct StreamEntryList: ReplyDecodable {
    let entries: [StreamEntry]
    init(reply: UnsafeMutablePointer<redisReply>) throws(RedisError) {
        entries = try StreamEntry.list(reply: reply)
    }
}
