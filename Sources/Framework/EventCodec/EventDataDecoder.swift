import Foundation

/// Decodes `Decodable` values from JSON (RFC 8259); safe on any input bytes.
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
/// - Memory safety does not depend on the caller or on the `Decodable` types: the codec
///   is written in safe Swift (bounds-checked reads, strong references, checked
///   exclusivity). A `Decoder` or container that a type keeps after `init(from:)`
///   returned keeps the scanned document and the input bytes alive: it returns the same
///   values or throws, it never reads freed memory.
public struct EventDataDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: bytes[...])
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T {
        let document = JSONDocument(input: bytes, tokens: try JSONScanner.scan(bytes))
        return try JSONReader.decodeValue(T.self, in: document, at: 0, parent: nil, key: nil) { [] }
    }
}

// MARK: - Reader state

/// A `Decoder` positioned at one value of the document (created per nested value).
///
/// It is also a node of the coding path: `parent` and `key` lead back to the root, so a
/// path is only built when asked for (errors, `codingPath`).
final class JSONReader: Decoder {
    let doc: JSONDocument
    /// The token this decoder's containers read.
    let index: Int
    let parent: JSONReader?
    let key: (any CodingKey)?
    /// Keyed lookups in the object at `index` start at this key token, so members
    /// decoded in document order are each found with one comparison. Only a hint: any
    /// value is correct, it is read and written outside of any other access.
    var hint: Int

