import Foundation

/// Decodes `Decodable` values from JSON (RFC 8259).
///
/// Guarantees:
/// - The input is validated strictly and completely before decoding: UTF-8, string
///   escapes (surrogate pairs only in pairs), number grammar (no leading zeros), no
///   trailing commas or garbage, nesting at most 512 levels. Violations throw
///   `DecodingError.dataCorrupted` naming the problem and its byte offset.
/// - Unknown keys are ignored. A missing key throws `keyNotFound`, a wrong JSON type
///   `typeMismatch`, `null` for a non-optional `valueNotFound`, all with the coding path;
///   `decodeIfPresent` returns nil for both an absent key and `null`.
/// - Integers are decoded exactly with range checks; `1.0`/`1e2` text is accepted for an
///   integer only when integral and in range. Floating-point types accept any JSON number
///   but one that overflows the type throws `dataCorrupted`.
/// - `Date` is read from RFC 3339 text (see ``RFC3339``), `UUID` from its string form,
///   `URL` via `URL(string:)`, `Data` from padded base64, mirroring ``EventDataEncoder``.
///
/// Decoding reads the caller's bytes in place; the `Decoder` and containers passed to
/// `init(from:)` refer to memory of the decode call and must not be kept beyond it.
public struct EventDataDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBufferPointer { try Self.decode(type, from: $0) }
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T {
        try bytes.withUnsafeBufferPointer { try Self.decode(type, from: $0) }
    }

    static func decode<T: Decodable>(_ type: T.Type, from input: UnsafeBufferPointer<UInt8>) throws -> T {
        try withUnsafeTemporaryAllocation(of: JSONToken.self, capacity: 64) { scratch in
            let scanner = try JSONScanner(input, scratch: scratch)
            defer { if scanner.ownsTokens { scanner.tokens.deallocate() } }
            let reader = JSONReader(JSONDocument(input: input.baseAddress!, tokens: scanner.tokens,
                                                 absent: scanner.count - 1))
            return try reader.decodeValue(T.self, at: 0, extra: 0, key: nil, path: { [] })
        }
    }
}

// MARK: - Reader state

/// The single `Decoder` of one decode call. It reads the scanned tokens; `current` is the
/// token that `container(keyedBy:)` and friends apply to, and `codingPath` grows while a
/// nested value decodes. Containers remember how much of that path was theirs.
final class JSONReader: Decoder {
    typealias Path = JSONDocument.Path

