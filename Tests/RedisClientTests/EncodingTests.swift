import Testing

@testable import RedisClient

/// RESP encoding of commands and stream ids, without a server.
@Suite("Command encoding and stream ids")
struct EncodingTests {
    private func encoded(_ command: RedisCommand) -> String {
        var buffer: [UInt8] = []
        command.encode(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func commandsAreRESPArraysOfBulkStrings() {
        #expect(encoded(RedisCommand("PING")) == "*1\r\n$4\r\nPING\r\n")
        #expect(encoded(RedisCommand("SET", "k", "")) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
        var command = RedisCommand("XADD", "s")
        command.append(-42)
        command.append(Int.max)
        command.append([0, 13, 10] as [UInt8])
        command.append("é")
        #expect(command.argumentCount == 6)
        #expect(encoded(command) == "*6\r\n$4\r\nXADD\r\n$1\r\ns\r\n$3\r\n-42\r\n$19\r\n9223372036854775807\r\n$3\r\n\u{0}\r\n\r\n$2\r\né\r\n")
        var wrapper = RedisCommand("EVALSHA", "sha", "0")
        wrapper.append(argumentsOf: RedisCommand("HSET", "h", "f", "v"))
        #expect(wrapper.argumentCount == 7)
        #expect(encoded(wrapper).hasPrefix("*7\r\n$7\r\nEVALSHA\r\n"))
        #expect(encoded(wrapper).hasSuffix("$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n"))
    }

    @Test func countedArgumentsAreACountThenTheArguments() {
        var script = RedisCommand("EVALSHA", "sha", "0")
        script.append(countedPairs: [("a", "1"), ("b", "")])
        script.append(countedArgumentsOf: RedisCommand("DEL", "k"))
        script.append(countedPairs: [])
        #expect(script.argumentCount == 3 + 5 + 3 + 1)
        #expect(
            encoded(script).hasSuffix(
                "$1\r\n4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n$1\r\n2\r\n$3\r\nDEL\r\n$1\r\nk\r\n$1\r\n0\r\n"))
    }

    @Test func decimalFormattingCoversTheWholeRange() {
        for value in [0, 9, 10, -1, 1_234_567, Int.min, Int.max] {
            var buffer: [UInt8] = []
            DecimalFormatting.append(value, to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == "\(value)")
        }
    }

    @Test func streamIDsParseCompareAndPrint() throws {
        let id = try #require(StreamEntryID("1700000000000-5"))
        #expect(id.milliseconds == 1_700_000_000_000 && id.sequence == 5)
        #expect(id.description == "1700000000000-5")
        #expect(StreamEntryID("12") == StreamEntryID(milliseconds: 12, sequence: 0))
        for bad in ["", "-", "1-", "-1", "a-1", "1-b", "1-2-3", "18446744073709551616-0", " 1-0"] {
            #expect(StreamEntryID(bad) == nil, "'\(bad)'")
        }
        let ordered = ["0-1", "1-0", "1-1", "2-0", "10-0"].compactMap(StreamEntryID.init)
        #expect(ordered == ordered.shuffled().sorted())
    }
}
