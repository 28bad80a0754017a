import Foundation

/// Encodes `Encodable` values as compact JSON (RFC 8259).
///
/// Guarantees:
/// - Output is compact UTF-8 JSON with keys in the order the type encodes them; any JSON
///   value may be at the top level.
/// - Strings escape only `"`, `\` and control characters below U+0020; `/` and all other
///   characters are written as raw UTF-8.
/// - `Date` is an RFC 3339 UTC string with microseconds (see ``RFC3339``), `UUID` its
///   `uuidString`, `URL` its `absoluteString`, `Data` a padded base64 string; dictionaries
///   keyed by `String` or `Int` become objects (Int keys as strings), like Foundation.
/// - Non-finite floating-point values and dates outside years 0000-9999 throw
///   `EncodingError.invalidValue` with the coding path; on error `buffer` is left unchanged.
/// - Misuse by an `Encodable` throws `EncodingError.invalidValue` and never crashes: a
///   container used after its parent container moved on, a second value in one
///   single-value container, a keyed container where a value was already written, or an
///   encoder or container kept and used after `encode(to:)` (or the whole encode call)
///   returned. The codec is written in safe Swift (strong references, bounds-checked
///   arrays, checked exclusivity), so no `Encodable` can make it touch freed memory.
public struct EventDataEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let writer = JSONWriter()
        try writer.encodeTopLevel(value)
        return writer.finish()
    }

    /// Appends the JSON of `value` to `buffer`.
    public func encode<T: Encodable>(_ value: T, into buffer: inout [UInt8]) throws {
        let writer = JSONWriter(appendingTo: &buffer)
        let start = writer.out.count
        do {
            try writer.encodeTopLevel(value)
        } catch {
            buffer = writer.finish()
            buffer.removeSubrange(start...)
            throw error
        }
        buffer = writer.finish()
    }
}

// MARK: - Writer state

/// The single `Encoder` of one encode call: owns the output bytes and the stack of open
/// JSON containers that the container structs (handed out by value) refer to by depth
/// and id. A container whose frame is gone (closed, or the encode call finished) finds
/// out by comparing ids and throws.
final class JSONWriter: Encoder {
    enum Kind: UInt8 {
        /// A position where one value is expected; nothing written yet.
        case slot
        /// A slot whose value has been written completely.
        case filled
        case object
        case array
    }

    struct Frame {
        var kind: Kind
        var count: Int
        /// Distinguishes this frame from later ones at the same depth (never 0).
        let id: UInt32
        /// The key under which this frame sits in its parent (nil for the root).
        let key: (any CodingKey)?
    }

    /// The JSON written so far.
    var out: [UInt8]
    /// The open frames, outermost first.
    var frames: [Frame] = []
    /// The frame that `container(keyedBy:)` and friends of this encoder apply to.
    var current = 0
    var nextID: UInt32 = 0
    /// Set when the encode call returned: any later use of this encoder throws.
    var finished = false
    /// The first misuse seen by a method that cannot throw; the encode call throws it.
    var misuse: EncodingError?

    init() {
        out = []
        out.reserveCapacity(256)
    }

    /// A writer that appends to `buffer` (taken over until `finish()` hands it back).
    init(appendingTo buffer: inout [UInt8]) {
        out = []
        swap(&out, &buffer)
        out.reserveCapacity(out.count + 256)
    }

    /// Ends the encode call and returns the output; later uses of this encoder throw.
    func finish() -> [UInt8] {
        finished = true
        frames = []
        var result: [UInt8] = []
        swap(&result, &out)
        return result
    }

