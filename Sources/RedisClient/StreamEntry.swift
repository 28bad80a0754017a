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
/// The entry owns its bytes (one array for all fields, copied out of the reply once) and
/// hands them out only as safe views: `ArraySlice<UInt8>` (`name(at:)`, `value(at:)`) or
/// `Span<UInt8>` borrowed for the duration of `forEachField`. No unsafe pointer leaves it.
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

    /// Calls `body` with each field's position, name and value, in insertion order, without
    /// copying or retaining anything per field. The spans borrow the entry's storage: they
    /// cannot outlive the call (the compiler enforces it), and every access is bounds-checked.
    public func forEachField(
        _ body: (_ index: Int, _ name: Span<UInt8>, _ value: Span<UInt8>) throws -> Void
    ) rethrows {
        let bytes = storage.span
        let bounds = bounds.span
        for index in 0..<(bounds.count / 4) {
            let name = bytes.extracting(Int(bounds[4 * index])..<Int(bounds[4 * index + 1]))
            let value = bytes.extracting(Int(bounds[4 * index + 2])..<Int(bounds[4 * index + 3]))
            try body(index, name, value)
        }
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

// MARK: - Decoding from replies

extension StreamEntry {
    /// Decodes `[id, [field, value, ...]]` or `[id, nil]` at the cursor and moves past it.
    init(cursor: inout ReplyCursor) throws(RedisError) {
        let entry = cursor.node
        guard entry.type == REDIS_REPLY_ARRAY, entry.integer == 2 else {
            throw cursor.unexpected(expected: "a stream entry [id, fields]")
        }
        cursor.advance()
        guard cursor.type == REDIS_REPLY_STRING, let id = StreamEntryID(bytes: cursor.bytes) else {
            throw cursor.unexpected(expected: "a stream entry id")
        }
        cursor.advance()
        self.id = id
        let fields = cursor.node
        if fields.type == REDIS_REPLY_NIL {
            cursor.advance()
            storage = []
            bounds = []
            isDeleted = true
            return
        }
        guard fields.type == REDIS_REPLY_ARRAY, fields.integer % 2 == 0 else {
            throw cursor.unexpected(expected: "a stream entry's field list")
        }
        cursor.advance()
        let count = Int(fields.integer)
        // The reader stored the field strings back to back: copy them in one go.
        let nodes = cursor.arena.pointee.nodes!
        let first = cursor.position
        for index in first..<(first + count) where nodes[index].type != REDIS_REPLY_STRING {
            throw cursor.unexpected(expected: "field names and values as strings")
        }
        let start = count > 0 ? nodes[first].offset : 0
        let end = count > 0 ? nodes[first + count - 1].offset + nodes[first + count - 1].length : 0
        let base = cursor.arena.pointee.bytes.map { UnsafeRawPointer($0) }
        storage = Array(UnsafeRawBufferPointer(start: base.map { $0 + start }, count: end - start))
        bounds = [Int32](unsafeUninitializedCapacity: count * 2) { buffer, initialized in
            for index in 0..<count {
                let node = nodes[first + index]
                buffer[2 * index] = Int32(node.offset - start)
                buffer[2 * index + 1] = Int32(node.offset - start + node.length)
            }
            initialized = count * 2
        }
        isDeleted = false
        cursor.position = first + count
    }

    /// Decodes an array of entries (the reply of `XRANGE`/`XREVRANGE`/`XCLAIM`) and moves past it.
    static func list(cursor: inout ReplyCursor) throws(RedisError) -> [StreamEntry] {
        try cursor.checkError()
        let node = cursor.node
        if node.type == REDIS_REPLY_NIL {
            cursor.advance()
            return []
        }
        guard node.type == REDIS_REPLY_ARRAY else { throw cursor.unexpected(expected: "an array of stream entries") }
        cursor.advance()
        var entries: [StreamEntry] = []
        entries.reserveCapacity(Int(node.integer))
        for _ in 0..<Int(node.integer) {
            entries.append(try StreamEntry(cursor: &cursor))
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
struct StreamReadResponse {
    let results: [StreamReadResult]

    init(cursor: inout ReplyCursor) throws(RedisError) {
        try cursor.checkError()
        let node = cursor.node
        if node.type == REDIS_REPLY_NIL {
            cursor.advance()
            results = []
            return
        }
        guard node.type == REDIS_REPLY_ARRAY else { throw cursor.unexpected(expected: "an XREADGROUP reply") }
        cursor.advance()
        var results: [StreamReadResult] = []
        for _ in 0..<Int(node.integer) {
            let pair = cursor.node
            guard pair.type == REDIS_REPLY_ARRAY, pair.integer == 2 else {
                throw cursor.unexpected(expected: "[stream, entries]")
            }
            cursor.advance()
            let name = cursor.text
            cursor.advance()
            results.append(StreamReadResult(stream: name, entries: try StreamEntry.list(cursor: &cursor)))
        }
        self.results = results
    }
}