    let doc: JSONDocument
    @exclusivity(unchecked) var current = 0
    @exclusivity(unchecked) var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ doc: JSONDocument) {
        self.doc = doc
    }

    /// Key paths that nested containers add below a decoder's path; a container refers to
    /// entry `i - 1` by `extra == i`, and `extra == 0` means none.
    @exclusivity(unchecked) var extraPaths: [[any CodingKey]] = []

    /// `extra` followed by `key`, as a new `extra` index.
    func extend(_ extra: Int, _ key: any CodingKey) -> Int {
        extraPaths.append((extra == 0 ? [] : extraPaths[extra - 1]) + [key])
        return extraPaths.count
    }

    /// The coding path `codingPath.prefix(depth)` + the keys of `extra`.
    func path(_ depth: Int, _ extra: Int) -> [any CodingKey] {
        Array(codingPath.prefix(depth)) + (extra == 0 ? [] : extraPaths[extra - 1])
    }

    // MARK: Containers

    func keyedContainer<Key: CodingKey>(at index: Int, depth: Int, extra: Int) throws
        -> KeyedDecodingContainer<Key> {
        guard doc.tokens[index].kind == .object else {
            throw doc.mismatch(KeyedDecodingContainer<Key>.self, [String: Any].self, at: index) { self.path(depth, extra) }
        }
        return KeyedDecodingContainer(JSONKeyedReader<Key>(reader: self, doc: doc, object: index, depth: depth, extra: extra))
    }

    func unkeyedContainer(at index: Int, depth: Int, extra: Int) throws -> any UnkeyedDecodingContainer {
        guard doc.tokens[index].kind == .array else {
            throw doc.mismatch((any UnkeyedDecodingContainer).self, [Any].self, at: index) { self.path(depth, extra) }
        }
        return JSONUnkeyedReader(reader: self, array: index, depth: depth, extra: extra)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try keyedContainer(at: current, depth: codingPath.count, extra: 0)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try unkeyedContainer(at: current, depth: codingPath.count, extra: 0)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONSingleValueReader(reader: self, doc: doc, index: current, depth: codingPath.count, extra: 0)
    }

    // MARK: Values

    /// Decodes the value at `index`; a non-scalar is decoded with `extra` and `key`
    /// appended to the coding path. `path` is that value's full path, for errors.
    func decodeValue<T: Decodable>(_ type: T.Type, at i: Int, extra: Int,
                                   key: (any CodingKey)?, path: Path) throws -> T {
        // Types with a fixed JSON form are read directly (no Optional<T>: its metadata
        // would be looked up at run time on every call).
        if T.self == String.self { return unsafeBitCast(try doc.string(at: i, path: path), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try doc.integer(Int.self, at: i, path: path), to: T.self) }
        if T.self == Date.self { return unsafeBitCast(try doc.date(at: i, path: path), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try doc.double(at: i, path: path), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try doc.bool(at: i, path: path), to: T.self) }
        if T.self == UUID.self { return unsafeBitCast(try doc.uuid(at: i, path: path), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try doc.integer(Int64.self, at: i, path: path), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try doc.integer(UInt64.self, at: i, path: path), to: T.self) }
        if T.self == Int32.self { return unsafeBitCast(try doc.integer(Int32.self, at: i, path: path), to: T.self) }
        if T.self == UInt32.self { return unsafeBitCast(try doc.integer(UInt32.self, at: i, path: path), to: T.self) }
        if T.self == Int16.self { return unsafeBitCast(try doc.integer(Int16.self, at: i, path: path), to: T.self) }
        if T.self == UInt16.self { return unsafeBitCast(try doc.integer(UInt16.self, at: i, path: path), to: T.self) }
        if T.self == Int8.self { return unsafeBitCast(try doc.integer(Int8.self, at: i, path: path), to: T.self) }
        if T.self == UInt8.self { return unsafeBitCast(try doc.integer(UInt8.self, at: i, path: path), to: T.self) }
        if T.self == UInt.self { return unsafeBitCast(try doc.integer(UInt.self, at: i, path: path), to: T.self) }
        if T.self == Float.self { return unsafeBitCast(try doc.float(at: i, path: path), to: T.self) }
        if T.self == URL.self { return unsafeBitCast(try doc.url(at: i, path: path), to: T.self) }
        if T.self == Data.self { return unsafeBitCast(try doc.data(at: i, path: path), to: T.self) }
        return try decodeNested(T.self, at: i, extra: extra, key: key)
    }

    /// Runs `T(from:)` on this decoder positioned at `index`, with `extra` and `key`
    /// appended to the coding path meanwhile.
    func decodeNested<T: Decodable>(_ type: T.Type, at index: Int, extra: Int,
                                    key: (any CodingKey)?) throws -> T {
        let savedCount = codingPath.count
        let savedCurrent = current
        if extra != 0 { codingPath.append(contentsOf: extraPaths[extra - 1]) }
        if let key { codingPath.append(key) }
        current = index
        defer {
            codingPath.removeLast(codingPath.count - savedCount)
            current = savedCurrent
        }
        return try T(from: self)
    }
}

/// The scanned document: input bytes and tokens, with typed accessors for single values.
/// A plain pair of pointers, so containers can hold it without reference counting.
struct JSONDocument {
    typealias Path = () -> [any CodingKey]

    let input: UnsafePointer<UInt8>
    let tokens: UnsafeMutablePointer<JSONToken>
    /// A `null` token standing for an absent value (used by `superDecoder(forKey:)`).
    let absent: Int

    /// Index of the token after the value at `index` (skipping a whole subtree).
    @inline(__always)
    func skip(_ index: Int) -> Int {
        tokens[index].isContainer ? Int(tokens[index].length) : index + 1
    }

    // MARK: Keys

    /// The value token of member `key` of the object at `object`, or nil.
    /// Lookups start after the previously found member, so in-order decoding is O(1).
    func lookup<Key: CodingKey>(_ key: Key, in object: Int) -> Int? {
        if tokens[object].count == 0 { return nil }
        let name = key.stringValue
        if let found = name.utf8.withContiguousStorageIfAvailable({ lookup($0, in: object) }) {
            return found
        }
        var copy = name
        return copy.withUTF8 { lookup($0, in: object) }
    }

    func lookup(_ name: UnsafeBufferPointer<UInt8>, in object: Int) -> Int? {
        let first = object + 1
        let end = Int(tokens[object].length)
        let start = Int(tokens[object].hint)
        var key = start
        while key < end {
            let next = skip(key + 1)
            if keyEquals(key, name) {
                tokens[object].hint = UInt32(next < end ? next : first)
                return key + 1
            }
            key = next
        }
        key = first
        while key < start {
            let next = skip(key + 1)
            if keyEquals(key, name) {
                tokens[object].hint = UInt32(next < end ? next : first)
                return key + 1
            }
            key = next
        }
        return nil
    }

