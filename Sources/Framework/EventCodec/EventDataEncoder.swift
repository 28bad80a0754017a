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
        let start = writer.state.out.count
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

/// The single `Encoder` of one encode call: holds the output and the stack of open JSON
/// containers (``JSONOutput``) that the container structs (handed out by value) refer to
/// by depth and id. A container whose frame is gone (closed, or the encode call finished)
/// finds out by comparing ids and throws.
///
/// Each operation is one exclusive access to `state` (a mutating method of the struct,
/// which never calls out to the value being encoded), so the dynamic exclusivity checks
/// cost one pair per operation rather than one per byte or frame written.
final class JSONWriter: Encoder {
    var state: JSONOutput
    /// The frame that `container(keyedBy:)` and friends of this encoder apply to.
    var current = 0
    /// The first misuse seen by a method that cannot throw; the encode call throws it.
    var misuse: EncodingError?

    init() {
        state = JSONOutput(out: [])
        state.out.reserveCapacity(256)
    }

    /// A writer that appends to `buffer` (taken over until `finish()` hands it back).
    init(appendingTo buffer: inout [UInt8]) {
        state = JSONOutput(out: [])
        swap(&state.out, &buffer)
        state.out.reserveCapacity(state.out.count + 256)
    }

    /// Ends the encode call and returns the output; later uses of this encoder throw.
    func finish() -> [UInt8] { state.finish() }

    var codingPath: [any CodingKey] { state.path(through: current) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        _ = state.push(.slot, key: nil)
        if try state.writeScalar(value, key: { nil }) { return }
        current = 0
        try value.encode(to: self)
        try throwMisuse()
        try state.closeTopLevel(value)
    }

    // MARK: Misuse

    func throwMisuse() throws {
        if let misuse { throw misuse }
    }

    /// Records a misuse found where the protocol does not let us throw.
    func record(_ error: EncodingError) {
        if misuse == nil && !state.finished { misuse = error }
    }

    /// Runs `operation` on the state; a misuse it throws is recorded (for the methods that
    /// cannot throw). Returns whether it succeeded.
    func recording(_ operation: (inout JSONOutput) throws -> Void) -> Bool {
        do {
            try operation(&state)
            return true
        } catch let error as EncodingError {
            record(error)
            return false
        } catch {
            return false
        }
    }

    // MARK: Containers

    /// A container that throws on every use (handed out where the protocol cannot throw).
    static let deadDepth = -1

    func keyedContainer<Key: CodingKey>(at depth: Int, id: UInt32) -> KeyedEncodingContainer<Key> {
        let opened = recording { try $0.open(.object, at: depth, id: id) }
        return KeyedEncodingContainer(JSONKeyedWriter<Key>(
            writer: self, depth: opened ? depth : Self.deadDepth, id: opened ? id : 0))
    }

    func unkeyedContainer(at depth: Int, id: UInt32) -> any UnkeyedEncodingContainer {
        let opened = recording { try $0.open(.array, at: depth, id: id) }
        return JSONUnkeyedWriter(writer: self, depth: opened ? depth : Self.deadDepth, id: opened ? id : 0)
    }

    /// The id of the frame this encoder applies to, or 0 when there is none any more.
    private var currentID: UInt32 { state.id(at: current) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        keyedContainer(at: current, id: currentID)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { unkeyedContainer(at: current, id: currentID) }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueWriter(writer: self, depth: current, id: currentID)
    }

    /// Begins an element of the container at `depth` (under `name` for objects) and opens
    /// a nested `kind` there; nil, with the misuse recorded, when the container is gone.
    func nested(_ kind: JSONOutput.Kind, name: String?, key: any CodingKey, in depth: Int, id: UInt32)
        -> (depth: Int, id: UInt32)? {
        var opened: (depth: Int, id: UInt32)?
        _ = recording { state in
            try state.begin(name, depth, id)
            opened = state.nested(kind, key: key)
        }
        return opened
    }

    // MARK: Values

    /// Encodes `value` as the element just begun (after its key or comma).
    @inline(__always)
    func encodeElement<T: Encodable>(_ value: T, key: @autoclosure () -> any CodingKey) throws {
        if try state.writeScalar(value, key: key) { return }
        let (depth, id) = state.push(.slot, key: key())
        try encodeNonScalar(value, inSlot: depth)
        state.closeIfOpen(depth, id)
    }

    /// Runs `value.encode(to:)` with the slot at `depth` as the current value position.
    func encodeNonScalar<T: Encodable>(_ value: T, inSlot depth: Int) throws {
        let saved = current
        current = depth
        defer { current = saved }
        try value.encode(to: self)
        try throwMisuse()
        state.closeFrames(deeperThan: depth)
    }
}

