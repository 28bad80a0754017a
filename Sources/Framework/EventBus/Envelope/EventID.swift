import Foundation
import Synchronization

/// Random (version 4) UUIDs for event and correlation ids, in lowercase text.
///
/// Random bytes come from the kernel's CSPRNG (`/dev/urandom`, read with `FileHandle`) in
/// 4 KiB blocks, so an id costs a few hundred nanoseconds instead of a file read per id. The
/// text is built in an `InlineArray` and handed out as a `String` or a borrowed `Span`: no
/// unsafe pointer is involved.
public enum EventID {
    private static let pool = Mutex(RandomPool())

    /// A new random UUID, e.g. `dc1b77ae-0bf3-4dad-a4f0-eeb9026e6076`.
    public static func generate() -> String {
        let text = newText()
        // 36 ASCII bytes: validation cannot fail.
        return String(copying: try! UTF8Span(validating: text.span))
    }

    /// Appends a new random UUID's 36 characters to `buffer`.
    public static func append(to buffer: inout [UInt8]) {
        let text = newText()
        buffer.reserveCapacity(buffer.count + 36)
        for index in text.indices { buffer.append(text[index]) }
    }

    /// Calls `body` with the 36 bytes of a new random UUID (borrowed for the call only).
    public static func withNewID<Result>(_ body: (Span<UInt8>) throws -> Result) rethrows -> Result {
        let text = newText()
        return try body(text.span)
    }

    /// 36 characters: 8-4-4-4-12 lowercase hex digits of a version 4 UUID.
    private static func newText() -> InlineArray<36, UInt8> {
        let (high, low) = pool.withLock { $0.next128() }
        // Version 4 and RFC 4122 variant bits.
        let a = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let b = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        var text = InlineArray<36, UInt8>(repeating: UInt8(ascii: "-"))
        var position = 0
        func hex(_ value: UInt64, _ digits: Int) {
            var shift = (digits - 1) * 4
            while shift >= 0 {
                let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
                text[position] = nibble < 10 ? nibble &+ 48 : nibble &+ 87
                position += 1
                shift -= 4
            }
        }
        hex(a >> 32, 8)
        position += 1
        hex(a >> 16, 4)
        position += 1
        hex(a, 4)
        position += 1
        hex(b >> 48, 4)
        position += 1
        hex(b, 12)
        return text
    }
}

/// A block of kernel randomness handed out 16 bytes at a time.
private struct RandomPool {
    private static let blockSize = 4096
    private var bytes: [UInt8] = []
    private var position = 0

    mutating func next128() -> (UInt64, UInt64) {
        if position + 16 > bytes.count { refill() }
        defer { position += 16 }
        let block = bytes.span
        var high: UInt64 = 0
        var low: UInt64 = 0
        for offset in 0..<8 {
            high = high << 8 | UInt64(block[position + offset])
            low = low << 8 | UInt64(block[position + 8 + offset])
        }
        return (high, low)
    }

    private mutating func refill() {
        var block: [UInt8] = []
        if let file = FileHandle(forReadingAtPath: "/dev/urandom") {
            defer { try? file.close() }
            if let data = try? file.read(upToCount: Self.blockSize) { block = [UInt8](data) }
        }
        if block.count < Self.blockSize {
            // No /dev/urandom (a bare container), or a short read: the standard library's
            // generator, which uses getrandom(2) per call, rather than a predictable id.
            var generator = SystemRandomNumberGenerator()
            block.reserveCapacity(Self.blockSize)
            while block.count < Self.blockSize {
                let word: UInt64 = generator.next()
                for shift in stride(from: 0, to: 64, by: 8) { block.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
            }
        }
        bytes = block
        position = 0
    }
}
