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
///
/// The encoder writes straight into one byte buffer while the value's `encode(to:)` runs;
/// containers are closed as soon as their parent writes again. A container that is used
/// after its parent moved on (or a `superEncoder` used after the parent wrote another
/// key) is a programming error and traps.
public struct EventDataEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try JSONWriter.withWriter { writer in
            try writer.encodeTopLevel(value)
            return Array(writer.written)
        }
    }

    /// Appends the JSON of `value` to `buffer`.
    public func encode<T: Encodable>(_ value: T, into buffer: inout [UInt8]) throws {
        try JSONWriter.withWriter { writer in
            try writer.encodeTopLevel(value)
            buffer.append(contentsOf: writer.written)
        }
    }
}

// MARK: - Writer state

/// The single `Encoder` of one encode call: owns the output bytes and the stack of open
/// JSON containers that the container structs (handed out by value) refer to by index.
///
/// Output goes to a raw buffer (first the caller's stack scratch space, then the heap),
/// and the hot properties opt out of dynamic exclusivity checks: they are only touched
/// from the one thread running the encode call.
final class JSONWriter: Encoder {
    /// Output bytes and container frames that fit in stack scratch space (no heap use).
    static let scratchBytes = 1024
    static let scratchFrames = 16

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
        /// Distinguishes this frame from later ones at the same depth.
        let id: UInt32
        /// The key under which this frame sits in its parent (nil for the root).
        let key: (any CodingKey)?
    }

    @exclusivity(unchecked) private var out: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var count = 0
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private var ownsBuffer = false
    @exclusivity(unchecked) private var frameStorage: UnsafeMutablePointer<Frame>
    @exclusivity(unchecked) private var frameCount = 0
    @exclusivity(unchecked) private var frameCapacity: Int
    @exclusivity(unchecked) private var ownsFrames = false
    /// The frame that `container(keyedBy:)` and friends of this encoder apply to.
    @exclusivity(unchecked) var current = 0
    @exclusivity(unchecked) var nextID: UInt32 = 0

    /// Runs `body` with a writer whose scratch space is on the stack.
    static func withWriter<R>(_ body: (JSONWriter) throws -> R) throws -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scratchBytes) { scratch in
            try withUnsafeTemporaryAllocation(of: Frame.self, capacity: scratchFrames) { frames in
                let writer = JSONWriter(scratch: scratch, frames: frames)
                defer { writer.finish() }
                return try body(writer)
            }
        }
    }

    private init(scratch: UnsafeMutableBufferPointer<UInt8>, frames: UnsafeMutableBufferPointer<Frame>) {
        out = scratch.baseAddress!
        capacity = scratch.count
        frameStorage = frames.baseAddress!
        frameCapacity = frames.count
    }

    /// Releases the frames; any later use of this encoder or its containers traps.
    private func finish() {
        frameStorage.deinitialize(count: frameCount)
        frameCount = 0
        frameCapacity = 0
        capacity = 0
        count = 0
    }

    deinit {
        if ownsBuffer { out.deallocate() }
        if ownsFrames { frameStorage.deallocate() }
    }

    /// The open frames, outermost first.
    var frames: UnsafeMutableBufferPointer<Frame> { UnsafeMutableBufferPointer(start: frameStorage, count: frameCount) }

    var written: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: out, count: count) }

    var codingPath: [any CodingKey] { path(through: current) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        _ = push(.slot, key: nil)
        if try writeScalar(value, key: { nil }) { return }
        current = 0
        try value.encode(to: self)
        closeFrames(deeperThan: 0)
        if frames[0].kind == .slot {
            throw EncodingError.invalidValue(value, .init(
                codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        close(pop())
    }

    // MARK: Output

    @inline(__always)
    func reserve(_ n: Int) {
        if capacity &- count < n { grow(n) }
    }

    @inline(never)
    private func grow(_ n: Int) {
        let newCapacity = max(capacity * 2, count + n)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        buffer.update(from: out, count: count)
        if ownsBuffer { out.deallocate() }
        out = buffer
        capacity = newCapacity
        ownsBuffer = true
    }

    @inline(__always)
    func put(_ byte: UInt8) {
        reserve(1)
        out[count] = byte
        count &+= 1
    }

    @inline(__always)
    func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        reserve(bytes.count)
        (out + count).update(from: source, count: bytes.count)
        count &+= bytes.count
    }

    func put(_ text: StaticString) {
        put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Lets `body` write up to `maximum` bytes at the end; it returns how many it wrote.
    @inline(__always)
    func write(maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maximum)
        count &+= body(out + count)
    }

    // MARK: Frames

    func path(through depth: Int) -> [any CodingKey] {
        frames.prefix(depth + 1).compactMap(\.key)
    }

    func push(_ kind: Kind, key: (any CodingKey)?) -> (depth: Int, id: UInt32) {
        if frameCount == frameCapacity {
            let newCapacity = max(16, frameCapacity * 2)
            let storage = UnsafeMutablePointer<Frame>.allocate(capacity: newCapacity)
            storage.moveInitialize(from: frameStorage, count: frameCount)
            if ownsFrames { frameStorage.deallocate() }
            frameStorage = storage
            frameCapacity = newCapacity
            ownsFrames = true
        }
        nextID &+= 1
        (frameStorage + frameCount).initialize(to: Frame(kind: kind, count: 0, id: nextID, key: key))
        frameCount += 1
        return (frameCount - 1, nextID)
    }

    func pop() -> Frame {
        frameCount -= 1
        return (frameStorage + frameCount).move()
    }

    func close(_ frame: Frame) {
        switch frame.kind {
        case .slot: put("{}")
        case .filled: break
        case .object: put(UInt8(ascii: "}"))
        case .array: put(UInt8(ascii: "]"))
        }
    }

    func closeFrames(deeperThan depth: Int) {
        while frames.count > depth + 1 { close(pop()) }
    }

    /// Makes the frame at `depth` the innermost open one, checking it is still `id`.
    @inline(__always)
    func activate(_ depth: Int, _ id: UInt32) {
        if frames.count != depth + 1 { closeFrames(deeperThan: depth) }
        precondition(depth < frames.count && frames[depth].id == id,
                     "Encoding container used after its parent container moved on")
    }

    /// Starts the next element of the object or array at `depth` (writes the comma).
    @inline(__always)
    func beginElement(_ depth: Int, _ id: UInt32) {
        activate(depth, id)
        if frames[depth].count > 0 { put(UInt8(ascii: ",")) }
        frames[depth].count += 1
    }

    @inline(__always)
    func beginKey<K: CodingKey>(_ key: K, _ depth: Int, _ id: UInt32) {
        beginElement(depth, id)
        writeString(key.stringValue)
        put(UInt8(ascii: ":"))
    }

    // MARK: Containers

    func keyedContainer<Key: CodingKey>(at depth: Int) -> KeyedEncodingContainer<Key> {
        closeFrames(deeperThan: depth)
        precondition(depth < frames.count, "Encoder used after its value was written")
        switch frames[depth].kind {
        case .slot:
            put(UInt8(ascii: "{"))
            frames[depth].kind = .object
        case .object:
            break
        default:
            preconditionFailure("Attempt to push a keyed container where a value was already encoded")
        }
        return KeyedEncodingContainer(JSONKeyedWriter(writer: self, depth: depth, id: frames[depth].id))
    }

    func unkeyedContainer(at depth: Int) -> any UnkeyedEncodingContainer {
        closeFrames(deeperThan: depth)
        precondition(depth < frames.count, "Encoder used after its value was written")
        switch frames[depth].kind {
        case .slot:
            put(UInt8(ascii: "["))
            frames[depth].kind = .array
        case .array:
            break
        default:
            preconditionFailure("Attempt to push an unkeyed container where a value was already encoded")
        }
        return JSONUnkeyedWriter(writer: self, depth: depth, id: frames[depth].id)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        keyedContainer(at: current)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { unkeyedContainer(at: current) }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        precondition(current < frames.count, "Encoder used after its value was written")
        return JSONSingleValueWriter(writer: self, depth: current, id: frames[current].id)
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
        closeFrames(deeperThan: depth)
    }

    /// Writes `value` directly if it is a type with a fixed JSON form; returns false otherwise.
    /// `key` (the element's key, nil for the root) is only evaluated to report an error.
    @inline(__always)
    func writeScalar<T: Encodable>(_ value: T, key: () -> (any CodingKey)?) throws -> Bool {
        if T.self == String.self { writeString(unsafeBitCast(value, to: String.self)) }
        else if T.self == Int.self { writeInteger(unsafeBitCast(value, to: Int.self)) }
        else if T.self == Date.self { try writeDate(unsafeBitCast(value, to: Date.self), key: key) }
        else if T.self == Double.self { try writeFloat(unsafeBitCast(value, to: Double.self), key: key) }
        else if T.self == Bool.self { writeBool(unsafeBitCast(value, to: Bool.self)) }
        else if T.self == UUID.self { writeUUID(unsafeBitCast(value, to: UUID.self)) }
        else if T.self == Int64.self { writeInteger(unsafeBitCast(value, to: Int64.self)) }
        else if T.self == UInt64.self { writeInteger(unsafeBitCast(value, to: UInt64.self)) }
        else if T.self == Int32.self { writeInteger(unsafeBitCast(value, to: Int32.self)) }
        else if T.self == UInt32.self { writeInteger(unsafeBitCast(value, to: UInt32.self)) }
        else if T.self == Int16.self { writeInteger(unsafeBitCast(value, to: Int16.self)) }
        else if T.self == UInt16.self { writeInteger(unsafeBitCast(value, to: UInt16.self)) }
        else if T.self == Int8.self { writeInteger(unsafeBitCast(value, to: Int8.self)) }
        else if T.self == UInt8.self { writeInteger(unsafeBitCast(value, to: UInt8.self)) }
        else if T.self == UInt.self { writeInteger(unsafeBitCast(value, to: UInt.self)) }
        else if T.self == Float.self { try writeFloat(unsafeBitCast(value, to: Float.self), key: key) }
        else if T.self == URL.self { writeString(unsafeBitCast(value, to: URL.self).absoluteString) }
        else if T.self == Data.self { writeBase64(unsafeBitCast(value, to: Data.self)) }
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
    func writeBool(_ value: Bool) { put(value ? "true" : "false") }

    func writeNull() { put("null") }

    @inline(__always)
    func writeInteger<I: FixedWidthInteger>(_ value: I) {
        write(maximum: 20) { p in
            if value < 0 {
                p[0] = UInt8(ascii: "-")
                return 1 + Self.formatDecimal(UInt64(value.magnitude), into: p + 1)
            }
            return Self.formatDecimal(UInt64(value), into: p)
        }
    }

    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// Writes the decimal digits of `value` at `p`; returns how many (at most 20).
    @inline(__always)
    static func formatDecimal(_ value: UInt64, into p: UnsafeMutablePointer<UInt8>) -> Int {
        if value < 10 {
            p[0] = 0x30 &+ UInt8(truncatingIfNeeded: value)
            return 1
        }
        var digits = 2
        var threshold: UInt64 = 100
        while digits < 20 && value >= threshold {
            digits += 1
            threshold &*= 10
        }
        let pairs = digitPairs.utf8Start
        var value = value
        var i = digits
        while value >= 100 {
            let (q, r) = value.quotientAndRemainder(dividingBy: 100)
            i -= 2
            p[i] = pairs[Int(r) &* 2]
            p[i + 1] = pairs[Int(r) &* 2 &+ 1]
            value = q
        }
        if value >= 10 {
            p[i - 2] = pairs[Int(value) &* 2]
            p[i - 1] = pairs[Int(value) &* 2 &+ 1]
        } else {
            p[i - 1] = 0x30 &+ UInt8(truncatingIfNeeded: value)
        }
        return digits
    }

    func writeFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F, key: () -> (any CodingKey)?
    ) throws {
        guard value.isFinite else {
            throw invalidValue(value, key: key, "Unable to encode \(F.self).\(value) directly in JSON.")
        }
        var text = value.description  // shortest round-trip form, e.g. 0.1, 1e-07, 1.0
        text.withUTF8 { put($0) }
    }

    func writeDate(_ date: Date, key: () -> (any CodingKey)?) throws {
        guard let micros = RFC3339.microseconds(from: date),
              micros >= RFC3339.minMicroseconds, micros <= RFC3339.maxMicroseconds
        else {
            throw invalidValue(date, key: key, "Date \(date) is outside the years 0000-9999 of RFC 3339.")
        }
        write(maximum: RFC3339.maximumLength + 2) { p in
            p[0] = UInt8(ascii: "\"")
            let n = RFC3339.format(microsecondsSinceEpoch: micros, into: p + 1)
            p[n + 1] = UInt8(ascii: "\"")
            return n + 2
        }
    }

    func writeUUID(_ uuid: UUID) {
        let hex: StaticString = "0123456789ABCDEF"
        let digits = hex.utf8Start
        withUnsafeBytes(of: uuid.uuid) { raw in
            write(maximum: 38) { p in
                var o = 0
                p[o] = UInt8(ascii: "\""); o += 1
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { p[o] = UInt8(ascii: "-"); o += 1 }
                    p[o] = digits[Int(raw[i] >> 4)]
                    p[o + 1] = digits[Int(raw[i] & 0xF)]
                    o += 2
                }
                p[o] = UInt8(ascii: "\"")
                return o + 1
            }
        }
    }

    func writeBase64(_ data: Data) {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            write(maximum: (raw.count + 2) / 3 * 4 + 2) { p in
                p[0] = UInt8(ascii: "\"")
                let n = JSONBase64.encode(raw, into: p + 1)
                p[n + 1] = UInt8(ascii: "\"")
                return n + 2
            }
        }
    }

    @inline(__always)
    func writeString(_ string: String) {
        if let () = string.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) { return }
        var copy = string
        copy.withUTF8 { writeEscaped($0) }
    }

    /// True if any of the 8 bytes is `"`, `\` or below 0x20.
    @inline(__always)
    static func needsEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let t = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- ones &* 0x20) & ~w)
        return t & 0x8080_8080_8080_8080 != 0
    }

    func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let n = utf8.count
        guard let s = utf8.baseAddress, !Self.needsEscape(s, n) else {
            put(UInt8(ascii: "\""))
            if n > 0 { writeEscapedTail(utf8.baseAddress!, n) }
            put(UInt8(ascii: "\""))
            return
        }
        reserve(n + 2)
        out[count] = UInt8(ascii: "\"")
        (out + count + 1).update(from: s, count: n)
        out[count + n + 1] = UInt8(ascii: "\"")
        count += n + 2
    }

    /// True if any of the `n` bytes at `s` needs escaping (checked 8 bytes at a time).
    @inline(__always)
    static func needsEscape(_ s: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            if needsEscape(UnsafeRawPointer(s + i).loadUnaligned(as: UInt64.self)) { return true }
            i += 8
        }
        guard i < n else { return false }
        if n >= 8 {  // the last 8 bytes, overlapping ones already checked
            return needsEscape(UnsafeRawPointer(s + n - 8).loadUnaligned(as: UInt64.self))
        }
        var w: UInt64 = 0x2020_2020_2020_2020  // spaces need no escaping
        for j in 0..<n { w = w << 8 | UInt64(s[j]) }
        return needsEscape(w)
    }

    private func writeEscapedTail(_ s: UnsafePointer<UInt8>, _ n: Int) {
        var chunkStart = 0
        for i in 0..<n {
            let c = s[i]
            guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
            put(UnsafeBufferPointer(start: s + chunkStart, count: i - chunkStart))
            chunkStart = i + 1
            switch c {
            case UInt8(ascii: "\""): put("\\\"")
            case UInt8(ascii: "\\"): put("\\\\")
            case 0x0A: put("\\n")
            case 0x09: put("\\t")
            case 0x0D: put("\\r")
            case 0x08: put("\\b")
            case 0x0C: put("\\f")
            default:
                let hex: StaticString = "0123456789abcdef"
                put("\\u00")
                put(hex.utf8Start[Int(c >> 4)])
                put(hex.utf8Start[Int(c & 0xF)])
            }
        }
        put(UnsafeBufferPointer(start: s + chunkStart, count: n - chunkStart))
    }
}