    @inline(__always)
    func keyEquals(_ index: Int, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let token = tokens[index]
        if token.flags & JSONToken.escaped == 0 {
            return Int(token.length) == name.count
                && (name.count == 0 || memcmp(input + Int(token.offset), name.baseAddress!, name.count) == 0)
        }
        return JSONText.withUnescaped(input + Int(token.offset), count: Int(token.length), escaped: true) {
            $0.elementsEqual(name)
        }
    }

    func keyString(_ index: Int) -> String {
        let token = tokens[index]
        return JSONText.string(input + Int(token.offset), count: Int(token.length),
                               escaped: token.flags & JSONToken.escaped != 0)
    }

    // MARK: Errors

    func describe(_ kind: JSONToken.Kind) -> String {
        switch kind {
        case .null: return "null"
        case .false, .true: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// `valueNotFound` for null, otherwise `typeMismatch` (reported as `type`, or `reported`).
    func mismatch(_ type: Any.Type, _ reported: Any.Type? = nil, at index: Int, path: Path) -> DecodingError {
        let kind = tokens[index].kind
        if kind == .null {
            return .valueNotFound(type, .init(codingPath: path(),
                                              debugDescription: "Expected \(reported ?? type) value but found null instead."))
        }
        return .typeMismatch(reported ?? type, .init(codingPath: path(),
                                                     debugDescription: "Expected to decode \(reported ?? type) but found \(describe(kind)) instead."))
    }

    func corrupted(_ message: String, path: Path) -> DecodingError {
        .dataCorrupted(.init(codingPath: path(), debugDescription: message))
    }

    // MARK: Scalars

    func isNull(_ index: Int) -> Bool { tokens[index].kind == .null }

    func bool(at i: Int, path: Path) throws -> Bool {
        switch tokens[i].kind {
        case .true: return true
        case .false: return false
        default: throw mismatch(Bool.self, at: i, path: path)
        }
    }

    func string(at i: Int, path: Path) throws -> String {
        let token = tokens[i]
        guard token.kind == .string else { throw mismatch(String.self, at: i, path: path) }
        return JSONText.string(input + Int(token.offset), count: Int(token.length),
                               escaped: token.flags & JSONToken.escaped != 0)
    }

    /// Calls `body` with the unescaped bytes of the string at `i`.
    func withStringBytes<R>(at i: Int, as type: Any.Type, path: Path,
                            _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        let token = tokens[i]
        guard token.kind == .string else { throw mismatch(type, at: i, path: path) }
        return try JSONText.withUnescaped(input + Int(token.offset), count: Int(token.length),
                                          escaped: token.flags & JSONToken.escaped != 0, body)
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type, at i: Int, path: Path) throws -> I {
        let token = tokens[i]
        guard token.kind == .number else { throw mismatch(I.self, at: i, path: path) }
        let text = input + Int(token.offset)
        guard let value = JSONText.integer(text, count: Int(token.length), flags: token.flags, as: I.self) else {
            let number = String(decoding: UnsafeBufferPointer(start: text, count: Int(token.length)), as: UTF8.self)
            throw corrupted("Parsed JSON number <\(number)> does not fit in \(I.self).", path: path)
        }
        return value
    }

    func double(at i: Int, path: Path) throws -> Double {
        let token = tokens[i]
        guard token.kind == .number else { throw mismatch(Double.self, at: i, path: path) }
        let value = JSONText.double(input + Int(token.offset), count: Int(token.length))
        guard value.isFinite else { throw numberOverflow(Double.self, token, path: path) }
        return value
    }

    func float(at i: Int, path: Path) throws -> Float {
        let token = tokens[i]
        guard token.kind == .number else { throw mismatch(Float.self, at: i, path: path) }
        let value = JSONText.float(input + Int(token.offset), count: Int(token.length))
        guard value.isFinite else { throw numberOverflow(Float.self, token, path: path) }
        return value
    }

    private func numberOverflow(_ type: Any.Type, _ token: JSONToken, path: Path) -> DecodingError {
        let text = UnsafeBufferPointer(start: input + Int(token.offset), count: Int(token.length))
        return corrupted("Parsed JSON number <\(String(decoding: text, as: UTF8.self))> does not fit in \(type).",
                         path: path)
    }

    func date(at i: Int, path: Path) throws -> Date {
        let micros = try withStringBytes(at: i, as: Date.self, path: path) { RFC3339.parse($0) }
        guard let micros else { throw corrupted("Expected date string to be RFC 3339-formatted.", path: path) }
        return RFC3339.date(microseconds: micros)
    }

    func uuid(at i: Int, path: Path) throws -> UUID {
        let uuid = try withStringBytes(at: i, as: UUID.self, path: path) { JSONUUIDText.parse($0) }
        guard let uuid else { throw corrupted("Attempted to decode UUID from invalid UUID string.", path: path) }
        return uuid
    }

    func url(at i: Int, path: Path) throws -> URL {
        guard let url = URL(string: try string(at: i, path: path)) else {
            throw corrupted("Invalid URL string.", path: path)
        }
        return url
    }

    func data(at i: Int, path: Path) throws -> Data {
        let data = try withStringBytes(at: i, as: Data.self, path: path) { JSONBase64.decode($0) }
        guard let data else { throw corrupted("Encountered Data is not valid JSONBase64.", path: path) }
        return data
    }
}

enum JSONUUIDText {
    /// Parses the 36-character `8-4-4-4-12` hex form (either case).
    static func parse(_ s: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard s.count == 36 else { return nil }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var i = 0
            for b in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard s[i] == UInt8(ascii: "-") else { return false }
                    i += 1
                }
                guard let hi = hexDigit(s[i]), let lo = hexDigit(s[i + 1]) else { return false }
                out[b] = hi << 4 | lo
                i += 2
            }
            return true
        }
        return ok ? UUID(uuid: bytes) : nil
    }

    @inline(__always)
    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

