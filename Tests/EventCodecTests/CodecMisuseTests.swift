import EventCodec
import Foundation
import Testing

/// Types that keep the decoder, encoder or containers they were given and use them later
/// (after `init(from:)`/`encode(to:)` returned, or while another value is being coded) get
/// a correct value or a thrown error, never a crash or a read of freed memory.
@Suite struct CodecMisuseTests {
    static let encoder = EventDataEncoder()
    static let decoder = EventDataDecoder()

    // MARK: - Decoding

    /// Keeps everything `init(from:)` was given.
    struct Keeper: Decodable {
        enum K: String, CodingKey { case name, values, child, stamp, id }
        enum C: String, CodingKey { case x }
        let decoder: any Decoder
        let keyed: KeyedDecodingContainer<K>
        let nested: KeyedDecodingContainer<C>
        var unkeyed: any UnkeyedDecodingContainer
        let single: any SingleValueDecodingContainer
        let superDecoder: any Decoder

        init(from decoder: any Decoder) throws {
            self.decoder = decoder
            keyed = try decoder.container(keyedBy: K.self)
            nested = try keyed.nestedContainer(keyedBy: C.self, forKey: .child)
            unkeyed = try keyed.nestedUnkeyedContainer(forKey: .values)
            single = try decoder.singleValueContainer()
            superDecoder = try keyed.superDecoder(forKey: .child)
        }
    }

    static let keeperJSON = #"{"name":"kept \u00e9","values":[1,2,3],"child":{"x":2.5},"stamp":"2026-11-25T01:02:38.523845Z","id":"3F2504E0-4F89-41D3-9A0C-0305E82C3301"}"#