    var codingPath: [any CodingKey] { path(through: current) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        _ = push(.slot, key: nil)
        if try writeScalar(value, key: { nil }) { return }
        current = 0
        try value.encode(to: self)
        try throwMisuse()
        closeFrames(deeperThan: 0)
        guard frames.count == 1 else { throw stale(path: []) }
        if frames[0].kind == .slot {
            throw EncodingError.invalidValue(value, .init(
                codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        close(pop())
    }

    // MARK: Misuse

    func throwMisuse() throws {
        if let misuse { throw misuse }
    }

    func stale(path: [any CodingKey]) -> EncodingError {
        let message = finished
            ? "Encoder or container used after its encode call returned."
            : "Encoding container used after its parent container moved on."
        return EncodingError.invalidValue((), .init(codingPath: path, debugDescription: message))
    }

    /// Records a misuse found where the protocol does not let us throw.
    func record(_ error: EncodingError) {
        if misuse == nil && !finished { misuse = error }
    }

    // MARK: Frames

    func path(through depth: Int) -> [any CodingKey] {
        guard depth >= 0 else { return [] }
        return frames.prefix(depth + 1).compactMap(\.key)
    }

    func push(_ kind: Kind, key: (any CodingKey)?) -> (depth: Int, id: UInt32) {
        nextID &+= 1
        if nextID == 0 { nextID = 1 }
        frames.append(Frame(kind: kind, count: 0, id: nextID, key: key))
        return (frames.count - 1, nextID)
    }

    func pop() -> Frame { frames.removeLast() }

    func close(_ frame: Frame) {
        switch frame.kind {
        case .slot: out.append(contentsOf: "{}".utf8)
        case .filled: break
        case .object: out.append(UInt8(ascii: "}"))
        case .array: out.append(UInt8(ascii: "]"))
        }
    }

    func closeFrames(deeperThan depth: Int) {
        while frames.count > depth + 1 { close(pop()) }
    }

    func isOpen(_ depth: Int, _ id: UInt32) -> Bool {
        !finished && depth >= 0 && depth < frames.count && frames[depth].id == id
    }

    /// Makes the frame at `depth` the innermost open one, checking it is still `id`.
    @inline(__always)
    func activate(_ depth: Int, _ id: UInt32) throws {
        guard isOpen(depth, id) else { throw stale(path: path(through: min(depth, frames.count - 1))) }
        if frames.count != depth + 1 { closeFrames(deeperThan: depth) }
    }

    /// Starts the next element of the object or array at `depth` (writes the comma).
    @inline(__always)
    func beginElement(_ depth: Int, _ id: UInt32) throws {
        try activate(depth, id)
        if frames[depth].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[depth].count += 1
    }

    @inline(__always)
    func beginKey<K: CodingKey>(_ key: K, _ depth: Int, _ id: UInt32) throws {
        let name = key.stringValue
        try beginElement(depth, id)
        writeString(name)
        out.append(UInt8(ascii: ":"))
    }

    // MARK: Containers

    /// A container that throws on every use (handed out where the protocol cannot throw).
    static let deadDepth = -1

    /// Opens the frame at `depth` (this encoder's value) as `kind`, writing the bracket
    /// if nothing was written there yet. Returns false, with the misuse recorded for the
    /// encode call to throw, when the frame is gone or already holds another kind of value.
    func open(_ kind: Kind, at depth: Int, id: UInt32) -> Bool {
        guard isOpen(depth, id) else {
            record(stale(path: path(through: min(depth, frames.count - 1))))
            return false
        }
        closeFrames(deeperThan: depth)
        switch frames[depth].kind {
        case .slot:
            out.append(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
            frames[depth].kind = kind
        case kind:
            break
        default:
            let container = kind == .object ? "a keyed" : "an unkeyed"
            record(EncodingError.invalidValue((), .init(
                codingPath: path(through: depth),
                debugDescription: "Attempt to push \(container) container where a value was already encoded.")))
            return false
        }
        return true
    }

    func keyedContainer<Key: CodingKey>(at depth: Int, id: UInt32) -> KeyedEncodingContainer<Key> {
        let opened = open(.object, at: depth, id: id)
        return KeyedEncodingContainer(JSONKeyedWriter<Key>(
            writer: self, depth: opened ? depth : Self.deadDepth, id: opened ? id : 0))
    }

    func unkeyedContainer(at depth: Int, id: UInt32) -> any UnkeyedEncodingContainer {
        let opened = open(.array, at: depth, id: id)
        return JSONUnkeyedWriter(writer: self, depth: opened ? depth : Self.deadDepth, id: opened ? id : 0)
    }

    /// The id of the frame this encoder applies to, or 0 when there is none any more.
    private var currentID: UInt32 { current < frames.count ? frames[current].id : 0 }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        keyedContainer(at: current, id: currentID)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { unkeyedContainer(at: current, id: currentID) }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueWriter(writer: self, depth: current, id: currentID)
    }

    /// Opens a nested object or array as the element just begun, under `key`.
    func nested(_ kind: Kind, key: any CodingKey) -> (depth: Int, id: UInt32) {
        out.append(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return push(kind, key: key)
    }

    // MARK: Values

    /// Encodes `value` as the element just begun (after its key or comma).
    @inline(__always)
    func encodeElement<T: Encodable>(_ value: T, key: @autoclosure () -> any CodingKey) throws {
        if try writeScalar(value, key: key) { return }
        let (depth, id) = push(.slot, key: key())
        try encodeNonScalar(value, inSlot: depth)
        if frames.count > depth && frames[depth].id == id { close(pop()) }
    }

    /// Runs `value.encode(to:)` with the slot at `depth` as the current value position.
    func encodeNonScalar<T: Encodable>(_ value: T, inSlot depth: Int) throws {
        let saved = current
        current = depth
        defer { current = saved }
        try value.encode(to: self)
        try throwMisuse()
        closeFrames(deeperThan: depth)
    }

    /// Writes `value` directly if it is a type with a fixed JSON form; returns false otherwise.
    /// `key` (the element's key, nil for the root) is only evaluated to report an error.
    @inline(__always)
    func writeScalar<T: Encodable>(_ value: T, key: () -> (any CodingKey)?) throws -> Bool {
        // Each cast is to the exact type of `value` (checked just before), so it cannot fail.
        if T.self == String.self { writeString(value as! String) }
        else if T.self == Int.self { writeInteger(value as! Int) }
        else if T.self == Date.self { try writeDate(value as! Date, key: key) }
        else if T.self == Double.self { try writeFloat(value as! Double, key: key) }
        else if T.self == Bool.self { writeBool(value as! Bool) }
        else if T.self == UUID.self { writeUUID(value as! UUID) }
        else if T.self == Int64.self { writeInteger(value as! Int64) }
        else if T.self == UInt64.self { writeInteger(value as! UInt64) }
        else if T.self == Int32.self { writeInteger(value as! Int32) }
        else if T.self == UInt32.self { writeInteger(value as! UInt32) }
        else if T.self == Int16.self { writeInteger(value as! Int16) }
        else if T.self == UInt16.self { writeInteger(value as! UInt16) }
        else if T.self == Int8.self { writeInteger(value as! Int8) }
        else if T.self == UInt8.self { writeInteger(value as! UInt8) }
        else if T.self == UInt.self { writeInteger(value as! UInt) }
        else if T.self == Float.self { try writeFloat(value as! Float, key: key) }
        else if T.self == URL.self { writeString((value as! URL).absoluteString) }
        else if T.self == Data.self { writeBase64(value as! Data) }
        else { return false }
        return true
    }

    /// An error for the element being written to the innermost open frame under `key`.
    func invalidValue(_ value: Any, key: () -> (any CodingKey)?, _ message: String) -> EncodingError {
        var path = path(through: frames.count - 1)
        if let key = key() { path.append(key) }
        return EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: message))
    }

    // MARK: Scalars

    @inline(__always)
    func writeBool(_ value: Bool) {
        if value { out.append(contentsOf: "true".utf8) } else { out.append(contentsOf: "false".utf8) }
    }

    func writeNull() { out.append(contentsOf: "null".utf8) }

    @inline(__always)
    func writeInteger<I: FixedWidthInteger>(_ value: I) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        Self.appendDecimal(UInt64(value.magnitude), to: &out)
    }

    /// Appends the decimal digits of `value`.
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(0x30 &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var digits = 2
        var threshold: UInt64 = 100
        while digits < 20 && value >= threshold {
            digits += 1
            threshold &*= 10
        }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var value = value
        var i = start + digits
        while value > 0 {
            i -= 1
            out[i] = 0x30 &+ UInt8(truncatingIfNeeded: value % 10)
            value /= 10
        }
    }

    func writeFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F, key: () -> (any CodingKey)?
    ) throws {
        guard value.isFinite else {
            throw invalidValue(value, key: key, "Unable to encode \(F.self).\(value) directly in JSON.")
        }
        out.append(contentsOf: value.description.utf8)  // shortest round-trip form, e.g. 0.1, 1e-07, 1.0
    }