// MARK: - Containers

/// A `Decoder` for `superDecoder()`: like the main decoder, but pinned to one token.
final class JSONSlotDecoder: Decoder {
    let reader: JSONReader
    let index: Int
    let depth: Int
    let extra: Int
    init(reader: JSONReader, index: Int, depth: Int, extra: Int) {
        self.reader = reader; self.index = index; self.depth = depth; self.extra = extra
    }
    var codingPath: [any CodingKey] { reader.path(depth, extra) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try reader.keyedContainer(at: index, depth: depth, extra: extra)
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try reader.unkeyedContainer(at: index, depth: depth, extra: extra)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONSingleValueReader(reader: reader, doc: reader.doc, index: index, depth: depth, extra: extra)
    }
}

struct JSONKeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    /// Containers live only during the decode call that owns the reader (and the memory
    /// `doc` points to), so they hold it without reference counting.
    unowned(unsafe) let reader: JSONReader
    let doc: JSONDocument
    let object: Int
    /// This container's coding path is `reader.path(depth, extra)`.
    let depth: Int
    let extra: Int

    var codingPath: [any CodingKey] { reader.path(depth, extra) }

    var allKeys: [Key] {
        var keys: [Key] = []
        var index = object + 1
        let end = Int(doc.tokens[object].length)
        while index < end {
            if let key = Key(stringValue: doc.keyString(index)) { keys.append(key) }
            index = doc.skip(index + 1)
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { doc.lookup(key, in: object) != nil }

    private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    private func value(_ key: Key) throws -> Int {
        guard let index = doc.lookup(key, in: object) else {
            throw DecodingError.keyNotFound(key, .init(
                codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return index
    }

    /// The value token for `key` unless it is absent or null.
    private func present(_ key: Key) -> Int? {
        guard let index = doc.lookup(key, in: object), !doc.isNull(index) else { return nil }
        return index
    }

    func decodeNil(forKey key: Key) throws -> Bool { doc.isNull(try value(key)) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try doc.bool(at: value(key)) { path(key) } }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try doc.string(at: value(key)) { path(key) } }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try doc.double(at: value(key)) { path(key) } }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try doc.float(at: value(key)) { path(key) } }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try doc.integer(type, at: value(key)) { path(key) } }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decodeValue(type, at: value(key), extra: extra, key: key) { path(key) }
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let i = present(key) else { return nil }; return try doc.bool(at: i) { path(key) }
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let i = present(key) else { return nil }; return try doc.string(at: i) { path(key) }
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let i = present(key) else { return nil }; return try doc.double(at: i) { path(key) }
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let i = present(key) else { return nil }; return try doc.float(at: i) { path(key) }
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try integerIfPresent(type, key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let i = present(key) else { return nil }
        return try reader.decodeValue(type, at: i, extra: extra, key: key) { path(key) }
    }

    private func integerIfPresent<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I? {
        guard let i = present(key) else { return nil }
        return try doc.integer(type, at: i) { path(key) }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try reader.keyedContainer(at: value(key), depth: depth, extra: reader.extend(extra, key))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try reader.unkeyedContainer(at: value(key), depth: depth, extra: reader.extend(extra, key))
    }

    func superDecoder() throws -> any Decoder { superDecoder(key: JSONIndexKey.super) }
    func superDecoder(forKey key: Key) throws -> any Decoder { superDecoder(key: key) }

    private func superDecoder(key: some CodingKey) -> any Decoder {
        let index = doc.lookup(key, in: object) ?? doc.absent
        return JSONSlotDecoder(reader: reader, index: index, depth: depth, extra: reader.extend(extra, key))
    }
}