/// What a ``JSONWriter`` mutates: the output bytes and the open frames. Its methods only
/// write JSON and never call the value being encoded (except for `CodingKey` names,
/// computed before they are called).
struct JSONOutput {
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
    var nextID: UInt32 = 0
    /// Set when the encode call returned: any later use throws.
    var finished = false

    init(out: [UInt8]) { self.out = out }

    mutating func finish() -> [UInt8] {
        finished = true
        frames = []
        var result: [UInt8] = []
        swap(&result, &out)
        return result
    }

    mutating func closeTopLevel<T>(_ value: T) throws {
        closeFrames(deeperThan: 0)
        guard frames.count == 1 else { throw stale(at: 0) }
        if frames[0].kind == .slot {
            throw EncodingError.invalidValue(value, .init(
                codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        close(frames.removeLast())
    }

    // MARK: Frames

    func stale(at depth: Int) -> EncodingError {
        let message = finished
            ? "Encoder or container used after its encode call returned."
            : "Encoding container used after its parent container moved on."
        return EncodingError.invalidValue((), .init(
            codingPath: path(through: min(depth, frames.count - 1)), debugDescription: message))
    }

    func path(through depth: Int) -> [any CodingKey] {
        guard depth >= 0 else { return [] }
        return frames.prefix(depth + 1).compactMap(\.key)
    }

    /// The coding path of the open frame `depth`/`id`; empty when it is gone.
    func path(of depth: Int, _ id: UInt32) -> [any CodingKey] {
        isOpen(depth, id) ? path(through: depth) : []
    }

    func id(at depth: Int) -> UInt32 { depth < frames.count ? frames[depth].id : 0 }

    /// The number of elements written to the open frame `depth`/`id` (0 when it is gone).
    func count(of depth: Int, _ id: UInt32) -> Int { isOpen(depth, id) ? frames[depth].count : 0 }

    mutating func push(_ kind: Kind, key: (any CodingKey)?) -> (depth: Int, id: UInt32) {
        nextID &+= 1
        if nextID == 0 { nextID = 1 }
        frames.append(Frame(kind: kind, count: 0, id: nextID, key: key))
        return (frames.count - 1, nextID)
    }

    mutating func close(_ frame: Frame) {
        switch frame.kind {
        case .slot: out.append(contentsOf: "{}".utf8)
        case .filled: break
        case .object: out.append(UInt8(ascii: "}"))
        case .array: out.append(UInt8(ascii: "]"))
        }
    }

    mutating func closeFrames(deeperThan depth: Int) {
        while frames.count > depth + 1 { close(frames.removeLast()) }
    }

    /// Closes the frame `depth`/`id` if it is still the open one there.
    mutating func closeIfOpen(_ depth: Int, _ id: UInt32) {
        if frames.count > depth && frames[depth].id == id { closeFrames(deeperThan: depth - 1) }
    }

    func isOpen(_ depth: Int, _ id: UInt32) -> Bool {
        !finished && depth >= 0 && depth < frames.count && frames[depth].id == id
    }

    /// Makes the frame at `depth` the innermost open one, checking it is still `id`.
    @inline(__always)
    mutating func activate(_ depth: Int, _ id: UInt32) throws {
        guard isOpen(depth, id) else { throw stale(at: depth) }
        if frames.count != depth + 1 { closeFrames(deeperThan: depth) }
    }

    /// Starts the next element of the object or array at `depth`: the comma, and for an
    /// object the key `name` and colon.
    @inline(__always)
    mutating func begin(_ name: String?, _ depth: Int, _ id: UInt32) throws {
        try activate(depth, id)
        if frames[depth].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[depth].count += 1
        if let name {
            writeString(name)
            out.append(UInt8(ascii: ":"))
        }
    }

    /// Opens the frame at `depth` (an encoder's value) as `kind`, writing the bracket if
    /// nothing was written there yet; throws when the frame is gone or already holds
    /// another kind of value.
    mutating func open(_ kind: Kind, at depth: Int, id: UInt32) throws {
        try activate(depth, id)
        switch frames[depth].kind {
        case .slot:
            out.append(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
            frames[depth].kind = kind
        case kind:
            break
        default:
            let container = kind == .object ? "a keyed" : "an unkeyed"
            throw EncodingError.invalidValue((), .init(
                codingPath: path(through: depth),
                debugDescription: "Attempt to push \(container) container where a value was already encoded."))
        }
    }

    /// Opens a nested object or array as the element just begun, under `key`.
    mutating func nested(_ kind: Kind, key: any CodingKey) -> (depth: Int, id: UInt32) {
        out.append(kind == .object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return push(kind, key: key)
    }

    /// Checks that the slot `depth`/`id` is still open and empty, then marks it filled.
    mutating func fill(_ depth: Int, _ id: UInt32) throws {
        try activate(depth, id)
        guard frames[depth].kind == .slot else {
            throw EncodingError.invalidValue((), .init(
                codingPath: path(through: depth),
                debugDescription: "Attempt to encode value through single value container when previously value already encoded."))
        }
        frames[depth].kind = .filled
    }

    // MARK: Values

    /// Writes `value` directly if it is a type with a fixed JSON form; returns false otherwise.
    /// `key` (the element's key, nil for the root) is only evaluated to report an error.
    @inline(__always)
    mutating func writeScalar<T: Encodable>(_ value: T, key: () -> (any CodingKey)?) throws -> Bool {
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
    mutating func writeBool(_ value: Bool) {
        if value { out.append(contentsOf: "true".utf8) } else { out.append(contentsOf: "false".utf8) }
    }

    mutating func writeNull() { out.append(contentsOf: "null".utf8) }

    @inline(__always)
    mutating func writeInteger<I: FixedWidthInteger>(_ value: I) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = UInt64(value.magnitude)
        if magnitude < 10 {
            out.append(0x30 &+ UInt8(truncatingIfNeeded: magnitude))
            return
        }
        var digits = 2
        var threshold: UInt64 = 100
        while digits < 20 && magnitude >= threshold {
            digits += 1
            threshold &*= 10
        }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var rest = magnitude
        var i = start + digits
        while rest > 0 {
            i -= 1
            out[i] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }

    mutating func writeFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F, key: () -> (any CodingKey)?
    ) throws {
        guard value.isFinite else {
            throw invalidValue(value, key: key, "Unable to encode \(F.self).\(value) directly in JSON.")
        }
        out.append(contentsOf: value.description.utf8)  // shortest round-trip form, e.g. 0.1, 1e-07, 1.0
    }

    mutating func writeDate(_ date: Date, key: () -> (any CodingKey)?) throws {
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
    mutating func writeUUID(_ uuid: UUID) {
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

    mutating func writeBase64(_ data: Data) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: data.base64EncodedString().utf8)
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func needsEscape(_ c: UInt8) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\")
    }

    /// Copies the string's bytes, then checks the copy (array reads are cheaper than
    /// iterating the string) and rewrites it escaped in the rare case it needs escapes.
    mutating func writeString(_ string: String) {
        out.append(UInt8(ascii: "\""))
        let start = out.count
        out.append(contentsOf: string.utf8)
        var i = start
        while i < out.count {
            if Self.needsEscape(out[i]) {
                out.removeSubrange(start...)
                writeEscaped(string)
                break
            }
            i += 1
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ string: String) {
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

extension JSONOutput {
    /// Begins an element of the container at `depth` (under `name` for objects) and
    /// writes it with `body`: one exclusive access for the whole element.
    @inline(__always)
    mutating func element(_ name: String?, _ depth: Int, _ id: UInt32,
                          _ body: (inout JSONOutput) throws -> Void) throws {
        try begin(name, depth, id)
        try body(&self)
    }

    /// Fills the single-value slot `depth`/`id` with `body`.
    @inline(__always)
    mutating func filling(_ depth: Int, _ id: UInt32, _ body: (inout JSONOutput) throws -> Void) throws {
        try fill(depth, id)
        try body(&self)
    }
}

/// An `Encoder` for a `superEncoder()` slot: like the main encoder, but pinned to one frame.
final class JSONSlotEncoder: Encoder {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32
    init(writer: JSONWriter, depth: Int, id: UInt32) { self.writer = writer; self.depth = depth; self.id = id }
    var codingPath: [any CodingKey] { writer.state.path(of: depth, id) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        writer.keyedContainer(at: depth, id: id)
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { writer.unkeyedContainer(at: depth, id: id) }
    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueWriter(writer: writer, depth: depth, id: id)
    }

    /// A slot under `key` in the container at `depth`, or one that throws on every use.
    static func slot(_ writer: JSONWriter, name: String?, key: any CodingKey, in depth: Int, id: UInt32)
        -> JSONSlotEncoder {
        var slot: (depth: Int, id: UInt32) = (JSONWriter.deadDepth, 0)
        _ = writer.recording { state in
            try state.begin(name, depth, id)
            slot = state.push(.slot, key: key)
        }
        return JSONSlotEncoder(writer: writer, depth: slot.depth, id: slot.id)
    }
}

struct JSONKeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.state.path(of: depth, id) }

    @inline(__always)
    private func put(_ key: Key, _ body: (inout JSONOutput) throws -> Void) throws {
        let name = key.stringValue
        try writer.state.element(name, depth, id, body)
    }

    mutating func encodeNil(forKey key: Key) throws { try put(key) { $0.writeNull() } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(key) { $0.writeBool(value) } }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(key) { $0.writeString(value) } }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try put(key) { try $0.writeFloat(value, key: { key }) }
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try put(key) { try $0.writeFloat(value, key: { key }) }
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(key) { $0.writeInteger(value) } }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try put(key) { _ in }
        try writer.encodeElement(value, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = writer.nested(.object, name: key.stringValue, key: key, in: depth, id: id)
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(
            writer: writer, depth: nested?.depth ?? JSONWriter.deadDepth, id: nested?.id ?? 0))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = writer.nested(.array, name: key.stringValue, key: key, in: depth, id: id)
        return JSONUnkeyedWriter(writer: writer, depth: nested?.depth ?? JSONWriter.deadDepth, id: nested?.id ?? 0)
    }

    mutating func superEncoder() -> any Encoder {
        JSONSlotEncoder.slot(writer, name: JSONIndexKey.super.stringValue, key: JSONIndexKey.super, in: depth, id: id)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONSlotEncoder.slot(writer, name: key.stringValue, key: key, in: depth, id: id)
    }
}

struct JSONUnkeyedWriter: UnkeyedEncodingContainer {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.state.path(of: depth, id) }
    var count: Int { writer.state.count(of: depth, id) }

    @inline(__always)
    private func put(_ body: (inout JSONOutput) throws -> Void) throws {
        try writer.state.element(nil, depth, id, body)
    }

    mutating func encodeNil() throws { try put { $0.writeNull() } }
    mutating func encode(_ value: Bool) throws { try put { $0.writeBool(value) } }
    mutating func encode(_ value: String) throws { try put { $0.writeString(value) } }
    mutating func encode(_ value: Double) throws {
        let index = count
        try put { try $0.writeFloat(value, key: { JSONIndexKey(intValue: index) }) }
    }
    mutating func encode(_ value: Float) throws {
        let index = count
        try put { try $0.writeFloat(value, key: { JSONIndexKey(intValue: index) }) }
    }
    mutating func encode(_ value: Int) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int8) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int16) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int32) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int64) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt8) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt16) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt32) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt64) throws { try put { $0.writeInteger(value) } }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        try put { _ in }
        try writer.encodeElement(value, key: JSONIndexKey(intValue: index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = writer.nested(.object, name: nil, key: JSONIndexKey(intValue: count), in: depth, id: id)
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(
            writer: writer, depth: nested?.depth ?? JSONWriter.deadDepth, id: nested?.id ?? 0))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = writer.nested(.array, name: nil, key: JSONIndexKey(intValue: count), in: depth, id: id)
        return JSONUnkeyedWriter(writer: writer, depth: nested?.depth ?? JSONWriter.deadDepth, id: nested?.id ?? 0)
    }

    mutating func superEncoder() -> any Encoder {
        JSONSlotEncoder.slot(writer, name: nil, key: JSONIndexKey(intValue: count), in: depth, id: id)
    }
}