    func writeDate(_ date: Date, key: () -> (any CodingKey)?) throws {
        guard let micros = RFC3339.microseconds(from: date),
              micros >= RFC3339.minMicroseconds, micros <= RFC3339.maxMicroseconds
        else {
            throw invalidValue(date, key: key, "Date \(date) is outside the years 0000-9999 of RFC 3339.")
        }
        out.append(UInt8(ascii: "\""))
        RFC3339.append(microsecondsSinceEpoch: micros, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Writes `uuidString`'s form (upper-case hex) without making the string.
    func writeUUID(_ uuid: UUID) {
        func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 &+ nibble : 0x37 &+ nibble }
        func put(_ byte: UInt8) { out.append(hex(byte >> 4)); out.append(hex(byte & 0xF)) }
        func dash() { out.append(UInt8(ascii: "-")) }
        let u = uuid.uuid
        out.append(UInt8(ascii: "\""))
        put(u.0); put(u.1); put(u.2); put(u.3); dash()
        put(u.4); put(u.5); dash()
        put(u.6); put(u.7); dash()
        put(u.8); put(u.9); dash()
        put(u.10); put(u.11); put(u.12); put(u.13); put(u.14); put(u.15)
        out.append(UInt8(ascii: "\""))
    }

    func writeBase64(_ data: Data) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: data.base64EncodedString().utf8)
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func needsEscape(_ c: UInt8) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\")
    }

    func writeString(_ string: String) {
        out.append(UInt8(ascii: "\""))
        if string.utf8.contains(where: Self.needsEscape) {
            writeEscaped(string)
        } else {
            out.append(contentsOf: string.utf8)
        }
        out.append(UInt8(ascii: "\""))
    }

    private func writeEscaped(_ string: String) {
        func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble }
        for c in string.utf8 {
            guard Self.needsEscape(c) else {
                out.append(c)
                continue
            }
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            default:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex(c >> 4))
                out.append(hex(c & 0xF))
            }
        }
    }
}

