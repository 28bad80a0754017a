/// Redis Cluster's key-to-slot mapping: `CRC16(key) mod 16384` (CRC-16/XMODEM), where a key
/// holding a non-empty `{...}` hashes only what is between its first `{` and the next `}`
/// (the hash tag), so keys sharing a tag share a slot.
public enum RedisHashSlot {
    /// Slots in a cluster.
    public static let count = 16384

    /// The slot of `key`.
    public static func slot(of key: String) -> Int {
        var key = key
        return key.withUTF8 { slot(ofBytes: $0) }
    }

    /// The slot of a key given as bytes.
    public static func slot(ofBytes key: some Collection<UInt8>) -> Int {
        Int(crc16(hashedPart(of: key)) & 0x3FFF)
    }

    /// The part of `key` that is hashed: its hash tag when it has a non-empty one.
    static func hashedPart<Bytes: Collection<UInt8>>(of key: Bytes) -> Bytes.SubSequence {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else {
            return key[...]
        }
        return key[afterOpen..<close]
    }

    /// CRC-16/XMODEM (polynomial 0x1021, initial value 0), as in Redis's `crc16.c`.
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
