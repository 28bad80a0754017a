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
    /// Arrays and objects: number of elements or members.
    var count: UInt32 = 0
    /// Index into the input of the value's first byte; for strings, of the first byte after
    /// the opening quote.
    var offset: Int
    /// Strings and numbers: byte length of the text (strings without quotes).
    /// Arrays and objects: index of the first token after the subtree.
    var length: Int = 0

    static let escaped: UInt8 = 1
    static let fraction: UInt8 = 1
    static let exponent: UInt8 = 2
    static let negative: UInt8 = 4

    var isContainer: Bool { kind.rawValue >= Kind.array.rawValue }
}

/// A strict RFC 8259 parser that validates the whole input (including UTF-8) in one pass
/// and records each value as a ``JSONToken``. Nothing is unescaped or converted here.
///
/// Safe Swift only: every byte is read through the bounds-checked `ArraySlice`, so
/// malformed input can make it throw but never read outside the input.
struct JSONScanner {
    static let maximumDepth = 512

    private let input: ArraySlice<UInt8>
    private var pos: Int
    private let end: Int
    private var tokens: [JSONToken] = []

    private init(_ input: ArraySlice<UInt8>) {
        self.input = input
        pos = input.startIndex
        end = input.endIndex
        tokens.reserveCapacity(max(8, input.count / 8))
    }

    /// Scans `input` into tokens (token offsets are indices of `input`), followed by one
    /// extra `null` token that stands for absent values.
    static func scan(_ input: ArraySlice<UInt8>) throws -> [JSONToken] {
        guard !input.isEmpty else { throw corrupted("Unexpected end of input at byte offset 0") }
        var scanner = JSONScanner(input)
        try scanner.parseValue(depth: 0)
        scanner.skipWhitespace()
        if scanner.pos != scanner.end {
            throw scanner.error("Unexpected trailing characters after the top-level value")
        }
        scanner.tokens.append(JSONToken(kind: .null, offset: scanner.end))
        return scanner.tokens
    }

    // MARK: Errors