// MARK: - Containers

/// An `Encoder` for a `superEncoder()` slot: like the main encoder, but pinned to one frame.
final class JSONSlotEncoder: Encoder {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32
    init(writer: JSONWriter, depth: Int, id: UInt32) { self.writer = writer; self.depth = depth; self.id = id }
    var codingPath: [any CodingKey] { writer.isOpen(depth, id) ? writer.path(through: depth) : [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        writer.keyedContainer(at: depth, id: id)
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { writer.unkeyedContainer(at: depth, id: id) }
    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueWriter(writer: writer, depth: depth, id: id)
    }
}

struct JSONKeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.isOpen(depth, id) ? writer.path(through: depth) : [] }

    private func begin(_ key: Key) throws { try writer.beginKey(key, depth, id) }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); writer.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); writer.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); writer.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try begin(key); try writer.writeFloat(value, key: { key })
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try begin(key); try writer.writeFloat(value, key: { key })
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); writer.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try writer.encodeElement(value, key: key)
    }

    /// Begins `key`, or records why it cannot be (for the methods that cannot throw).
    private func tryBegin(_ key: some CodingKey) -> Bool {
        do {
            try writer.beginKey(key, depth, id)
            return true
        } catch let error as EncodingError {
            writer.record(error)
            return false
        } catch {
            return false
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        guard tryBegin(key) else {
            return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: JSONWriter.deadDepth, id: 0))
        }
        let (nested, nestedID) = writer.nested(.object, key: key)
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        guard tryBegin(key) else { return JSONUnkeyedWriter(writer: writer, depth: JSONWriter.deadDepth, id: 0) }
        let (nested, nestedID) = writer.nested(.array, key: key)
        return JSONUnkeyedWriter(writer: writer, depth: nested, id: nestedID)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: JSONIndexKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder(key: some CodingKey) -> any Encoder {
        guard tryBegin(key) else { return JSONSlotEncoder(writer: writer, depth: JSONWriter.deadDepth, id: 0) }
        let (slot, slotID) = writer.push(.slot, key: key)
        return JSONSlotEncoder(writer: writer, depth: slot, id: slotID)
    }
}