// MARK: - Containers

/// An `Encoder` for a `superEncoder()` slot: like the main encoder, but pinned to one frame.
final class JSONSlotEncoder: Encoder {
    let writer: JSONWriter
    let depth: Int
    let id: UInt32
    init(writer: JSONWriter, depth: Int, id: UInt32) { self.writer = writer; self.depth = depth; self.id = id }
    var codingPath: [any CodingKey] { writer.path(through: depth) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func checked() -> Int {
        precondition(depth < writer.frames.count && writer.frames[depth].id == id,
                     "superEncoder used after its parent container moved on")
        return depth
    }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        writer.keyedContainer(at: checked())
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { writer.unkeyedContainer(at: checked()) }
    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueWriter(writer: writer, depth: checked(), id: id)
    }
}

struct JSONKeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    unowned(unsafe) let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.path(through: depth) }

    mutating func encodeNil(forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        writer.beginKey(key, depth, id); try writer.writeFloat(value, key: { key })
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        writer.beginKey(key, depth, id); try writer.writeFloat(value, key: { key })
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { writer.beginKey(key, depth, id); writer.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        writer.beginKey(key, depth, id)
        try writer.encodeElement(value, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        writer.beginKey(key, depth, id)
        writer.put(UInt8(ascii: "{"))
        let (nested, nestedID) = writer.push(.object, key: key)
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        writer.beginKey(key, depth, id)
        writer.put(UInt8(ascii: "["))
        let (nested, nestedID) = writer.push(.array, key: key)
        return JSONUnkeyedWriter(writer: writer, depth: nested, id: nestedID)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: JSONIndexKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder(key: some CodingKey) -> any Encoder {
        writer.beginKey(key, depth, id)
        let (slot, slotID) = writer.push(.slot, key: key)
        return JSONSlotEncoder(writer: writer, depth: slot, id: slotID)
    }
}

struct JSONUnkeyedWriter: UnkeyedEncodingContainer {
    unowned(unsafe) let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.path(through: depth) }
    var count: Int { depth < writer.frames.count ? writer.frames[depth].count : 0 }

    private func begin() { writer.beginElement(depth, id) }

    mutating func encodeNil() throws { begin(); writer.writeNull() }
    mutating func encode(_ value: Bool) throws { begin(); writer.writeBool(value) }
    mutating func encode(_ value: String) throws { begin(); writer.writeString(value) }
    mutating func encode(_ value: Double) throws {
        let index = count
        begin(); try writer.writeFloat(value, key: { JSONIndexKey(intValue: index) })
    }
    mutating func encode(_ value: Float) throws {
        let index = count
        begin(); try writer.writeFloat(value, key: { JSONIndexKey(intValue: index) })
    }
    mutating func encode(_ value: Int) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { begin(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { begin(); writer.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        begin()
        try writer.encodeElement(value, key: JSONIndexKey(intValue: index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let index = count
        begin()
        writer.put(UInt8(ascii: "{"))
        let (nested, nestedID) = writer.push(.object, key: JSONIndexKey(intValue: index))
        return KeyedEncodingContainer(JSONKeyedWriter<NestedKey>(writer: writer, depth: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let index = count
        begin()
        writer.put(UInt8(ascii: "["))
        let (nested, nestedID) = writer.push(.array, key: JSONIndexKey(intValue: index))
        return JSONUnkeyedWriter(writer: writer, depth: nested, id: nestedID)
    }

    mutating func superEncoder() -> any Encoder {
        let index = count
        begin()
        let (slot, slotID) = writer.push(.slot, key: JSONIndexKey(intValue: index))
        return JSONSlotEncoder(writer: writer, depth: slot, id: slotID)
    }
}

struct JSONSingleValueWriter: SingleValueEncodingContainer {
    unowned(unsafe) let writer: JSONWriter
    let depth: Int
    let id: UInt32

    var codingPath: [any CodingKey] { writer.path(through: depth) }

    /// Checks that the slot is still open and empty, then marks it filled.
    private func fill() throws {
        writer.activate(depth, id)
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
        writer.activate(depth, id)
        guard writer.frames[depth].kind == .slot else { try fill(); return }
        writer.frames[depth].kind = .filled
        if try writer.writeScalar(value, key: { nil }) { return }
        // Not a scalar: let the value fill this same slot with its own container.
        writer.frames[depth].kind = .slot
        try writer.encodeNonScalar(value, inSlot: depth)
    }
}