struct JSONSingleValueWriter: SingleValueEncodingContainer {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.state.path(of: depth, id) }

    @inline(__always)
    private func put(_ body: (inout JSONOutput) throws -> Void) throws {
        try writer.state.filling(depth, id, body)
    }

    mutating func encodeNil() throws { try put { $0.writeNull() } }
    mutating func encode(_ value: Bool) throws { try put { $0.writeBool(value) } }
    mutating func encode(_ value: String) throws { try put { $0.writeString(value) } }
    mutating func encode(_ value: Double) throws { try put { try $0.writeFloat(value, key: { nil }) } }
    mutating func encode(_ value: Float) throws { try put { try $0.writeFloat(value, key: { nil }) } }
    mutating func encode(_ value: Int) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int8) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int16) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int32) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: Int64) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt8) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt16) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt32) throws { try put { $0.writeInteger(value) } }
    mutating func encode(_ value: UInt64) throws { try put { $0.writeInteger(value) } }
    mutating func encode<T: Encodable>(_ value: T) throws {
        var scalar = false
        try put { scalar = try $0.writeScalar(value, key: { nil }) }
        if scalar { return }
        // Not a scalar: let the value fill this same slot with its own container.
        writer.state.frames[depth].kind = .slot
        try writer.encodeNonScalar(value, inSlot: depth)
    }
}
