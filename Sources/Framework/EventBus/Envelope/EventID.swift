#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random (version 4) UUIDs for event and correlation ids, in lowercase text.
///
/// Random bytes come from the kernel's CSPRNG (`/dev/urandom`) in 4 KiB blocks, so an id
/// costs a few hundred nanoseconds instead of a file read per id.
public enum EventID {
    private static let pool = Mutex(RandomPool())

    /// A new random UUID, e.g. `dc1b77ae-0bf3-4dad-a4f0-eeb9026e6076`.
    public static func generate() -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            write(into: UnsafeMutableRawBufferPointer(buffer))
            return 36
        }
    }

    /// Appends a new random UUID's 36 characters to `buffer`.
    public static func append(to buffer: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { text in
            write(into: UnsafeMutableRawBufferPointer(text))
            buffer.append(contentsOf: text)
        }
    }

    /// Calls `body` with the 36 bytes of a new random UUID.
    public static func withNewID<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { text in
            write(into: UnsafeMutableRawBufferPointer(text))
            return try body(UnsafeRawBufferPointer(text))
        }
    }

    /// Writes 36 characters: 8-4-4-4-12 lowercase hex digits of a version 4 UUID.
    private static func write(into text: UnsafeMutableRawBufferPointer) {
        let (high, low) = pool.withLock { $0.next128() }
        // Version 4 and RFC 4122 variant bits.
        let a = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let b = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
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
        func dash() {
            text[position] = UInt8(ascii: "-")
            position += 1
        }
        hex(a >> 32, 8)
        dash()
        hex(a >> 16, 4)
        dash()
        hex(a, 4)
        dash()
        hex(b >> 48, 4)
        dash()
        hex(b, 12)
    }
}

/// A block of kernel randomness handed out 16 bytes at a time.
private struct RandomPool {
    private var words: [UInt64] = Array(repeating: 0, count: 512)
    private var position = 512

    mutating func next128() -> (UInt64, UInt64) {
        if position + 2 > words.count { refill() }
        defer { position += 2 }
        return (words[position], words[position + 1])
    }

    private mutating func refill() {
        words.withUnsafeMutableBytes { raw in
            var filled = 0
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                while filled < raw.count {
                    let count = read(fd, raw.baseAddress! + filled, raw.count - filled)
                    if count > 0 {
                        filled += count
                    } else if count == 0 || errno != EINTR {
                        break
                    }
                }
            }
            if filled < raw.count {
                // No /dev/urandom (a bare container): the standard library's generator, which
                // uses getrandom(2) per call, rather than a predictable id.
                var generator = SystemRandomNumberGenerator()
                for index in filled..<raw.count { raw[index] = generator.next() }
            }
        }
        position = 0
    }
}