    @Test func decoderAndContainersKeptAfterDecodingStillReadTheirDocument() throws {
        var kept = try Self.decoder.decode(Keeper.self, from: Array(Self.keeperJSON.utf8))
        // Decode something else in between, so that freed memory would have been reused.
        for i in 0..<100 { _ = try Self.decoder.decode([String].self, from: Array(#"["\#(i)","xxxxxxxxxxxxxxxx"]"#.utf8)) }

        #expect(try kept.keyed.decode(String.self, forKey: .name) == "kept é")
        #expect(try kept.keyed.decode(Date.self, forKey: .stamp) == RFC3339.date(from: "2026-11-25T01:02:38.523845Z"))
        #expect(try kept.keyed.decode(UUID.self, forKey: .id).uuidString == "3F2504E0-4F89-41D3-9A0C-0305E82C3301")
        #expect(try kept.keyed.decode([Int].self, forKey: .values) == [1, 2, 3])
        #expect(kept.keyed.allKeys.map(\.stringValue) == ["name", "values", "child", "stamp", "id"])
        #expect(try kept.nested.decode(Double.self, forKey: .x) == 2.5)
        #expect(kept.nested.codingPath.map(\.stringValue) == ["child"])
        #expect(try kept.unkeyed.decode(Int.self) == 1)
        #expect(try kept.unkeyed.decode(Int.self) == 2)
        #expect(try kept.unkeyed.decode(Int.self) == 3)
        #expect(kept.unkeyed.isAtEnd)
        #expect(throws: DecodingError.self) { try kept.unkeyed.decode(Int.self) }
        #expect(throws: DecodingError.self) { try kept.single.decode(String.self) }
        #expect(try kept.superDecoder.container(keyedBy: Keeper.C.self).decode(Double.self, forKey: .x) == 2.5)
        #expect(throws: DecodingError.self) { try kept.keyed.decode(Int.self, forKey: .name) }

        // The kept decoder can decode the whole value again.
        let again = try Keeper(from: kept.decoder)
        #expect(try again.keyed.decode(String.self, forKey: .name) == "kept é")
    }

    @Test func keptDecoderIsIndependentOfLaterDecodeCalls() throws {
        let first = try Self.decoder.decode(Keeper.self, from: Array(Self.keeperJSON.utf8))
        let other = Self.keeperJSON.replacingOccurrences(of: "kept", with: "next")
        let second = try Self.decoder.decode(Keeper.self, from: Array(other.utf8))
        #expect(try first.keyed.decode(String.self, forKey: .name) == "kept é")
        #expect(try second.keyed.decode(String.self, forKey: .name) == "next é")
    }

    /// Uses the decoder it kept from an earlier decode call while a new one runs.
    final class CrossTalk: Decodable {
        // Only the one test below touches it, on one thread.
        nonisolated(unsafe) static var previous: (any Decoder)?
        let name: String
        let previousName: String?

        enum K: String, CodingKey { case name }

        required init(from decoder: any Decoder) throws {
            name = try decoder.container(keyedBy: K.self).decode(String.self, forKey: .name)
            previousName = try Self.previous.map { try $0.container(keyedBy: K.self).decode(String.self, forKey: .name) }
            Self.previous = decoder
        }
    }

    @Test func decoderKeptFromAnEarlierCallWorksDuringALaterOne() throws {
        CrossTalk.previous = nil
        defer { CrossTalk.previous = nil }
        let a = try Self.decoder.decode(CrossTalk.self, from: Array(#"{"name":"a"}"#.utf8))
        let b = try Self.decoder.decode(CrossTalk.self, from: Array(#"{"name":"b"}"#.utf8))
        #expect(a.previousName == nil)
        #expect(b.name == "b" && b.previousName == "a")
    }

    // MARK: - Encoding

    /// Keeps its encoder and containers so the test can use them later.
    final class Stash {
        var encoder: (any Encoder)?
        var keyed: KeyedEncodingContainer<Leaky.K>?
        var unkeyed: (any UnkeyedEncodingContainer)?
        var single: (any SingleValueEncodingContainer)?
    }

    struct Leaky: Encodable {
        enum K: String, CodingKey { case a, b, list }
        let stash: Stash
        func encode(to encoder: any Encoder) throws {
            stash.encoder = encoder
            var c = encoder.container(keyedBy: K.self)
            try c.encode(1, forKey: .a)
            stash.unkeyed = c.nestedUnkeyedContainer(forKey: .list)
            try stash.unkeyed?.encode("x")
            stash.keyed = c
        }
    }

    struct Scalar: Encodable {
        let stash: Stash
        func encode(to encoder: any Encoder) throws {
            stash.encoder = encoder
            var c = encoder.singleValueContainer()
            try c.encode("v")
            stash.single = c
        }
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func encoderAndContainersKeptAfterEncodingThrow() throws {
        let stash = Stash()
        #expect(Self.text(try Self.encoder.encode(Leaky(stash: stash))) == #"{"a":1,"list":["x"]}"#)

        #expect(throws: EncodingError.self) { try stash.keyed?.encode(2, forKey: .b) }
        #expect(throws: EncodingError.self) { try stash.keyed?.encode("s", forKey: .b) }
        #expect(throws: EncodingError.self) { try stash.keyed?.encode([1], forKey: .b) }
        #expect(throws: EncodingError.self) { try stash.unkeyed?.encode(1) }
        #expect(stash.unkeyed?.count == 0)
        var nested = stash.keyed?.nestedContainer(keyedBy: Leaky.K.self, forKey: .b)
        #expect(throws: EncodingError.self) { try nested?.encode(1, forKey: .a) }
        let encoder = try #require(stash.encoder)
        #expect(encoder.codingPath.isEmpty)
        var keyed = encoder.container(keyedBy: Leaky.K.self)
        #expect(throws: EncodingError.self) { try keyed.encode(true, forKey: .a) }
        var unkeyed = encoder.unkeyedContainer()
        #expect(throws: EncodingError.self) { try unkeyed.encodeNil() }
        var single = encoder.singleValueContainer()
        #expect(throws: EncodingError.self) { try single.encode(1.5) }
        let sup = stash.keyed?.superEncoder()
        var supKeyed = sup?.container(keyedBy: Leaky.K.self)
        #expect(throws: EncodingError.self) { try supKeyed?.encode(1, forKey: .a) }

        let scalarStash = Stash()
        #expect(Self.text(try Self.encoder.encode(Scalar(stash: scalarStash))) == #""v""#)
        #expect(throws: EncodingError.self) { try scalarStash.single?.encode("again") }
    }

    /// Writes through the encoder it kept from an earlier encode call.
    final class Replayer: Encodable {
        var previous: (any Encoder)?
        enum K: String, CodingKey { case n }
        func encode(to encoder: any Encoder) throws {
            if let previous {
                var old = previous.container(keyedBy: K.self)
                try old.encode(1, forKey: .n)
            }
            previous = encoder
            var c = encoder.container(keyedBy: K.self)
            try c.encode(2, forKey: .n)
        }
    }

    @Test func encoderKeptFromAnEarlierCallThrowsDuringALaterOne() throws {
        let replayer = Replayer()
        #expect(Self.text(try Self.encoder.encode(replayer)) == #"{"n":2}"#)
        var buffer = Array("keep:".utf8)
        #expect(throws: EncodingError.self) { try Self.encoder.encode(replayer, into: &buffer) }
        #expect(Self.text(buffer) == "keep:")
    }

    /// Keeps writing to its parent's container after the parent moved on.
    struct Child: Encodable {
        let parent: Stash
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Leaky.K.self)
            try c.encode(1, forKey: .a)
            try parent.keyed?.encode(2, forKey: .b)  // the parent's container, from inside a child
        }
    }

    struct Parent: Encodable {
        let stash: Stash
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Leaky.K.self)
            stash.keyed = c
            var list = c.nestedUnkeyedContainer(forKey: .list)
            let inner = c  // the outer container, used again after its nested one moved on
            try list.encode(Child(parent: stash))
            var again = inner
            try again.encode(3, forKey: .a)
            try list.encode(4)  // `list` was closed when `again` wrote: throws
        }
    }

    @Test func containerUsedAfterItsParentMovedOnThrows() throws {
        #expect(throws: EncodingError.self) { try Self.encoder.encode(Parent(stash: Stash())) }
    }

    struct TwoValues: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(1)
            try c.encode(2)
        }
    }

    struct KeyedAfterValue: Encodable {
        enum K: CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            try single.encode(1)
            var keyed = encoder.container(keyedBy: K.self)  // cannot throw: the encode call does
            try? keyed.encode(1, forKey: .a)
        }
    }

    @Test func misuseInsideOneEncodeThrowsWithAMessage() throws {
        #expect(throws: EncodingError.self) { try Self.encoder.encode(TwoValues()) }
        do {
            _ = try Self.encoder.encode([KeyedAfterValue()])
            Issue.record("expected an error")
        } catch EncodingError.invalidValue(_, let context) {
            #expect(context.debugDescription.contains("keyed container where a value was already encoded"))
        }
    }

    /// Encodes another value with a new encoder from inside its own `encode(to:)`.
    struct Reentrant: Encodable {
        enum K: String, CodingKey { case inner, n }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(1, forKey: .n)
            let inner = try EventDataEncoder().encode(["nested": [1, 2]])
            try c.encode(String(decoding: inner, as: UTF8.self), forKey: .inner)
        }
    }

    @Test func reentrantEncodeCallsAreIndependent() throws {
        #expect(Self.text(try Self.encoder.encode(Reentrant())) == #"{"n":1,"inner":"{\"nested\":[1,2]}"}"#)
    }
}