struct JSONUnkeyedReader: UnkeyedDecodingContainer {
    unowned(unsafe) let reader: JSONReader
    let doc: JSONDocument
    let array: Int
    let depth: Int
    let extra: Int
    let count: Int?
    private(set) var currentIndex = 0
    /// Token of the element at `currentIndex`.
    private var cursor: Int

    init(reader: JSONReader, array: Int, depth: Int, extra: Int) {
        self.reader = reader
        self.doc = reader.doc
        self.array = array
        self.depth = depth
        self.extra = extra
        self.count = Int(doc.tokens[array].count)
        self.cursor = array + 1
    }

    var codingPath: [any CodingKey] { reader.path(depth, extra) }
    var isAtEnd: Bool { currentIndex >= count! }

    /// Decodes the next element with `read(reader, token, path)`, moving past it only on success.
    @inline(__always)
    private mutating func next<T>(_ type: T.Type, _ read: (JSONDocument, Int, JSONDocument.Path) throws -> T) throws -> T {
        let reader = self.reader, depth = self.depth, extra = self.extra, index = currentIndex
        func path() -> [any CodingKey] { reader.path(depth, extra) + [JSONIndexKey(intValue: index)] }
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path(), debugDescription: "Unkeyed container is at end."))
        }
        let value = try read(doc, cursor, path)
        cursor = doc.skip(cursor)
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any?.self, .init(
                codingPath: codingPath + [JSONIndexKey(intValue: currentIndex)],
                debugDescription: "Unkeyed container is at end."))
        }
        guard doc.isNull(cursor) else { return false }
        cursor += 1
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type) { try $0.bool(at: $1, path: $2) } }
    mutating func decode(_ type: String.Type) throws -> String { try next(type) { try $0.string(at: $1, path: $2) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type) { try $0.double(at: $1, path: $2) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type) { try $0.float(at: $1, path: $2) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type) { try $0.integer(type, at: $1, path: $2) } }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let key = JSONIndexKey(intValue: currentIndex)
        let extra = self.extra
        let reader = self.reader
        return try next(type) { try reader.decodeValue(type, at: $1, extra: extra, key: key, path: $2) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let nestedExtra = reader.extend(extra, JSONIndexKey(intValue: currentIndex))
        let depth = self.depth
        return try next(KeyedDecodingContainer<NestedKey>.self) { [reader] _, index, _ in
            try reader.keyedContainer(at: index, depth: depth, extra: nestedExtra)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let nestedExtra = reader.extend(extra, JSONIndexKey(intValue: currentIndex))
        let depth = self.depth
        return try next((any UnkeyedDecodingContainer).self) { [reader] _, index, _ in
            try reader.unkeyedContainer(at: index, depth: depth, extra: nestedExtra)
        }
    }

    mutating func superDecoder() throws -> any Decoder {
        let nestedExtra = reader.extend(extra, JSONIndexKey(intValue: currentIndex))
        let depth = self.depth
        return try next((any Decoder).self) { [reader] _, index, _ in
            JSONSlotDecoder(reader: reader, index: index, depth: depth, extra: nestedExtra)
        }
    }
}

struct JSONSingleValueReader: SingleValueDecodingContainer {
    unowned(unsafe) let reader: JSONReader
    let doc: JSONDocument
    let index: Int
    let depth: Int
    let extra: Int

    var codingPath: [any CodingKey] { reader.path(depth, extra) }

    private func path() -> [any CodingKey] { codingPath }

    func decodeNil() -> Bool { doc.isNull(index) }
    func decode(_ type: Bool.Type) throws -> Bool { try doc.bool(at: index, path: path) }
    func decode(_ type: String.Type) throws -> String { try doc.string(at: index, path: path) }
    func decode(_ type: Double.Type) throws -> Double { try doc.double(at: index, path: path) }
    func decode(_ type: Float.Type) throws -> Float { try doc.float(at: index, path: path) }
    func decode(_ type: Int.Type) throws -> Int { try doc.integer(type, at: index, path: path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: UInt.Type) throws -> UInt { try doc.integer(type, at: index, path: path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try doc.integer(type, at: index, path: path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try doc.integer(type, at: index, path: path) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decodeValue(type, at: index, extra: extra, key: nil, path: path)
    }
}
