import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 3339 timestamps in UTC with microseconds, e.g. `2026-11-25T01:02:38.523845Z`.
///
/// Formatting always writes UTC (`Z`) with exactly six fraction digits; parsing accepts
/// any RFC 3339 `date-time`: `T` or `t`, `Z`/`z` or a `+hh:mm`/`-hh:mm` offset, and an
/// optional fraction of 1 to 9 digits (digits beyond microseconds are truncated).
/// Years 0000-9999 of the proleptic Gregorian calendar are supported; second 60
/// (a leap second) is accepted and counts as the first second of the next minute.
/// No Foundation formatter and no allocation is involved in either direction.
public enum RFC3339 {
    static let microsPerSecond: Int64 = 1_000_000
    static let microsPerDay: Int64 = 86_400_000_000
    /// Microseconds between 1970-01-01 and 2001-01-01 (Foundation's reference date).
    static let referenceDateOffset: Int64 = 978_307_200_000_000
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, in microseconds.
    static let minMicroseconds: Int64 = -62_167_219_200_000_000
    static let maxMicroseconds: Int64 = 253_402_300_799_999_999

    // MARK: Formatting

    /// Appends the timestamp for `microseconds` since 1970-01-01T00:00:00Z (may be negative).
    ///
    /// Years outside 0000-9999 are written with a sign and as many digits as needed
    /// (ISO 8601 expanded form), which is not RFC 3339 and will not parse back.
    public static func append(microsecondsSinceEpoch microseconds: Int64, to buffer: inout [UInt8]) {
        let (days, microsOfDay) = floorDivide(microseconds, microsPerDay)
        let (year, month, day) = civil(fromDays: days)
        let seconds = Int(microsOfDay / microsPerSecond)
        let fraction = Int(microsOfDay % microsPerSecond)
        buffer.reserveCapacity(buffer.count + maximumLength)
        func put(_ value: Int, digits: Int) {
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
            var value = value
            var j = start + digits - 1
            while j >= start { buffer[j] = 0x30 &+ UInt8(truncatingIfNeeded: value % 10); value /= 10; j -= 1 }
        }
        if year >= 0 && year <= 9999 {
            put(year, digits: 4)
        } else {
            buffer.append(year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = year.magnitude
            var digits = 4
            var limit: UInt = 10_000
            while magnitude >= limit && digits < 19 { digits += 1; limit *= 10 }
            put(Int(magnitude), digits: digits)
        }
        buffer.append(UInt8(ascii: "-")); put(month, digits: 2)
        buffer.append(UInt8(ascii: "-")); put(day, digits: 2)
        buffer.append(UInt8(ascii: "T")); put(seconds / 3600, digits: 2)
        buffer.append(UInt8(ascii: ":")); put(seconds / 60 % 60, digits: 2)
        buffer.append(UInt8(ascii: ":")); put(seconds % 60, digits: 2)
        buffer.append(UInt8(ascii: ".")); put(fraction, digits: 6)
        buffer.append(UInt8(ascii: "Z"))
    }

    /// The most bytes ``append(microsecondsSinceEpoch:to:)`` writes.
    static let maximumLength = 40

    public static func string(microsecondsSinceEpoch microseconds: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        append(microsecondsSinceEpoch: microseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Formats `date` rounded to the nearest microsecond (clamped to the `Int64` range).
    public static func string(from date: Date) -> String {
        string(microsecondsSinceEpoch: clampedMicroseconds(from: date))
    }

    // MARK: Parsing

    /// Parses RFC 3339 (`Z` or `+hh:mm`/`-hh:mm` offset, 0-9 fraction digits, `T` or `t`);
    /// returns microseconds since the epoch, or nil when the text is not valid RFC 3339.
    public static func parseMicroseconds(_ bytes: some Collection<UInt8>) -> Int64? {
        // The longest valid text, `yyyy-mm-ddThh:mm:ss.fffffffff+hh:mm`, has 35 bytes; a
        // copy of at most that many keeps this in safe Swift for one small allocation.
        guard bytes.count <= 35 else { return nil }
        return parse(Array(bytes))
    }

    public static func parseMicroseconds(_ text: String) -> Int64? {
        parseMicroseconds(text.utf8)
    }

    public static func date(from text: String) -> Date? {
        parseMicroseconds(text).map(date(microseconds:))
    }

    /// Current time in microseconds since the epoch (clock_gettime CLOCK_REALTIME).
    public static func nowMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * microsPerSecond + Int64(now.tv_nsec) / 1000
    }

    /// The parser behind the public entry points. Every read is at an index checked
    /// against `count` first (the decoder passes a bounds-checked `ArraySlice`).
    static func parse<Text: RandomAccessCollection<UInt8>>(_ text: Text) -> Int64? where Text.Index == Int {
        // yyyy-mm-ddThh:mm:ss is 19 bytes; at least a one-byte offset follows.
        guard text.count >= 20 else { return nil }
        let s = ZeroBased(text: text)
        @inline(__always) func digit(_ i: Int) -> Int? {
            let d = s[i] &- 0x30
            return d < 10 ? Int(d) : nil
        }
        @inline(__always) func number(_ i: Int, _ n: Int) -> Int? {
            var value = 0
            for j in i..<(i + n) {
                guard let d = digit(j) else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = number(0, 4), s[4] == UInt8(ascii: "-"),
              let month = number(5, 2), s[7] == UInt8(ascii: "-"),
              let day = number(8, 2), s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t"),
              let hour = number(11, 2), s[13] == UInt8(ascii: ":"),
              let minute = number(14, 2), s[16] == UInt8(ascii: ":"),
              let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }

        var i = 19
        var micros = 0
        if s[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < s.count, let d = digit(i) {
                if i - start < 6 { micros = micros * 10 + d }
                i += 1
            }
            let digits = i - start
            guard digits >= 1, digits <= 9 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        guard i < s.count else { return nil }
        var offsetMinutes = 0
        switch s[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard s.count - i == 6, let oh = number(i + 1, 2), s[i + 3] == UInt8(ascii: ":"),
                  let om = number(i + 4, 2), oh <= 23, om <= 59
            else { return nil }
            offsetMinutes = (oh * 60 + om) * (s[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            return nil
        }
        guard i == s.count else { return nil }

        let days = Int64(days(fromCivil: year, month, day))
        let seconds = Int64(((hour * 60 + minute) - offsetMinutes) * 60 + second)
        return days * microsPerDay + seconds * microsPerSecond + Int64(micros)
    }

    /// `text` with indices from 0.
    private struct ZeroBased<Text: RandomAccessCollection<UInt8>> where Text.Index == Int {
        let text: Text
        var count: Int { text.count }
        subscript(_ i: Int) -> UInt8 { text[text.startIndex + i] }
    }

    // MARK: Calendar arithmetic (proleptic Gregorian, after Howard Hinnant)

    static func isLeapYear(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of the given civil date.
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Civil date of the given day count since 1970-01-01.
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    // MARK: Date conversion

    /// `date` rounded to the nearest microsecond, or nil when non-finite or beyond `Int64`.
    static func microseconds(from date: Date) -> Int64? {
        let micros = (date.timeIntervalSinceReferenceDate * 1e6).rounded()
        guard let value = Int64(exactly: micros) else { return nil }
        let (sum, overflow) = value.addingReportingOverflow(referenceDateOffset)
        return overflow ? nil : sum
    }

    static func clampedMicroseconds(from date: Date) -> Int64 {
        if let micros = microseconds(from: date) { return micros }
        return date.timeIntervalSinceReferenceDate < 0 ? .min : .max
    }

    static func date(microseconds: Int64) -> Date {
        let (q, r) = floorDivide(microseconds, microsPerSecond)
        // Seconds since 2001 plus the fraction, summed once to keep the rounding error tiny.
        let seconds = Double(q - referenceDateOffset / microsPerSecond)
        return Date(timeIntervalSinceReferenceDate: seconds + Double(r) / 1e6)
    }
}