    init(doc: JSONDocument, index: Int, parent: JSONReader?, key: (any CodingKey)?) {
        self.doc = doc
        self.index = index
        self.parent = parent
        self.key = key
        self.hint = index + 1
    }

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node: JSONReader? = self
        while let current = node {
            if let key = current.key { keys.append(key) }
            node = current.parent
        }
        return keys.reversed()
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// A reader for the value at `index` below this one, under `key`.
    func child(_ index: Int, key: any CodingKey) -> JSONReader {
        JSONReader(doc: doc, index: index, parent: self, key: key)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard doc.tokens[index].kind == .object else {
            throw doc.mismatch(KeyedDecodingContainer<Key>.self, [String: Any].self, at: index) { self.codingPath }
        }
        return KeyedDecodingContainer(JSONKeyedReader<Key>(reader: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard doc.tokens[index].kind == .array else {
            throw doc.mismatch((any UnkeyedDecodingContainer).self, [Any].self, at: index) { self.codingPath }
        }
        return JSONUnkeyedReader(reader: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        JSONSingleValueReader(reader: self)
    }

    // MARK: Values

    /// Decodes the value at `index` of `doc`. Types with a fixed JSON form are read
    /// directly; any other type runs `T(from:)` on a new reader under `parent` and `key`.
    /// `path` is that value's full path, for errors.
    static func decodeValue<T: Decodable>(
        _ type: T.Type, in doc: JSONDocument, at i: Int, parent: JSONReader?, key: (any CodingKey)?,
        path: JSONDocument.Path
    ) throws -> T {
        // Each cast below is from a value of exactly type T (checked just before), so it
        // cannot fail; no Optional<T> here: its metadata would be looked up on every call.
        if T.self == String.self { return try doc.string(at: i, path: path) as! T }
        if T.self == Int.self { return try doc.integer(Int.self, at: i, path: path) as! T }
        if T.self == Date.self { return try doc.date(at: i, path: path) as! T }
        if T.self == Double.self { return try doc.double(at: i, path: path) as! T }
        if T.self == Bool.self { return try doc.bool(at: i, path: path) as! T }
        if T.self == UUID.self { return try doc.uuid(at: i, path: path) as! T }
        if T.self == Int64.self { return try doc.integer(Int64.self, at: i, path: path) as! T }
        if T.self == UInt64.self { return try doc.integer(UInt64.self, at: i, path: path) as! T }
        if T.self == Int32.self { return try doc.integer(Int32.self, at: i, path: path) as! T }
        if T.self == UInt32.self { return try doc.integer(UInt32.self, at: i, path: path) as! T }
        if T.self == Int16.self { return try doc.integer(Int16.self, at: i, path: path) as! T }
        if T.self == UInt16.self { return try doc.integer(UInt16.self, at: i, path: path) as! T }
        if T.self == Int8.self { return try doc.integer(Int8.self, at: i, path: path) as! T }
        if T.self == UInt8.self { return try doc.integer(UInt8.self, at: i, path: path) as! T }
        if T.self == UInt.self { return try doc.integer(UInt.self, at: i, path: path) as! T }
        if T.self == Float.self { return try doc.float(at: i, path: path) as! T }
        if T.self == URL.self { return try doc.url(at: i, path: path) as! T }
        if T.self == Data.self { return try doc.data(at: i, path: path) as! T }
        return try T(from: JSONReader(doc: doc, index: i, parent: parent, key: key))
    }
}

/// The scanned document: the input bytes and their tokens, with typed accessors for
/// single values. Immutable once made, so any number of readers can share it.
final class JSONDocument {
    typealias Path = () -> [any CodingKey]

    let input: ArraySlice<UInt8>
    let tokens: [JSONToken]
    /// A `null` token standing for an absent value (used by `superDecoder(forKey:)`).
    let absent: Int

    init(input: ArraySlice<UInt8>, tokens: [JSONToken]) {
        self.input = input
        self.tokens = tokens
        self.absent = tokens.count - 1
    }

    /// Index of the token after the value at `index` (skipping a whole subtree).
    @inline(__always)
    func skip(_ index: Int) -> Int {
        tokens[index].isContainer ? tokens[index].length : index + 1
    }

    // MARK: Keys

    /// The value token of member `name` of the object at `object`, or nil; the search
    /// starts at key token `start` and wraps around. Returns the value and the next key.
    func lookup(_ name: String, in object: Int, from start: Int) -> (value: Int, next: Int)? {
        let first = object + 1
        let end = tokens[object].length
        guard tokens[object].count > 0 else { return nil }
        let start = start > first && start < end ? start : first
        let utf8 = name.utf8
        var key = start
        while key < end {
            let next = skip(key + 1)
            if keyEquals(key, utf8) { return (key + 1, next < end ? next : first) }
            key = next
        }
        key = first
        while key < start {
            let next = skip(key + 1)
            if keyEquals(key, utf8) { return (key + 1, next < end ? next : first) }
            key = next
        }
        return nil
    }

    @inline(__always)
    func keyEquals(_ index: Int, _ name: String.UTF8View) -> Bool {
        let token = tokens[index]
        if token.flags & JSONToken.escaped == 0 {
            guard token.length == name.count else { return false }
            // Byte by byte over the name's own storage (a native string's): the generic
            // `elementsEqual` of a slice and a `UTF8View` was 1-3 % of a consumer's CPU.
            let start = token.offset
            return name.withContiguousStorageIfAvailable { bytes in
                for index in 0..<bytes.count where input[start + index] != bytes[index] { return false }
                return true
            } ?? input[start..<(start + token.length)].elementsEqual(name)
        }
        return JSONText.unescape(input, start: token.offset, count: token.length).elementsEqual(name)
    }

    func keyString(_ index: Int) -> String {
        let token = tokens[index]
        return JSONText.string(input, start: token.offset, count: token.length,
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
        return JSONText.string(input, start: token.offset, count: token.length,
                               escaped: token.flags & JSONToken.escaped != 0)
    }

    /// Calls `body` with the unescaped bytes of the string at `i`.
    func withStringBytes<R>(at i: Int, as type: Any.Type, path: Path,
                            _ body: (ArraySlice<UInt8>) throws -> R) throws -> R {
        let token = tokens[i]
        guard token.kind == .string else { throw mismatch(type, at: i, path: path) }
        return try JSONText.withUnescaped(input, start: token.offset, count: token.length,
                                          escaped: token.flags & JSONToken.escaped != 0, body)
    }

    private func numberText(_ token: JSONToken) -> String {
        String(decoding: input[token.offset..<(token.offset + token.length)], as: UTF8.self)
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type, at i: Int, path: Path) throws -> I {
        let token = tokens[i]
        guard token.kind == .number else { throw mismatch(I.self, at: i, path: path) }
        guard let value = JSONText.integer(input, start: token.offset, count: token.length,
                                           flags: token.flags, as: I.self)
        else {
            throw corrupted("Parsed JSON number <\(numberText(token))> does not fit in \(I.self).", path: path)
        }
        return value
    }

    func double(at i: Int, path: Path) throws -> Double {
        try floatingPoint(Double.self, at: i, path: path, JSONText.double(_:start:count:))
    }

    func float(at i: Int, path: Path) throws -> Float {
        try floatingPoint(Float.self, at: i, path: path, JSONText.float(_:start:count:))
    }

    /// The number at `i` converted by `convert`; one that overflows `F` throws.
    private func floatingPoint<F: BinaryFloatingPoint>(
        _ type: F.Type, at i: Int, path: Path, _ convert: (ArraySlice<UInt8>, Int, Int) -> F
    ) throws -> F {
        let token = tokens[i]
        guard token.kind == .number else { throw mismatch(F.self, at: i, path: path) }
        let value = convert(input, token.offset, token.length)
        guard value.isFinite else {
            throw corrupted("Parsed JSON number <\(numberText(token))> does not fit in \(F.self).", path: path)
        }
        return value
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
    static func parse(_ s: ArraySlice<UInt8>) -> UUID? {
        guard s.count == 36 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var i = s.startIndex
        for _ in 0..<16 {
            let offset = i - s.startIndex
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard s[i] == UInt8(ascii: "-") else { return nil }
                i += 1
            }
            guard let hi = JSONText.hexDigit(s[i]), let lo = JSONText.hexDigit(s[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        let b = bytes
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                           b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

// MARK: - Containers

struct JSONKeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    /// The decoder of the object this container reads (its `index`).
    let reader: JSONReader

    var doc: JSONDocument { reader.doc }
    var object: Int { reader.index }
    var codingPath: [any CodingKey] { reader.codingPath }

    var allKeys: [Key] {
        var keys: [Key] = []
        var index = object + 1
        let end = doc.tokens[object].length
        while index < end {
            if let key = Key(stringValue: doc.keyString(index)) { keys.append(key) }
            index = doc.skip(index + 1)
        }
        return keys
    }

    private func find(_ key: Key) -> Int? { find(key.stringValue) }

    /// The value token of member `name`, or nil; moves the reader's lookup hint past it.
    private func find(_ name: String) -> Int? {
        let start = reader.hint
        guard let (value, next) = doc.lookup(name, in: object, from: start) else { return nil }
        reader.hint = next
        return value
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    private func value(_ key: Key) throws -> Int {
        guard let index = find(key) else {
            throw DecodingError.keyNotFound(key, .init(
                codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return index
    }

    /// The value token for `key` unless it is absent or null.
    private func present(_ key: Key) -> Int? {
        guard let index = find(key), !doc.isNull(index) else { return nil }
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
        try JSONReader.decodeValue(type, in: doc, at: value(key), parent: reader, key: key) { path(key) }
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
        return try JSONReader.decodeValue(type, in: doc, at: i, parent: reader, key: key) { path(key) }
    }

    private func integerIfPresent<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I? {
        guard let i = present(key) else { return nil }
        return try doc.integer(type, at: i) { path(key) }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try reader.child(value(key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try reader.child(value(key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        reader.child(find(JSONIndexKey.super.stringValue) ?? doc.absent, key: JSONIndexKey.super)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        reader.child(find(key) ?? doc.absent, key: key)
    }
}

struct JSONUnkeyedReader: UnkeyedDecodingContainer {
    /// The decoder of the array this container reads (its `index`).
    let reader: JSONReader
    let count: Int?
    private(set) var currentIndex = 0
    /// Token of the element at `currentIndex`.
    private var cursor: Int

    init(reader: JSONReader) {
        self.reader = reader
        self.count = Int(reader.doc.tokens[reader.index].count)
        self.cursor = reader.index + 1
    }

    var doc: JSONDocument { reader.doc }
    var codingPath: [any CodingKey] { reader.codingPath }
    var isAtEnd: Bool { currentIndex >= count ?? 0 }

    /// Decodes the next element with `read(document, token, path)`, moving past it only on success.
    @inline(__always)
    private mutating func next<T>(_ type: T.Type, _ read: (JSONDocument, Int, JSONDocument.Path) throws -> T) throws -> T {
        let reader = self.reader, index = currentIndex
        func path() -> [any CodingKey] { reader.codingPath + [JSONIndexKey(intValue: index)] }
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
        let reader = self.reader
        return try next(type) {
            try JSONReader.decodeValue(type, in: $0, at: $1, parent: reader, key: key, path: $2)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let key = JSONIndexKey(intValue: currentIndex)
        return try next(KeyedDecodingContainer<NestedKey>.self) { [reader] _, index, _ in
            try reader.child(index, key: key).container(keyedBy: type)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let key = JSONIndexKey(intValue: currentIndex)
        return try next((any UnkeyedDecodingContainer).self) { [reader] _, index, _ in
            try reader.child(index, key: key).unkeyedContainer()
        }
    }

    mutating func superDecoder() throws -> any Decoder {
        let key = JSONIndexKey(intValue: currentIndex)
        return try next((any Decoder).self) { [reader] _, index, _ in reader.child(index, key: key) }
    }
}

struct JSONSingleValueReader: SingleValueDecodingContainer {
    /// The decoder of the value this container reads (its `index`).
    let reader: JSONReader

    var doc: JSONDocument { reader.doc }
    var index: Int { reader.index }
    var codingPath: [any CodingKey] { reader.codingPath }

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
        // The value is this same one: decode it with this reader's parent and key, so the
        // coding path does not grow.
        try JSONReader.decodeValue(type, in: doc, at: index, parent: reader.parent, key: reader.key, path: path)
    }
}
