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
        var text: [UInt8] = []
        text.reserveCapacity(36)
        append(to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends a new random UUID's 36 characters to `buffer`.
    public static func append(to buffer: inout [UInt8]) {
        let (high, low) = pool.withLock { $0.next128() }
        // Version 4 and RFC 4122 variant bits.
        let a = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let b = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        appendHex(a >> 32, digits: 8, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendHex(a >> 16, digits: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendHex(a, digits: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendHex(b >> 48, digits: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendHex(b, digits: 12, to: &buffer)
    }

    private static func appendHex(_ value: UInt64, digits: Int, to buffer: inout [UInt8]) {
        let alphabet: StaticString = "0123456789abcdef"
        alphabet.withUTF8Buffer { hex in
            var shift = (digits - 1) * 4
            while shift >= 0 {
                buffer.append(hex[Int((value >> UInt64(shift)) & 0xF)])
                shift -= 4
            }
        }
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
