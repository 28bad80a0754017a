@testable import RedisClient
import Testing

@Suite("Cluster routing: command keys, redirections, seed URLs, slot maps")
struct ClusterRoutingTests {
    @Test func aCommandRunsWhereItsFirstKeyLives() {
        func slot(_ key: String) -> CommandRoute { .slot(RedisHashSlot.slot(of: key)) }
        #expect(RedisCommand("XADD", "todo-events:{p2}", "*", "a", "b").route == slot("p2"))
        #expect(RedisCommand("GET", "k").route == slot("k"))
        #expect(RedisCommand("EVALSHA", "abc", "2", "s:{p1}", "m:{p1}", "x").route == slot("p1"))
        #expect(RedisCommand("EVALSHA", "abc", "0", "x").route == .anyNode)
        #expect(RedisCommand("XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK", "5", "STREAMS", "s{x}", ">").route == slot("x"))
        #expect(RedisCommand("xreadgroup", "group", "g", "c", "streams", "abc", ">").route == slot("abc"))
        #expect(RedisCommand("XGROUP", "CREATE", "stream-a", "g", "$", "MKSTREAM").route == slot("stream-a"))
        #expect(RedisCommand("XINFO", "GROUPS", "stream-b").route == slot("stream-b"))
        #expect(RedisCommand("MEMORY", "USAGE", "k2").route == slot("k2"))
        #expect(RedisCommand("SCRIPT", "LOAD", "return 1").route == .everyMaster)
        for keyless in ["PING", "MULTI", "EXEC", "WAIT", "INFO", "CLIENT", "SCAN", "CLUSTER", "TIME"] {
            #expect(RedisCommand(keyless, "0").route == .anyNode, "\(keyless)")
        }
        #expect(RedisCommand("XADD", "todo-events:{p2}").name == "XADD")
    }

    @Test func redirectionsAreReadFromErrorReplies() {
        #expect(ClusterRedirection("MOVED 3999 127.0.0.1:6381") == .moved(slot: 3999, endpoint: .tcp(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirection("ASK 3999 10.0.0.2:7000") == .ask(slot: 3999, endpoint: .tcp(host: "10.0.0.2", port: 7000)))
        #expect(ClusterRedirection("MOVED 1 [::1]:7001") == .moved(slot: 1, endpoint: .tcp(host: "::1", port: 7001)))
        #expect(
            ClusterRedirection("MOVED 12 :7002")?.resolvingHost(from: .tcp(host: "10.1.1.1", port: 7000))
                == .moved(slot: 12, endpoint: .tcp(host: "10.1.1.1", port: 7002)))
        #expect(ClusterRedirection("TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(ClusterRedirection("CLUSTERDOWN The cluster is down") == .tryAgain)
        #expect(ClusterRedirection("LOADING Redis is loading the dataset in memory") == .tryAgain)
        #expect(ClusterRedirection("ERR unknown command") == nil)
        #expect(ClusterRedirection("MOVED nonsense") == nil)
        #expect(ClusterRedirection("WRONGTYPE Operation against a key") == nil)
    }

    @Test func aURLMayListSeveralSeedNodes() throws {
        let configuration = try RedisConfiguration(url: "redis://app:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]")
        #expect(configuration.seeds == [.tcp(host: "10.0.0.1", port: 7000), .tcp(host: "10.0.0.2", port: 7001), .tcp(host: "::1", port: 6379)])
        #expect(configuration.endpoint == .tcp(host: "10.0.0.1", port: 7000))
        #expect(configuration.cluster == .always)
        #expect(configuration.username == "app" && configuration.password == "secret")
        #expect(configuration.redactedURL == "redis://app:***@10.0.0.1:7000,10.0.0.2:7001,[::1]:6379/0")
        let single = try RedisConfiguration(url: "redis://10.0.0.1:7000")
        #expect(single.seeds == [.tcp(host: "10.0.0.1", port: 7000)] && single.cluster == .automatic)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h1:7000,h2:7001/3") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h1:7000,,h2:7001") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h1:7000,h2:notaport") }
    }

    @Test func theSlotMapIsReadFromClusterSlots() throws {
        let reply = RedisReply.array([
            .array([.integer(0), .integer(5460), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7000), .bulkString(Array("id1".utf8))]),
                .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7003)])]),
            .array([.integer(5461), .integer(10922), .array([.bulkString([]), .integer(7001)])]),
            .array([.integer(10923), .integer(16383), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7002)])]),
        ])
        let map = try ClusterSlotMap(reply: reply, answeredBy: .tcp(host: "10.9.9.9", port: 7000))
        #expect(map.masters == [.tcp(host: "127.0.0.1", port: 7000), .tcp(host: "10.9.9.9", port: 7001), .tcp(host: "127.0.0.1", port: 7002)])
        #expect(map.slots[0] == 0 && map.slots[5460] == 0 && map.slots[5461] == 1 && map.slots[16383] == 2)
        #expect(throws: RedisError.self) { try ClusterSlotMap(reply: .array([]), answeredBy: .tcp(host: "h", port: 1)) }
        #expect(throws: RedisError.self) { try ClusterSlotMap(reply: .error("ERR This instance has cluster support disabled"), answeredBy: .tcp(host: "h", port: 1)) }
        #expect(throws: RedisError.self) { try ClusterSlotMap(reply: .array([.array([.integer(0)])]), answeredBy: .tcp(host: "h", port: 1)) }
    }
}