struct JSONUnkeyedWriter: UnkeyedEncodingContainer {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.isOpen(depth, id) ? writer.path(through: depth) : [] }
    var count: Int { writer.isOpen(depth, id) ? writer.frames[depth].count : 0 }

    private func begin() throws { try writer.beginElement(depth, id) }

    mutating func encodeNil() throws { try begin(); writer.writeNull() }
    mutating func encode(_ value: Bool) throws { try begin(); writer.writeBool(value) }
    mutating func encode(_ value: String) throws { try begin(); writer.writeString(value) }
    mutating func encode(_ value: Double) throws {
        let index = count
        try begin(); try writer.writeFloat(value, key: { JSONIndexKey(intValue: index) })
    }
    mutating func encode(_ value: Float) throws {
        let index = count
        try begin(); try writer.writeFloat(value, key: { JSONIndexKey(intValue: index) })
    }
    mutating func encode(_ value: Int) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try begin(); writer.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        try begin()
        try writer.encodeElement(value, key: JSONIndexKey(intValue: index))
    }

    /// Begins the next element and returns its key, or records why it cannot be begun.
    private func tryBegin() -> JSONIndexKey? {
        let index = count
        do {
            try begin()
            return JSONIndexKey(intValue: index)
        } catch let error as EncodingError {
            writer.record(error)
            return nil
        } catch {
            return nil
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        guard let key = tryBegin() else {
            return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: JSONWriter.deadDepth, id: 0))
        }
        let (nested, nestedID) = writer.nested(.object, key: key)
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        guard let key = tryBegin() else { return JSONUnkeyedWriter(writer: writer, depth: JSONWriter.deadDepth, id: 0) }
        let (nested, nestedID) = writer.nested(.array, key: key)
        return JSONUnkeyedWriter(writer: writer, depth: nested, id: nestedID)
    }

    mutating func superEncoder() -> any Encoder {
        guard let key = tryBegin() else { return JSONSlotEncoder(writer: writer, depth: JSONWriter.deadDepth, id: 0) }
        let (slot, slotID) = writer.push(.slot, key: key)
        return JSONSlotEncoder(writer: writer, depth: slot, id: slotID)
    }
}

struct JSONSingleValueWriter: SingleValueEncodingContainer {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.isOpen(depth, id) ? writer.path(through: depth) : [] }

    /// Checks that the slot is still open and empty, then marks it filled.
    private func fill() throws {
        try writer.activate(depth, id)
        guard writer.frames[depth].kind == .slot else {
            throw EncodingError.invalidValue((), .init(
                codingPath: codingPath,
                debugDescription: "Attempt to encode value through single value container when previously value already encoded."))
        }
        writer.frames[depth].kind = .filled
    }

    mutating func encodeNil() throws { try fill(); writer.writeNull() }
    mutating func encode(_ value: Bool) throws { try fill(); writer.writeBool(value) }
    mutating func encode(_ value: String) throws { try fill(); writer.writeString(value) }
    mutating func encode(_ value: Double) throws { try fill(); try writer.writeFloat(value, key: { nil }) }
    mutating func encode(_ value: Float) throws { try fill(); try writer.writeFloat(value, key: { nil }) }
    mutating func encode(_ value: Int) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try fill(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try fill(); writer.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try fill()
        if try writer.writeScalar(value, key: { nil }) { return }
        // Not a scalar: let the value fill this same slot with its own container.
        writer.frames[depth].kind = .slot
        try writer.encodeNonScalar(value, inSlot: depth)
    }
}
