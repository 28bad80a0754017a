import Foundation

/// One JSON value in the flat token array produced by ``JSONScanner``.
///
/// Values appear in document order; an object's members are stored as key token, value
/// token(s), key token, ... so a whole subtree can be skipped with `length`.
struct JSONToken {
    enum Kind: UInt8 { case null, `false`, `true`, number, string, array, object }

    var kind: Kind
    /// Strings: `escaped` if the text contains backslash escapes.
    /// Numbers: `fraction`/`exponent` when present, `negative` for a leading minus.
    var flags: UInt8 = 0
    /// Byte offset of the value; for strings, of the first byte after the opening quote.
    var offset: UInt32
    /// Strings and numbers: byte length of the text (strings without quotes).
    /// Arrays and objects: index of the first token after the subtree.
    var length: UInt32 = 0
    /// Arrays and objects: number of elements or members.
    var count: UInt32 = 0
    /// Objects: index of the key token where the next key lookup starts.
    var hint: UInt32 = 0

    static let escaped: UInt8 = 1
    static let fraction: UInt8 = 1
    static let exponent: UInt8 = 2
    static let negative: UInt8 = 4

    var isContainer: Bool { kind.rawValue >= Kind.array.rawValue }
}

/// A strict RFC 8259 parser that validates the whole input (including UTF-8) in one pass
/// and records each value as a ``JSONToken``. Nothing is unescaped or converted here.
struct JSONScanner {
    static let maximumDepth = 512

    private let p: UnsafePointer<UInt8>
    private let end: Int
    private var pos = 0
    /// Output: `tokens[0..<count]`, in `capacity` slots; heap memory once `ownsTokens`.
    private(set) var tokens: UnsafeMutablePointer<JSONToken>
    private(set) var count = 0
    private var capacity: Int
    private(set) var ownsTokens = false

    /// Scans `input` into `scratch` (moving to the heap when it fills up; the caller then
    /// deallocates `tokens`). The tokens are followed by one extra `null` token that
    /// stands for absent values.
    init(_ input: UnsafeBufferPointer<UInt8>, scratch: UnsafeMutableBufferPointer<JSONToken>) throws {
        tokens = scratch.baseAddress!
        capacity = scratch.count
        guard let base = input.baseAddress, !input.isEmpty else {
            throw Self.corrupted("Unexpected end of input at byte offset 0")
        }
        guard input.count < Int(UInt32.max) else { throw Self.corrupted("Input larger than 4 GiB") }
        p = base
        end = input.count
        do {
            try parseValue(depth: 0)
            skipWhitespace()
            if pos != end { throw error("Unexpected trailing characters after the top-level value") }
            append(JSONToken(kind: .null, offset: UInt32(end)))
        } catch {
            if ownsTokens { tokens.deallocate() }
            throw error
        }
    }

    @inline(__always)
    private mutating func append(_ token: JSONToken) {
        if count == capacity { grow() }
        (tokens + count).initialize(to: token)
        count += 1
    }

    private mutating func grow() {
        let newCapacity = max(64, capacity * 2)
        let storage = UnsafeMutablePointer<JSONToken>.allocate(capacity: newCapacity)
        storage.moveInitialize(from: tokens, count: count)
        if ownsTokens { tokens.deallocate() }
        tokens = storage
        capacity = newCapacity
        ownsTokens = true
    }

    // MARK: Errors

