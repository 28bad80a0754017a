import RedisClient
import Testing

@Suite("Hash slots (Redis Cluster's CRC16 key mapping)")
struct HashSlotTests {
    @Test func crc16MatchesThePublishedCheckValue() {
        // CRC-16/XMODEM's check value, as in Redis's crc16.c test.
        #expect(RedisHashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
    }

    @Test func slotsMatchRedisDocumentation() {
        // `CLUSTER KEYSLOT somekey` and `CLUSTER KEYSLOT foo{hash_tag}` in the Redis docs.
        #expect(RedisHashSlot.slot(of: "somekey") == 11058)
        #expect(RedisHashSlot.slot(of: "foo{hash_tag}") == 2515)
    }

    @Test func aHashTagChoosesTheSlot() {
        #expect(RedisHashSlot.slot(of: "{user1000}.following") == RedisHashSlot.slot(of: "{user1000}.followers"))
        #expect(RedisHashSlot.slot(of: "todo-events:{p3}") == RedisHashSlot.slot(of: "p3"))
        // Only the first {...} counts; an empty one means the whole key is hashed.
        #expect(RedisHashSlot.slot(of: "a{b}{c}") == RedisHashSlot.slot(of: "b"))
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") == RedisHashSlot.slot(of: "foo{}{bar}"))
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") != RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "foo{{bar}}zap") == RedisHashSlot.slot(of: "{bar"))
        #expect(RedisHashSlot.slot(of: "foo{bar") == RedisHashSlot.slot(of: "foo{bar"))
        #expect((0..<RedisHashSlot.count).contains(RedisHashSlot.slot(of: "")))
    }
}