    static func corrupted(_ message: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: message))
    }

    /// An error at `index` (default: the current position), reported as an offset from the
    /// start of the input.
    private func error(_ message: String, at index: Int? = nil) -> DecodingError {
        Self.corrupted("\(message) at byte offset \((index ?? pos) - input.startIndex)")
    }

    private func unexpected() -> DecodingError {
        guard pos < end else { return error("Unexpected end of input") }
        let c = input[pos]
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return error("Unexpected character \(shown)")
    }

    // MARK: Values

    private mutating func skipWhitespace() {
        while pos < end {
            switch input[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws {
        skipWhitespace()
        guard pos < end else { throw unexpected() }
        switch input[pos] {
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

    private mutating func parseLiteral(_ word: String, _ kind: JSONToken.Kind) throws {
        let n = word.utf8.count
        guard end - pos >= n else { throw error("Invalid literal") }
        var offset = pos
        for byte in word.utf8 {
            guard input[offset] == byte else { throw error("Invalid literal") }
            offset += 1
        }
        tokens.append(JSONToken(kind: kind, offset: pos))
        pos += n
    }

    private mutating func parseObject(depth: Int) throws {
        guard depth < Self.maximumDepth else { throw error("Nesting deeper than \(Self.maximumDepth) levels") }
        let index = tokens.count
        tokens.append(JSONToken(kind: .object, offset: pos))
        pos += 1
        skipWhitespace()
        var members: UInt32 = 0
        if pos < end && input[pos] == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                skipWhitespace()
                guard pos < end, input[pos] == UInt8(ascii: "\"") else {
                    throw pos < end ? error("Expected a string key") : unexpected()
                }
                try parseString()
                skipWhitespace()
                guard pos < end, input[pos] == UInt8(ascii: ":") else {
                    throw pos < end ? error("Expected ':' after object key") : unexpected()
                }
                pos += 1
                try parseValue(depth: depth + 1)
                members += 1
                skipWhitespace()
                guard pos < end else { throw unexpected() }
                if input[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if input[pos] == UInt8(ascii: "}") { pos += 1; break }
                throw error("Expected ',' or '}' in object")
            }
        }
        tokens[index].count = members
        tokens[index].length = tokens.count
    }

    private mutating func parseArray(depth: Int) throws {
        guard depth < Self.maximumDepth else { throw error("Nesting deeper than \(Self.maximumDepth) levels") }
        let index = tokens.count
        tokens.append(JSONToken(kind: .array, offset: pos))
        pos += 1
        skipWhitespace()
        var elements: UInt32 = 0
        if pos < end && input[pos] == UInt8(ascii: "]") {
            pos += 1
        } else {
            while true {
                try parseValue(depth: depth + 1)
                elements += 1
                skipWhitespace()
                guard pos < end else { throw unexpected() }
                if input[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if input[pos] == UInt8(ascii: "]") { pos += 1; break }
                throw error("Expected ',' or ']' in array")
            }
        }
        tokens[index].count = elements
        tokens[index].length = tokens.count
    }

    private func isDigit(_ i: Int) -> Bool { i < end && input[i] &- 0x30 < 10 }

    private mutating func parseNumber() throws {
        let start = pos
        var flags: UInt8 = 0
        if input[pos] == UInt8(ascii: "-") { flags |= JSONToken.negative; pos += 1 }
        guard isDigit(pos) else { throw error("Invalid number", at: start) }
        if input[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) { throw error("Leading zeros are not allowed in number", at: start) }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && input[pos] == UInt8(ascii: ".") {
            flags |= JSONToken.fraction
            pos += 1
            guard isDigit(pos) else { throw error("Expected a digit after the decimal point") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && (input[pos] | 0x20) == UInt8(ascii: "e") {
            flags |= JSONToken.exponent
            pos += 1
            if pos < end && (input[pos] == UInt8(ascii: "+") || input[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard isDigit(pos) else { throw error("Expected a digit in the exponent") }
            while isDigit(pos) { pos += 1 }
        }
        tokens.append(JSONToken(kind: .number, flags: flags, offset: start, length: pos - start))
    }

    // MARK: Strings

    private mutating func parseString() throws {
        let open = pos
        pos += 1
        var flags: UInt8 = 0
        while true {
            guard pos < end else { throw error("Unterminated string", at: open) }
            let c = input[pos]
            if c >= 0x20 && c < 0x80 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                pos += 1
            } else if c == UInt8(ascii: "\"") {
                break
            } else if c == UInt8(ascii: "\\") {
                flags = JSONToken.escaped
                try parseEscape()
            } else if c < 0x20 {
                throw error("Unescaped control character 0x\(String(c, radix: 16)) in string")
            } else {
                try validateUTF8Sequence()
            }
        }
        tokens.append(JSONToken(kind: .string, flags: flags, offset: open + 1, length: pos - open - 1))
        pos += 1
    }

    private func hex4(at i: Int) -> UInt32? {
        guard i + 4 <= end else { return nil }
        return JSONText.hex4(input, at: i)
    }

    private mutating func parseEscape() throws {
        guard pos + 1 < end else { throw error("Unterminated string") }
        switch input[pos + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 2
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: pos + 2) else { throw error("Invalid \\u escape") }
            if unit >= 0xDC00 && unit <= 0xDFFF { throw error("Unpaired low surrogate in \\u escape") }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard pos + 7 < end, input[pos + 6] == UInt8(ascii: "\\"), input[pos + 7] == UInt8(ascii: "u"),
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
        let lead = input[pos]
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
        guard pos + continuation < end, input[pos + 1] >= lower, input[pos + 1] <= upper else {
            throw error("Invalid UTF-8")
        }
        for i in stride(from: 2, through: continuation, by: 1) where input[pos + i] & 0xC0 != 0x80 {
            throw error("Invalid UTF-8")
        }
        pos += continuation + 1
    }
}

// MARK: - Reading scanned text

/// Conversions from validated JSON text (as recorded by ``JSONScanner``) to values.
/// Every function takes the input and a range of indices in it; reads are bounds-checked.
enum JSONText {
    /// The value of the four hex digits at `i`, or nil if one is not a hex digit.
    static func hex4(_ s: ArraySlice<UInt8>, at i: Int) -> UInt32? {
        var value: UInt32 = 0
        for j in i..<(i + 4) {
            guard let digit = hexDigit(s[j]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
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

    /// The unescaped bytes of validated string text `s[start..<start + count]`.
    static func unescape(_ s: ArraySlice<UInt8>, start: Int, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var i = start
        let end = start + count
        while i < end {
            let c = s[i]
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                // Validated by the scanner: four hex digits, and a high surrogate is
                // followed by `\u` and a low one. Anything else becomes U+FFFD.
                var scalar = hex4(s, at: i) ?? 0xFFFD
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = i + 6 <= end ? hex4(s, at: i + 2) ?? 0xFFFD : 0xFFFD
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
                    i += 6
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")!)
            default: out.append(e)  // " \ /
            }
        }
        return out
    }

    static func string(_ s: ArraySlice<UInt8>, start: Int, count: Int, escaped: Bool) -> String {
        guard escaped else { return String(decoding: s[start..<(start + count)], as: UTF8.self) }
        return String(decoding: unescape(s, start: start, count: count), as: UTF8.self)
    }

    /// Calls `body` with the unescaped bytes of a string token's text.
    static func withUnescaped<R>(_ s: ArraySlice<UInt8>, start: Int, count: Int, escaped: Bool,
                                 _ body: (ArraySlice<UInt8>) throws -> R) rethrows -> R {
        guard escaped else { return try body(s[start..<(start + count)]) }
        return try body(unescape(s, start: start, count: count)[...])
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

    static func decimal(_ s: ArraySlice<UInt8>, start: Int, count: Int) -> DecimalParts {
        var d = DecimalParts()
        var i = start
        let end = start + count
        if s[i] == UInt8(ascii: "-") { d.negative = true; i += 1 }
        var pendingZeros = 0
        var fractionDigits = 0
        var inFraction = false
        while i < end {
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
        if i < end {  // exponent part
            i += 1
            var sign = 1
            if i < end && s[i] == UInt8(ascii: "-") {
                sign = -1; i += 1
            } else if i < end && s[i] == UInt8(ascii: "+") {
                i += 1
            }
            var e = 0
            while i < end {
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
    static func integer<I: FixedWidthInteger>(_ s: ArraySlice<UInt8>, start: Int, count: Int, flags: UInt8,
                                              as type: I.Type) -> I? {
        var magnitude: UInt64 = 0
        let negative = flags & JSONToken.negative != 0
        if flags & (JSONToken.fraction | JSONToken.exponent) == 0 {
            var i = negative ? start + 1 : start
            let end = start + count
            guard end - i <= 20 else { return nil }
            while i < end {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = m.addingReportingOverflow(UInt64(s[i] &- 0x30))
                guard !o1, !o2 else { return nil }
                magnitude = sum
                i += 1
            }
        } else {
            let d = decimal(s, start: start, count: count)
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
    static func double(_ s: ArraySlice<UInt8>, start: Int, count: Int) -> Double {
        let d = decimal(s, start: start, count: count)
        // Exact fast path (Clinger): significand and power of ten are both exact doubles.
        if !d.truncated && d.significand <= 1 << 53 && d.exponent >= -22 && d.exponent <= 22 {
            var v = Double(d.significand)
            v = d.exponent >= 0 ? v * powersOfTen[d.exponent] : v / powersOfTen[-d.exponent]
            return d.negative ? -v : v
        }
        return Double(String(decoding: s[start..<(start + count)], as: UTF8.self)) ?? .nan
    }

    static func float(_ s: ArraySlice<UInt8>, start: Int, count: Int) -> Float {
        let d = decimal(s, start: start, count: count)
        if !d.truncated && d.significand <= 1 << 24 && d.exponent >= -10 && d.exponent <= 10 {
            var v = Float(d.significand)
            let scale = Float(powersOfTen[abs(d.exponent)])
            v = d.exponent >= 0 ? v * scale : v / scale
            return d.negative ? -v : v
        }
        return Float(String(decoding: s[start..<(start + count)], as: UTF8.self)) ?? .nan
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
    /// Decodes padded standard base64; nil on any invalid character or length.
    static func decode(_ text: ArraySlice<UInt8>) -> Data? {
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
        var i = text.startIndex
        while i < text.endIndex {
            let last = i + 4 == text.endIndex
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
