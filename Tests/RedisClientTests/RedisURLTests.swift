import Testing

@testable import RedisClient

@Suite("Redis URLs")
struct RedisURLTests {
    @Test func tcpWithEverything() throws {
        let config = try RedisConfiguration(url: "redis://alice:s%40cret@redis.internal:6380/2")
        #expect(config.endpoint == .tcp(host: "redis.internal", port: 6380))
        #expect(config.username == "alice")
        #expect(config.password == "s@cret")
        #expect(config.database == 2)
    }

    @Test func tcpDefaults() throws {
        let config = try RedisConfiguration(url: "redis://localhost")
        #expect(config.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(config.username == nil && config.password == nil && config.database == 0)
    }

    @Test func passwordOnly() throws {
        #expect(try RedisConfiguration(url: "redis://:pw@h").password == "pw")
        #expect(try RedisConfiguration(url: "redis://:pw@h").username == nil)
        #expect(try RedisConfiguration(url: "redis://pw@h:1").password == "pw")
    }

    @Test func ipv6() throws {
        let config = try RedisConfiguration(url: "redis://[::1]:7000/1")
        #expect(config.endpoint == .tcp(host: "::1", port: 7000))
        #expect(config.database == 1)
    }

    @Test func unixSocket() throws {
        let config = try RedisConfiguration(url: "unix:///var/run/redis/redis.sock?db=4")
        #expect(config.endpoint == .unixSocket(path: "/var/run/redis/redis.sock"))
        #expect(config.database == 4)
        let withAuth = try RedisConfiguration(url: "unix://bob:pw@/tmp/r.sock?db=1")
        #expect(withAuth.username == "bob" && withAuth.password == "pw")
        #expect(withAuth.endpoint == .unixSocket(path: "/tmp/r.sock"))
    }

    @Test(arguments: [
        ("localhost:6379", "missing scheme"),
        ("http://localhost", "unknown scheme 'http'"),
        ("rediss://localhost", "TLS"),
        ("redis://", "missing host"),
        ("redis://host:0", "invalid port '0'"),
        ("redis://host:99999", "invalid port '99999'"),
        ("redis://host:abc", "invalid port 'abc'"),
        ("redis://host/x", "invalid database 'x'"),
        ("redis://host/-1", "invalid database '-1'"),
        ("redis://host?db=1", "query parameters"),
        ("redis://[::1", "unclosed '['"),
        ("unix://", "missing socket path"),
        ("unix:///tmp/r.sock?db=a", "invalid database 'a'"),
        ("unix:///tmp/r.sock?foo=1", "unknown query parameter 'foo'"),
        ("redis://u:%zz@host", "invalid percent-escape"),
    ])
    func malformedURLsNameTheProblem(url: String, expected: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .invalidURL)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func errorsNeverShowThePassword() {
        do {
            _ = try RedisConfiguration(url: "redis://alice:topsecret@host:notaport")
            Issue.record("accepted")
        } catch {
            #expect(!error.message.contains("topsecret"))
            #expect(error.message.contains("alice:***@"))
        }
        let config = RedisConfiguration(endpoint: .tcp(host: "h", port: 1), username: "u", password: "p")
        #expect(config.redactedURL == "redis://u:***@h:1/0")
    }

    @Test func entryIDs() {
        #expect(StreamEntryID("1732500000000-7") == StreamEntryID(milliseconds: 1_732_500_000_000, sequence: 7))
        #expect(StreamEntryID("5") == StreamEntryID(milliseconds: 5, sequence: 0))
        #expect(StreamEntryID("1-2-3") == nil)
        #expect(StreamEntryID("") == nil)
        #expect(StreamEntryID("x-1") == nil)
        #expect(StreamEntryID("99999999999999999999-1") == nil)
        #expect(StreamEntryID("1-2")! < StreamEntryID("1-10")!)
        #expect(StreamEntryID("3-4")!.description == "3-4")
    }

    @Test func commandEncoding() {
        var command = RedisCommand("SET", "key", "välue")
        command.append(-42)
        var bytes: [UInt8] = []
        command.encode(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nvälue\r\n$3\r\n-42\r\n")
    }
}