    static func corrupted(_ message: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: message))
    }

    private func error(_ message: String, at offset: Int? = nil) -> DecodingError {
        Self.corrupted("\(message) at byte offset \(offset ?? pos)")
    }

    private func unexpected() -> DecodingError {
        guard pos < end else { return error("Unexpected end of input") }
        let c = p[pos]
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return error("Unexpected character \(shown)")
    }

    // MARK: Values

    private mutating func skipWhitespace() {
        while pos < end {
            switch p[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws {
        skipWhitespace()
        guard pos < end else { throw unexpected() }
        switch p[pos] {
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "{"): try parseObject(depth: depth)
        case UInt8(ascii: "["): try parseArray(depth: depth)
        case UInt8(ascii: "t"): try parseLiteral("true", .true)
        case UInt8(ascii: "f"): try parseLiteral("false", .false)
        case UInt8(ascii: "n"): try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
        default: throw unexpected()
        }
    }

    private mutating func parseLiteral(_ word: StaticString, _ kind: JSONToken.Kind) throws {
        let n = word.utf8CodeUnitCount
        guard end - pos >= n, memcmp(p + pos, word.utf8Start, n) == 0 else { throw error("Invalid literal") }
        append(JSONToken(kind: kind, offset: UInt32(pos)))
        pos += n
    }

    private mutating func parseObject(depth: Int) throws {
        guard depth < Self.maximumDepth else { throw error("Nesting deeper than \(Self.maximumDepth) levels") }
        let index = count
        append(JSONToken(kind: .object, offset: UInt32(pos)))
        pos += 1
        skipWhitespace()
        var members: UInt32 = 0
        if pos < end && p[pos] == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                skipWhitespace()
                guard pos < end, p[pos] == UInt8(ascii: "\"") else {
                    throw pos < end ? error("Expected a string key") : unexpected()
                }
                try parseString()
                skipWhitespace()
                guard pos < end, p[pos] == UInt8(ascii: ":") else {
                    throw pos < end ? error("Expected ':' after object key") : unexpected()
                }
                pos += 1
                try parseValue(depth: depth + 1)
                members += 1
                skipWhitespace()
                guard pos < end else { throw unexpected() }
                if p[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if p[pos] == UInt8(ascii: "}") { pos += 1; break }
                throw error("Expected ',' or '}' in object")
            }
        }
        tokens[index].count = members
        tokens[index].length = UInt32(count)
        tokens[index].hint = UInt32(index + 1)
    }

    private mutating func parseArray(depth: Int) throws {
        guard depth < Self.maximumDepth else { throw error("Nesting deeper than \(Self.maximumDepth) levels") }
        let index = count
        append(JSONToken(kind: .array, offset: UInt32(pos)))
        pos += 1
        skipWhitespace()
        var elements: UInt32 = 0
        if pos < end && p[pos] == UInt8(ascii: "]") {
            pos += 1
        } else {
            while true {
                try parseValue(depth: depth + 1)
                elements += 1
                skipWhitespace()
                guard pos < end else { throw unexpected() }
                if p[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if p[pos] == UInt8(ascii: "]") { pos += 1; break }
                throw error("Expected ',' or ']' in array")
            }
        }
        tokens[index].count = elements
        tokens[index].length = UInt32(count)
    }

    private mutating func parseNumber() throws {
        let start = pos
        var flags: UInt8 = 0
        @inline(__always) func isDigit(_ i: Int) -> Bool { i < end && p[i] &- 0x30 < 10 }
        if p[pos] == UInt8(ascii: "-") { flags |= JSONToken.negative; pos += 1 }
        guard isDigit(pos) else { throw error("Invalid number", at: start) }
        if p[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) { throw error("Leading zeros are not allowed in number", at: start) }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && p[pos] == UInt8(ascii: ".") {
            flags |= JSONToken.fraction
            pos += 1
            guard isDigit(pos) else { throw error("Expected a digit after the decimal point") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && (p[pos] | 0x20) == UInt8(ascii: "e") {
            flags |= JSONToken.exponent
            pos += 1
            if pos < end && (p[pos] == UInt8(ascii: "+") || p[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard isDigit(pos) else { throw error("Expected a digit in the exponent") }
            while isDigit(pos) { pos += 1 }
        }
        append(JSONToken(kind: .number, flags: flags, offset: UInt32(start), length: UInt32(pos - start)))
    }

    // MARK: Strings

    /// Marks (with bit 7) the bytes of the little-endian word `w` that are `"`, `\`, below
    /// 0x20 or above 0x7F. Exact for the lowest marked byte; bytes above it may be marked
    /// spuriously, so only the lowest mark is used.
    @inline(__always)
    private static func attentionMask(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let t = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
            | ((w &- ones &* 0x20) & ~w) | w
        return t & 0x8080_8080_8080_8080
    }

    private mutating func parseString() throws {
        let open = pos
        pos += 1
        var flags: UInt8 = 0
        while true {
            if pos + 8 <= end {  // skip plain ASCII 8 bytes at a time
                let mask = Self.attentionMask(UInt64(littleEndian: UnsafeRawPointer(p + pos).loadUnaligned(as: UInt64.self)))
                if mask == 0 { pos += 8; continue }
                pos += mask.trailingZeroBitCount >> 3
            }
            guard pos < end else { throw error("Unterminated string", at: open) }
            let c = p[pos]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                flags = JSONToken.escaped
                try parseEscape()
            } else if c < 0x20 {
                throw error("Unescaped control character 0x\(String(c, radix: 16)) in string")
            } else if c >= 0x80 {
                try validateUTF8Sequence()
            } else {
                pos += 1
            }
        }
        append(JSONToken(kind: .string, flags: flags, offset: UInt32(open + 1),
                                length: UInt32(pos - open - 1)))
        pos += 1
    }

    private func hex4(at i: Int) -> UInt32? {
        guard i + 4 <= end else { return nil }
        return JSONText.hex4(p + i)
    }

    private mutating func parseEscape() throws {
        guard pos + 1 < end else { throw error("Unterminated string") }
        switch p[pos + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 2
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: pos + 2) else { throw error("Invalid \\u escape") }
            if unit >= 0xDC00 && unit <= 0xDFFF { throw error("Unpaired low surrogate in \\u escape") }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard pos + 7 < end, p[pos + 6] == UInt8(ascii: "\\"), p[pos + 7] == UInt8(ascii: "u"),
                      let low = hex4(at: pos + 8), low >= 0xDC00 && low <= 0xDFFF
                else { throw error("Unpaired high surrogate in \\u escape") }
                pos += 6
            }
            pos += 6
        default:
            throw error("Invalid escape sequence")
        }
    }

    /// Checks the multi-byte UTF-8 sequence starting at `pos` (RFC 3629: no overlong
    /// forms, no surrogates, nothing above U+10FFFF) and moves past it.
    private mutating func validateUTF8Sequence() throws {
        let lead = p[pos]
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        let continuation: Int
        switch lead {
        case 0xC2...0xDF: continuation = 1
        case 0xE0: continuation = 2; lower = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: continuation = 2
        case 0xED: continuation = 2; upper = 0x9F
        case 0xF0: continuation = 3; lower = 0x90
        case 0xF1...0xF3: continuation = 3
        case 0xF4: continuation = 3; upper = 0x8F
        default: throw error("Invalid UTF-8")
        }
        guard pos + continuation < end, p[pos + 1] >= lower, p[pos + 1] <= upper else {
            throw error("Invalid UTF-8")
        }
        for i in stride(from: 2, through: continuation, by: 1) where p[pos + i] & 0xC0 != 0x80 {
            throw error("Invalid UTF-8")
        }
        pos += continuation + 1
    }
}

// MARK: - Reading scanned text

/// Conversions from validated JSON text (as recorded by ``JSONScanner``) to values.
enum JSONText {
    @inline(__always)
    static func hex4(_ s: UnsafePointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        for i in 0..<4 {
            let c = s[i]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Unescapes validated string text into `out` (which needs at most `count` bytes);
    /// returns the number of bytes written.
    static func unescape(_ s: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0, o = 0
        while i < count {
            let c = s[i]
            if c != UInt8(ascii: "\\") { out[o] = c; o += 1; i += 1; continue }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out[o] = 0x08
            case UInt8(ascii: "f"): out[o] = 0x0C
            case UInt8(ascii: "n"): out[o] = 0x0A
            case UInt8(ascii: "r"): out[o] = 0x0D
            case UInt8(ascii: "t"): out[o] = 0x09
            case UInt8(ascii: "u"):
                var scalar = hex4(s + i)!
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {  // validated: a low surrogate follows
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex4(s + i + 2)! - 0xDC00)
                    i += 6
                }
                for byte in UTF8.encode(Unicode.Scalar(scalar)!)! {
                    out[o] = byte
                    o += 1
                }
                continue
            default: out[o] = e  // " \ /
            }
            o += 1
        }
        return o
    }

    static func string(_ s: UnsafePointer<UInt8>, count: Int, escaped: Bool) -> String {
        guard escaped else {
            return String(decoding: UnsafeBufferPointer(start: s, count: count), as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: count) { out in
            unescape(s, count: count, into: out.baseAddress!)
        }
    }

    /// Calls `body` with the unescaped bytes of a string token's text.
    static func withUnescaped<R>(_ s: UnsafePointer<UInt8>, count: Int, escaped: Bool,
                                 _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard escaped else { return try body(UnsafeBufferPointer(start: s, count: count)) }
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { buffer in
            let n = unescape(s, count: count, into: buffer.baseAddress!)
            return try body(UnsafeBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    // MARK: Numbers

    /// The parts of validated number text: decimal digits without leading zeros or
    /// trailing zeros (at most 19 kept), and the power of ten they are scaled by.
    struct DecimalParts {
        var significand: UInt64 = 0
        var digits = 0
        var exponent = 0
        var negative = false
        /// More than 19 significant digits: `significand` holds only the first 19.
        var truncated = false
    }

    static func decimal(_ s: UnsafePointer<UInt8>, count: Int) -> DecimalParts {
        var d = DecimalParts()
        var i = 0
        if s[0] == UInt8(ascii: "-") { d.negative = true; i = 1 }
        var pendingZeros = 0
        var fractionDigits = 0
        var inFraction = false
        while i < count {
            let c = s[i]
            if c == UInt8(ascii: ".") { inFraction = true; i += 1; continue }
            let digit = c &- 0x30
            guard digit < 10 else { break }
            if inFraction { fractionDigits += 1 }
            i += 1
            if digit == 0 {
                if d.digits > 0 { pendingZeros += 1 }
                continue
            }
            // Append the held-back zeros, then this digit; digits that do not fit scale
            // the value through the exponent instead.
            if d.truncated || d.digits + pendingZeros + 1 > 19 {
                d.truncated = true
                d.exponent += pendingZeros + 1
            } else {
                for _ in 0..<pendingZeros { d.significand *= 10 }
                d.significand = d.significand * 10 + UInt64(digit)
                d.digits += pendingZeros + 1
            }
            pendingZeros = 0
        }
        d.exponent += pendingZeros - fractionDigits
        if i < count {  // exponent part
            i += 1
            var sign = 1
            if s[i] == UInt8(ascii: "-") { sign = -1; i += 1 } else if s[i] == UInt8(ascii: "+") { i += 1 }
            var e = 0
            while i < count {
                e = min(e * 10 + Int(s[i] &- 0x30), 1_000_000)
                i += 1
            }
            d.exponent += sign * e
        }
        if d.significand == 0 { d.exponent = 0 }
        return d
    }

    /// The exact integer value of number text, or nil when it is not integral or not in
    /// range for `I` (so `1.0` and `1e2` are accepted, `1.5` and `300` for `UInt8` are not).
    static func integer<I: FixedWidthInteger>(_ s: UnsafePointer<UInt8>, count: Int, flags: UInt8,
                                              as type: I.Type) -> I? {
        var magnitude: UInt64 = 0
        let negative = flags & JSONToken.negative != 0
        if flags & (JSONToken.fraction | JSONToken.exponent) == 0 {
            var i = negative ? 1 : 0
            guard count - i <= 20 else { return nil }
            while i < count {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = m.addingReportingOverflow(UInt64(s[i] &- 0x30))
                guard !o1, !o2 else { return nil }
                magnitude = sum
                i += 1
            }
        } else {
            let d = decimal(s, count: count)
            guard !d.truncated, d.exponent >= 0, d.exponent <= 19 else {
                return d.significand == 0 ? 0 : nil
            }
            magnitude = d.significand
            for _ in 0..<d.exponent {
                let (m, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                magnitude = m
            }
        }
        guard negative else { return I(exactly: magnitude) }
        if magnitude == 0 { return 0 }
        guard I.isSigned else { return nil }
        let limit = UInt64(I.max)
        if magnitude <= limit { return 0 - I(magnitude) }
        return magnitude == limit + 1 ? I.min : nil
    }

    private static let powersOfTen: [Double] = (0...22).map { (n: Int) -> Double in
        var v = 1.0
        for _ in 0..<n { v *= 10 }
        return v
    }

    /// The nearest `Double` to number text (may be infinite for huge exponents).
    static func double(_ s: UnsafePointer<UInt8>, count: Int) -> Double {
        let d = decimal(s, count: count)
        // Exact fast path (Clinger): significand and power of ten are both exact doubles.
        if !d.truncated && d.significand <= 1 << 53 && d.exponent >= -22 && d.exponent <= 22 {
            var v = Double(d.significand)
            v = d.exponent >= 0 ? v * powersOfTen[d.exponent] : v / powersOfTen[-d.exponent]
            return d.negative ? -v : v
        }
        let text = String(decoding: UnsafeBufferPointer(start: s, count: count), as: UTF8.self)
        return Double(text) ?? .nan
    }

    static func float(_ s: UnsafePointer<UInt8>, count: Int) -> Float {
        let d = decimal(s, count: count)
        if !d.truncated && d.significand <= 1 << 24 && d.exponent >= -10 && d.exponent <= 10 {
            var v = Float(d.significand)
            let scale = Float(powersOfTen[abs(d.exponent)])
            v = d.exponent >= 0 ? v * scale : v / scale
            return d.negative ? -v : v
        }
        let text = String(decoding: UnsafeBufferPointer(start: s, count: count), as: UTF8.self)
        return Float(text) ?? .nan
    }
}

// MARK: - Shared by encoder and decoder

/// Keys for elements of unkeyed containers and for `super`.
struct JSONIndexKey: CodingKey {
    private let name: String?
    let intValue: Int?
    init(stringValue: String) { self.name = stringValue; self.intValue = nil }
    init(intValue: Int) { self.name = nil; self.intValue = intValue }
    /// "Index N" for array elements, built only when asked (error messages).
    var stringValue: String { name ?? "Index \(intValue ?? 0)" }
    static let `super` = JSONIndexKey(stringValue: "super")
}

enum JSONBase64 {
    static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Writes the padded standard base64 form of `src` at `out`; returns the byte count.
    static func encode(_ src: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let table = alphabet.utf8Start
        var i = 0, o = 0
        while i + 3 <= src.count {
            let n = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
            out[o] = table[Int(n >> 18)]; out[o + 1] = table[Int(n >> 12 & 63)]
            out[o + 2] = table[Int(n >> 6 & 63)]; out[o + 3] = table[Int(n & 63)]
            i += 3; o += 4
        }
        let rest = src.count - i
        if rest > 0 {
            let n = UInt32(src[i]) << 16 | (rest == 2 ? UInt32(src[i + 1]) << 8 : 0)
            out[o] = table[Int(n >> 18)]; out[o + 1] = table[Int(n >> 12 & 63)]
            out[o + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
            out[o + 3] = UInt8(ascii: "=")
            o += 4
        }
        return o
    }

    /// Decodes padded standard base64; nil on any invalid character or length.
    static func decode(_ text: UnsafeBufferPointer<UInt8>) -> Data? {
        guard text.count % 4 == 0 else { return nil }
        @inline(__always) func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): return 62
            case UInt8(ascii: "/"): return 63
            default: return nil
            }
        }
        var out = Data(capacity: text.count / 4 * 3)
        var i = 0
        while i < text.count {
            let last = i + 4 == text.count
            let pad = last ? (text[i + 3] == UInt8(ascii: "=") ? (text[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            guard let a = value(text[i]), let b = value(text[i + 1]) else { return nil }
            let c = pad >= 2 ? 0 : value(text[i + 2])
            let d = pad >= 1 ? 0 : value(text[i + 3])
            guard let c, let d else { return nil }
            let n = a << 18 | b << 12 | c << 6 | d
            out.append(UInt8(truncatingIfNeeded: n >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: n >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: n)) }
            i += 4
        }
        return out
    }
}
