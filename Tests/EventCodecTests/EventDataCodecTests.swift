import Foundation
import Testing
import EventCodec

/// Tests of EventDataEncoder, EventDataDecoder and RFC3339; fixtures are nested here so
/// their names cannot clash with other tests in the module.
@Suite struct EventDataCodecTests {
    // MARK: - Fixtures

    struct Inner: Codable, Equatable {
        var name: String
        var values: [Int]
    }

    enum Color: String, Codable { case red, green }
    enum Level: Int, Codable { case low = 1, high = 9 }

    struct Everything: Codable, Equatable {
        var string: String
        var bool: Bool
        var int: Int
        var int8: Int8
        var int16: Int16
        var int32: Int32
        var int64: Int64
        var uint: UInt
        var uint8: UInt8
        var uint16: UInt16
        var uint32: UInt32
        var uint64: UInt64
        var float: Float
        var double: Double
        var date: Date
        var uuid: UUID
        var url: URL
        var data: Data
        var optionalSome: String?
        var optionalNone: Int?
        var optionalDate: Date?
        var strings: [String]
        var nested: Inner
        var nestedArray: [Inner]
        var matrix: [[Double]]
        var dictionary: [String: Int]
        var intKeyed: [Int: String]
        var optionals: [Int?]
        var color: Color
        var level: Level
        var empty: [String]
        var emptyDictionary: [String: Bool]

        static let sample = Everything(
            string: "héllo \"wörld\" \\ / 😀",
            bool: true, int: -42, int8: .min, int16: .max, int32: -123_456, int64: .min,
            uint: 7, uint8: .max, uint16: 65_535, uint32: .max, uint64: .max,
            float: 3.25, double: 0.1,
            date: RFC3339.date(from: "2026-11-25T01:02:38.523845Z")!,
            uuid: UUID(uuidString: "3F2504E0-4F89-41D3-9A0C-0305E82C3301")!,
            url: URL(string: "https://example.com/a/b?c=d&e=f#g")!,
            data: Data([0, 1, 2, 250, 251, 252, 253]),
            optionalSome: "present", optionalNone: nil,
            optionalDate: RFC3339.date(from: "1969-07-20T20:17:40Z")!,
            strings: ["a", "", "c\n"],
            nested: Inner(name: "inner", values: [1, 2, 3]),
            nestedArray: [Inner(name: "x", values: []), Inner(name: "y", values: [-1])],
            matrix: [[1.5, -2.25], [], [1e-7, 1e300]],
            dictionary: ["one": 1, "two": 2],
            intKeyed: [1: "a", -5: "b"],
            optionals: [1, nil, 3],
            color: .green, level: .high, empty: [], emptyDictionary: [:])
    }

    /// The event struct from the performance check.
    struct TodoCreated: Codable, Equatable {
        let todoID: String
        let userID: String
        let title: String
        let description: String
        let priority: Int
        let sentNs: UInt64
        let createdAt: Date
        enum CodingKeys: String, CodingKey {
            case todoID = "todo_id", userID = "user_id", title, description, priority
            case sentNs = "sent_ns", createdAt = "created_at"
        }
    }

    /// A Date-free struct for comparisons with Foundation.
    struct Plain: Codable, Equatable {
        var id: String
        var count: Int
        var big: UInt64
        var ratio: Double
        var small: Float
        var flag: Bool
        var tags: [String]
        var note: String?
        var child: Child?
        struct Child: Codable, Equatable { var a: Int8; var b: [Double] }
    }

    static let encoder = EventDataEncoder()
    static let decoder = EventDataDecoder()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(type, from: Array(text.utf8))
    }

    /// The `Date` for a microsecond timestamp (via the public RFC 3339 API).
    static func dateAt(_ micros: Int64) -> Date {
        RFC3339.date(from: RFC3339.string(microsecondsSinceEpoch: micros))!
    }

    /// `date` rounded to microseconds (via the public RFC 3339 API).
    static func microsOf(_ date: Date) -> Int64 {
        RFC3339.parseMicroseconds(RFC3339.string(from: date))!
    }

    static func pathString(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    // MARK: - Encoder

    @Suite struct Encoding {
        @Test func roundTripsEveryType() throws {
            let bytes = try encoder.encode(Everything.sample)
            let back = try decoder.decode(Everything.self, from: bytes)
            #expect(back == Everything.sample)
        }

        @Test func writesCompactJSONInDeclarationOrder() throws {
            let event = TodoCreated(todoID: "t1", userID: "u1", title: "Buy milk", description: "2 l",
                                    priority: 3, sentNs: 1_795_000_000_123_456_789,
                                    createdAt: RFC3339.date(from: "2026-11-25T01:02:38.523845Z")!)
            #expect(try json(event) == #"{"todo_id":"t1","user_id":"u1","title":"Buy milk","description":"2 l","priority":3,"sent_ns":1795000000123456789,"created_at":"2026-11-25T01:02:38.523845Z"}"#)
            #expect(try decoder.decode(TodoCreated.self, from: encoder.encode(event)) == event)
        }

        @Test func escapesOnlyWhatJSONRequires() throws {
            let text = "q\"b\\s/n\nt\tr\rb\u{8}f\u{C}z\u{0}x\u{1F}e\u{7F}é😀"
            #expect(try json(text) == #""q\"b\\s/n\nt\tr\rb\bf\fz\u0000x\u001fe"# + "\u{7F}é😀\"")
            #expect(try decode(String.self, json(text)) == text)
            // Long strings exercise the 8-byte scanning paths.
            let long = String(repeating: "abcdefgh", count: 9) + "\"" + String(repeating: "é", count: 9)
            #expect(try decode(String.self, json(long)) == long)
            #expect(try json("12345678") == #""12345678""#)
        }

        @Test func topLevelValuesOfAnyKind() throws {
            #expect(try json(5) == "5")
            #expect(try json(-0.5) == "-0.5")
            #expect(try json("s") == #""s""#)
            #expect(try json(true) == "true")
            #expect(try json([1, 2]) == "[1,2]")
            #expect(try json(Int?.none) == "null")
            #expect(try json([String: Int]()) == "{}")
            #expect(try json([[Int]]()) == "[]")
        }

        @Test func numbersUseShortestRoundTripText() throws {
            #expect(try json([1.0, 0.1, 1e-7, 123456789.125, -0.0]) == "[1.0,0.1,1e-07,123456789.125,-0.0]")
            #expect(try json(Float(0.1)) == "0.1")
            #expect(try json([Int64.min, Int64.max]) == "[-9223372036854775808,9223372036854775807]")
            #expect(try json(UInt64.max) == "18446744073709551615")
            #expect(try json([0, 9, 10, 99, 100, 1000, -1]) == "[0,9,10,99,100,1000,-1]")
            for value in [Double.greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude, .pi, 1e21] {
                #expect(try decode(Double.self, json(value)) == value)
            }
        }

        @Test func nonFiniteNumbersThrowWithCodingPath() throws {
            struct Holder: Encodable { var items: [Inner2] }
            struct Inner2: Encodable { var x: Double }
            do {
                _ = try encoder.encode(Holder(items: [Inner2(x: 1), Inner2(x: .nan)]))
                Issue.record("expected an error")
            } catch EncodingError.invalidValue(_, let context) {
                #expect(pathString(context.codingPath) == "items.[1].x")
            }
            #expect(throws: EncodingError.self) { try encoder.encode(Float.infinity) }
            #expect(throws: EncodingError.self) { try encoder.encode(["a": -Double.infinity]) }
        }

        @Test func appendsIntoBufferAndLeavesItUntouchedOnError() throws {
            var buffer = Array("data=".utf8)
            try encoder.encode([1, 2], into: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == "data=[1,2]")
            #expect(throws: EncodingError.self) { try encoder.encode([Double.nan], into: &buffer) }
            #expect(String(decoding: buffer, as: UTF8.self) == "data=[1,2]")
        }

        @Test func largeOutputGrowsPastScratchSpace() throws {
            let big = (0..<2000).map { Inner(name: "item \($0)", values: Array(0..<($0 % 5))) }
            let bytes = try encoder.encode(big)
            #expect(bytes.count > 30_000)
            #expect(try decoder.decode([Inner].self, from: bytes) == big)
            let nested = try encoder.encode(Nested(depth: 40))
            #expect(try decoder.decode(Nested.self, from: nested) == Nested(depth: 40))
        }

        @Test func outputParsesWithJSONSerialization() throws {
            let bytes = try encoder.encode(Everything.sample)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["string"] as? String == Everything.sample.string)
            #expect(object["int64"] as? Int == Int(Int64.min))
            #expect(object["date"] as? String == "2026-11-25T01:02:38.523845Z")
            #expect(object["uuid"] as? String == "3F2504E0-4F89-41D3-9A0C-0305E82C3301")
            #expect(object["url"] as? String == "https://example.com/a/b?c=d&e=f#g")
            #expect(object["data"] as? String == Data([0, 1, 2, 250, 251, 252, 253]).base64EncodedString())
            #expect(object["optionalNone"] == nil)
            #expect((object["intKeyed"] as? [String: String]) == ["1": "a", "-5": "b"])
            #expect((object["nested"] as? [String: Any])?["name"] as? String == "inner")

            // Same document as Foundation's encoder produces (compared as parsed objects).
            let plain = Plain(id: "p\"1\n", count: -3, big: .max, ratio: 0.1, small: 2.5, flag: false,
                              tags: ["a", "b/c"], note: nil, child: .init(a: -128, b: [1e-7, 3]))
            let ours = try JSONSerialization.jsonObject(with: Data(encoder.encode(plain))) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(plain)) as? NSDictionary
            #expect(ours != nil && ours == theirs)
        }

        @Test func encodeNilWritesNullAndEncodeIfPresentOmits() throws {
            struct Custom: Encodable {
                enum K: String, CodingKey { case a, b, c }
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: K.self)
                    try c.encodeNil(forKey: .a)
                    try c.encodeIfPresent(Int?.none, forKey: .b)
                    try c.encodeIfPresent(Int?.some(1), forKey: .c)
                }
            }
            #expect(try json(Custom()) == #"{"a":null,"c":1}"#)
        }
    }

    // MARK: - Container mechanics

    struct Nested: Codable, Equatable {
        var depth: Int
        init(depth: Int) { self.depth = depth }
        enum K: String, CodingKey { case depth, child }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(depth, forKey: .depth)
            if depth > 0 { try c.encode(Nested(depth: depth - 1), forKey: .child) }
        }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: K.self)
            depth = try c.decode(Int.self, forKey: .depth)
            if depth > 0 { _ = try c.decode(Nested.self, forKey: .child) }
        }
    }

    /// Uses nested keyed/unkeyed containers and writes keys after nested containers.
    struct Manual: Codable, Equatable {
        var id: Int
        var x: Double
        var y: Double
        var tags: [String]
        var last: String

        enum K: String, CodingKey { case id, position, tags, last }
        enum P: String, CodingKey { case x, y }

        init(id: Int, x: Double, y: Double, tags: [String], last: String) {
            (self.id, self.x, self.y, self.tags, self.last) = (id, x, y, tags, last)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(id, forKey: .id)
            var p = c.nestedContainer(keyedBy: P.self, forKey: .position)
            try p.encode(x, forKey: .x)
            try p.encode(y, forKey: .y)
            var t = c.nestedUnkeyedContainer(forKey: .tags)
            for tag in tags {
                var pair = t.nestedUnkeyedContainer()
                try pair.encode(tag)
            }
            try c.encode(last, forKey: .last)
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: K.self)
            id = try c.decode(Int.self, forKey: .id)
            let p = try c.nestedContainer(keyedBy: P.self, forKey: .position)
            x = try p.decode(Double.self, forKey: .x)
            y = try p.decode(Double.self, forKey: .y)
            var t = try c.nestedUnkeyedContainer(forKey: .tags)
            var tags: [String] = []
            while !t.isAtEnd {
                var pair = try t.nestedUnkeyedContainer()
                tags.append(try pair.decode(String.self))
            }
            self.tags = tags
            last = try c.decode(String.self, forKey: .last)
        }
    }

    class Base: Codable {
        var base: Int
        init(base: Int) { self.base = base }
    }

    final class Derived: Base, @unchecked Sendable {
        var extra: String
        enum K: String, CodingKey { case extra }
        init(base: Int, extra: String) { self.extra = extra; super.init(base: base) }
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(extra, forKey: .extra)
            try super.encode(to: c.superEncoder())
        }
        required init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: K.self)
            extra = try c.decode(String.self, forKey: .extra)
            try super.init(from: c.superDecoder())
        }
    }

    /// Inherits by sharing the same encoder (two `container(keyedBy:)` calls, one object).
    final class Flat: Base, @unchecked Sendable {
        var more: Bool
        enum K: String, CodingKey { case more }
        init(base: Int, more: Bool) { self.more = more; super.init(base: base) }
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var c = encoder.container(keyedBy: K.self)
            try c.encode(more, forKey: .more)
        }
        required init(from decoder: any Decoder) throws {
            more = try decoder.container(keyedBy: K.self).decode(Bool.self, forKey: .more)
            try super.init(from: decoder)
        }
    }

    struct Wrapper: Codable, Equatable {
        var raw: String
        init(_ raw: String) { self.raw = raw }
        init(from decoder: any Decoder) throws { raw = try decoder.singleValueContainer().decode(String.self) }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(raw)
        }
    }

    struct WrapperOfWrapper: Codable, Equatable {
        var inner: Inner
        init(from decoder: any Decoder) throws { inner = try decoder.singleValueContainer().decode(Inner.self) }
        init(inner: Inner) { self.inner = inner }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(inner)
        }
    }

    @Suite struct Containers {
        @Test func nestedContainersRoundTrip() throws {
            let value = Manual(id: 1, x: 1.5, y: -2, tags: ["a", "b"], last: "end")
            #expect(try json(value) == #"{"id":1,"position":{"x":1.5,"y":-2.0},"tags":[["a"],["b"]],"last":"end"}"#)
            #expect(try decode(Manual.self, json(value)) == value)
        }

        @Test func nestedContainersInOrder() throws {
            struct InOrder: Encodable {
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: Manual.K.self)
                    try c.encode(1, forKey: .id)
                    var p = c.nestedContainer(keyedBy: Manual.P.self, forKey: .position)
                    try p.encode(1.5, forKey: .x)
                    try p.encode(2.0, forKey: .y)
                    var t = c.nestedUnkeyedContainer(forKey: .tags)
                    var pair = t.nestedUnkeyedContainer()
                    try pair.encode("a")
                    try pair.encode("b")
                    var obj = t.nestedContainer(keyedBy: Manual.P.self)
                    try obj.encode(3.0, forKey: .x)
                    try t.encode("c")
                    try c.encode("end", forKey: .last)
                }
            }
            let text = try json(InOrder())
            #expect(text == #"{"id":1,"position":{"x":1.5,"y":2.0},"tags":[["a","b"],{"x":3.0},"c"],"last":"end"}"#)
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8))
        }

        @Test func superEncoderAndDecoder() throws {
            let text = try json(Derived(base: 7, extra: "e"))
            #expect(text == #"{"extra":"e","super":{"base":7}}"#)
            let back = try decode(Derived.self, text)
            #expect(back.base == 7 && back.extra == "e")

            let flat = try json(Flat(base: 3, more: true))
            #expect(flat == #"{"base":3,"more":true}"#)
            let flatBack = try decode(Flat.self, flat)
            #expect(flatBack.base == 3 && flatBack.more)
        }

        @Test func singleValueContainers() throws {
            #expect(try json(Wrapper("w")) == #""w""#)
            #expect(try json(["k": Wrapper("v")]) == #"{"k":"v"}"#)
            #expect(try decode([Wrapper].self, #"["a","b"]"#) == [Wrapper("a"), Wrapper("b")])
            let ww = WrapperOfWrapper(inner: Inner(name: "n", values: [1]))
            #expect(try json(ww) == #"{"name":"n","values":[1]}"#)
            #expect(try decode(WrapperOfWrapper.self, json(ww)) == ww)
        }

        @Test func emptyEncodeWritesEmptyObject() throws {
            struct Nothing: Codable, Equatable {
                init() {}
                func encode(to encoder: any Encoder) throws {}
            }
            struct Holder: Codable, Equatable { var n: Nothing; var k: Int }
            #expect(try json(Holder(n: Nothing(), k: 1)) == #"{"n":{},"k":1}"#)
            #expect(throws: EncodingError.self) { try encoder.encode(Nothing()) }
        }

        @Test func codingPathIsReportedToValues() throws {
            struct Probe: Codable {
                var expected: String
                func encode(to encoder: any Encoder) throws {
                    #expect(pathString(encoder.codingPath) == expected)
                    var c = encoder.singleValueContainer()
                    try c.encode(expected)
                }
                init(expected: String) { self.expected = expected }
                init(from decoder: any Decoder) throws {
                    expected = try decoder.singleValueContainer().decode(String.self)
                    #expect(pathString(decoder.codingPath) == expected)
                }
            }
            struct Root: Codable { var list: [Probe]; var one: Probe }
            let root = Root(list: [Probe(expected: "list.[0]"), Probe(expected: "list.[1]")], one: Probe(expected: "one"))
            _ = try decode(Root.self, json(root))
        }
    }

    // MARK: - Decoder

    @Suite struct Decoding {
        @Test func matchesFoundationDecoder() throws {
            let inputs = [
                #"{"id":"a","count":1,"big":18446744073709551615,"ratio":0.1,"small":0.1,"flag":true,"tags":[]}"#,
                #"{"tags":["x","y\u00e9\ud83d\ude00\/"],"flag":false,"small":1e-3,"ratio":-1.5e300,"big":0,"count":-9223372036854775808,"id":"\"q\"","note":null,"child":{"a":-128,"b":[1,2.5,3e2]}}"#,
                #" { "id" : "sp" , "count" : 1.0 , "big" : 1e3 , "ratio" : 123456789.123456789 , "small" : 3.4028234e38 , "flag" : true , "tags" : [ "a" ] , "unknown" : {"deep":[1,{"x":null}]} , "note" : "n" } "#,
                #"{"id":"","count":0,"big":12345678901234567890,"ratio":5e-324,"small":-0.0,"flag":true,"tags":[""],"child":null}"#,
                #"{"id":"z","count":-0,"big":1.8e19,"ratio":0.30000000000000004,"small":16777217,"flag":true,"tags":[]}"#,
                #"{"id":"x","count":100000000000000000000e-2,"big":0.0,"ratio":1E5,"small":2.5E-1,"flag":false,"tags":[]}"#,
            ]
            let foundation = JSONDecoder()
            for input in inputs {
                let theirs = try foundation.decode(Plain.self, from: Data(input.utf8))
                let ours = try decode(Plain.self, input)
                #expect(ours == theirs, "\(input)")
            }
        }

        @Test func rejectsWhatFoundationRejects() throws {
            let inputs = [
                #"{"id":1,"count":1,"big":1,"ratio":1,"small":1,"flag":true,"tags":[]}"#,
                #"{"id":"a","count":1.5,"big":1,"ratio":1,"small":1,"flag":true,"tags":[]}"#,
                #"{"id":"a","count":1,"big":-1,"ratio":1,"small":1,"flag":true,"tags":[]}"#,
                #"{"id":"a","count":1,"big":1,"ratio":1,"small":1,"flag":1,"tags":[]}"#,
                #"{"id":"a","count":1,"big":1,"ratio":1,"small":1,"flag":true}"#,
                #"{"id":"a","count":null,"big":1,"ratio":1,"small":1,"flag":true,"tags":[]}"#,
                #"{"id":"a","count":1,"big":1,"ratio":1,"small":1,"flag":true,"tags":[],"child":{"a":128,"b":[]}}"#,
                #"{"id":"a","count":1,"big":1,"ratio":1,"small":1e39,"flag":true,"tags":[]}"#,
                #"{"id":"a","count":1,"big":1,"ratio":1e400,"small":1,"flag":true,"tags":[]}"#,
            ]
            for input in inputs {
                #expect(throws: (any Error).self) { try JSONDecoder().decode(Plain.self, from: Data(input.utf8)) }
                #expect(throws: DecodingError.self, "\(input)") { try decode(Plain.self, input) }
            }
        }

        @Test func decodesEscapes() throws {
            #expect(try decode(String.self, #""a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20ac\ud83d\ude00\u0000""#)
                == "a\"b\\c/d\u{8}e\u{C}f\ng\rh\tiAé€😀\u{0}")
            #expect(try decode([String: Int].self, #"{"k\u0065y":1}"#) == ["key": 1])
            struct K: Decodable { var key: Int }
            #expect(try decode(K.self, #"{"other":"\u0041","k\u0065y":2}"#).key == 2)
            #expect(try decode(String.self, "\"é😀\u{7F}\"") == "é😀\u{7F}")
        }

        @Test func keyErrorsCarryCodingPath() throws {
            struct Outer: Decodable { var inner: Inner; var items: [Inner] }
            do {
                _ = try decode(Outer.self, #"{"inner":{"name":"a","values":[]},"items":[{"name":"b","values":[]},{"values":[]}]}"#)
                Issue.record("expected keyNotFound")
            } catch DecodingError.keyNotFound(let key, let context) {
                #expect(key.stringValue == "name")
                #expect(pathString(context.codingPath) == "items.[1]")
            }
            do {
                _ = try decode(Outer.self, #"{"inner":{"name":"a","values":[1,"2"]},"items":[]}"#)
                Issue.record("expected typeMismatch")
            } catch DecodingError.typeMismatch(_, let context) {
                #expect(pathString(context.codingPath) == "inner.values.[1]")
            }
            do {
                _ = try decode(Outer.self, #"{"inner":{"name":null,"values":[]},"items":[]}"#)
                Issue.record("expected valueNotFound")
            } catch DecodingError.valueNotFound(_, let context) {
                #expect(pathString(context.codingPath) == "inner.name")
            }
            do {
                _ = try decode(Outer.self, #"{"inner":[],"items":[]}"#)
                Issue.record("expected typeMismatch")
            } catch DecodingError.typeMismatch(_, let context) {
                #expect(pathString(context.codingPath) == "inner")
            }
            do {
                _ = try decode(Inner.self, #"{"name":"n","values":[1,1.5]}"#)
                Issue.record("expected dataCorrupted")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(pathString(context.codingPath) == "values.[1]")
            }
        }

        @Test func optionalsAbsentOrNull() throws {
            struct O: Codable, Equatable { var a: Int?; var b: String?; var c: Inner?; var d: Date? }
            let none = O(a: nil, b: nil, c: nil, d: nil)
            #expect(try decode(O.self, "{}") == none)
            #expect(try decode(O.self, #"{"a":null,"b":null,"c":null,"d":null}"#) == none)
            #expect(try json(none) == "{}")
            #expect(try decode(O.self, #"{"a":1,"b":"x","c":{"name":"n","values":[]}}"#)
                == O(a: 1, b: "x", c: Inner(name: "n", values: []), d: nil))
            #expect(throws: DecodingError.self) { try decode(O.self, #"{"a":"1"}"#) }
            #expect(try decode([Int?].self, "[null,1,null]") == [nil, 1, nil])
            #expect(try decode(Int?.self, "null") == nil)

            struct N: Decodable {
                var isNull: Bool
                enum K: String, CodingKey { case v }
                init(from decoder: any Decoder) throws {
                    isNull = try decoder.container(keyedBy: K.self).decodeNil(forKey: .v)
                }
            }
            #expect(try decode(N.self, #"{"v":null}"#).isNull)
            #expect(try !decode(N.self, #"{"v":0}"#).isNull)
            #expect(throws: DecodingError.self) { try decode(N.self, "{}") }
        }

        @Test func integersAreExactAndRangeChecked() throws {
            #expect(try decode(Int64.self, "-9223372036854775808") == .min)
            #expect(try decode(Int64.self, "9223372036854775807") == .max)
            #expect(try decode(UInt64.self, "18446744073709551615") == .max)
            #expect(try decode(Int.self, "1.0") == 1)
            #expect(try decode(Int.self, "1e2") == 100)
            #expect(try decode(Int.self, "-1.50e1") == -15)
            #expect(try decode(UInt8.self, "25500e-2") == 255)
            #expect(try decode(Int.self, "-0") == 0)
            #expect(try decode(UInt.self, "-0") == 0)
            #expect(try decode(Int8.self, "-128") == -128)
            #expect(try decode(Int.self, "0.0e99999") == 0)
            let failures: [(any Decodable.Type, String)] = [
                (UInt8.self, "256"), (Int8.self, "128"), (Int8.self, "-129"), (UInt.self, "-1"),
                (UInt64.self, "18446744073709551616"), (Int64.self, "9223372036854775808"),
                (Int64.self, "-9223372036854775809"), (Int.self, "1.5"), (Int.self, "1e-1"),
                (Int.self, "1e20"), (UInt16.self, "65536"), (Int32.self, "2147483648"),
                (Int.self, "123456789012345678901234567890"), (UInt32.self, "-1.0"),
            ]
            for (type, text) in failures {
                do {
                    _ = try decoder.decode(type, from: Array(text.utf8))
                    Issue.record("\(type) from \(text) should fail")
                } catch DecodingError.dataCorrupted(let context) {
                    #expect(context.debugDescription.contains(text))
                }
            }
            #expect(throws: DecodingError.self) { try decode(Int.self, #""1""#) }
        }

        @Test func floatingPoint() throws {
            #expect(try decode(Double.self, "1") == 1)
            #expect(try decode(Double.self, "-0.0").sign == .minus)
            #expect(try decode(Double.self, "1.7976931348623157e308") == .greatestFiniteMagnitude)
            #expect(try decode(Double.self, "4.9e-324") == .leastNonzeroMagnitude)
            #expect(try decode(Double.self, "0.1") == 0.1)
            #expect(try decode(Double.self, "123456789012345678901234567890") == 123456789012345678901234567890.0)
            #expect(try decode(Double.self, "2.2250738585072011e-308") == Double("2.2250738585072011e-308"))
            #expect(try decode(Float.self, "3.4028235e38") == .greatestFiniteMagnitude)
            #expect(try decode(Float.self, "0.1") == Float(0.1))
            #expect(throws: DecodingError.self) { try decode(Double.self, "1e400") }
            #expect(throws: DecodingError.self) { try decode(Float.self, "1e39") }
            #expect(try decode(Double.self, "1e-400") == 0)
        }

        @Test func specialTypes() throws {
            let uuid = UUID()
            #expect(try decode(UUID.self, json(uuid)) == uuid)
            #expect(try decode(UUID.self, #""3f2504e0-4f89-41d3-9a0c-0305e82c3301""#)
                == UUID(uuidString: "3F2504E0-4F89-41D3-9A0C-0305E82C3301"))
            #expect(throws: DecodingError.self) { try decode(UUID.self, #""3F2504E0-4F89-41D3-9A0C-0305E82C330""#) }
            #expect(throws: DecodingError.self) { try decode(UUID.self, #""3F2504E0x4F89-41D3-9A0C-0305E82C3301""#) }
            #expect(try decode(Data.self, #""AAEC+vv8/Q==""#) == Data([0, 1, 2, 250, 251, 252, 253]))
            #expect(try decode(Data.self, #""AAEC+vv8\/Q==""#) == Data([0, 1, 2, 250, 251, 252, 253]))
            #expect(try decode(Data.self, #""""#) == Data())
            for bad in [#""AAE""#, #""AA=A""#, #""A*==""#, #""====""#] {
                #expect(throws: DecodingError.self, "\(bad)") { try decode(Data.self, bad) }
            }
            for n in 0..<10 {
                let data = Data((0..<n).map { UInt8($0 * 37 & 0xFF) })
                #expect(try json(data) == "\"\(data.base64EncodedString())\"")
                #expect(try decode(Data.self, json(data)) == data)
            }
            #expect(try decode(URL.self, #""https://example.com/x?y=1""#) == URL(string: "https://example.com/x?y=1"))
            #expect(throws: DecodingError.self) { try decode(URL.self, #""""#) }
            #expect(throws: DecodingError.self) { try decode(Date.self, #""2026-11-25 01:02:38Z""#) }
            #expect(throws: DecodingError.self) { try decode(Date.self, "1700000000") }
        }

        @Test func datesRoundTripAtMicrosecondPrecision() throws {
            // Within a few centuries of 2001 a Date (a Double of seconds) keeps microseconds exactly.
            for micros: Int64 in [0, 1, -1, 1_795_000_000_523_845, -1_000_000_000_000_001, 951_782_400_000_000,
                                  4_102_444_799_999_999, -2_208_988_800_000_001] {
                let date = dateAt(micros)
                let back = try decode(Date.self, json(date))
                #expect(microsOf(back) == micros)
                #expect(back == date)
            }
            // Further out only to Date's precision (about 30 µs near year 9999).
            for micros: Int64 in [-62_135_596_800_000_000, 253_402_300_700_000_000, -62_167_219_200_000_000] {
                let back = try decode(Date.self, json(dateAt(micros)))
                #expect(abs(microsOf(back) - micros) < 100)
            }
            #expect(throws: EncodingError.self) { try encoder.encode(Date(timeIntervalSince1970: 1e12)) }
            #expect(throws: EncodingError.self) { try encoder.encode(Date(timeIntervalSince1970: -1e12)) }
            // Offsets and fractions are accepted when decoding.
            #expect(try decode(Date.self, #""2026-11-25T02:02:38.5+01:00""#) == RFC3339.date(from: "2026-11-25T01:02:38.500000Z"))
        }

        @Test func unknownKeysAndOrderDoNotMatter() throws {
            let value = try decode(Inner.self, #"{"x":[{"name":"no"}],"values":[3],"zz":{"name":"no"},"name":"yes"}"#)
            #expect(value == Inner(name: "yes", values: [3]))
            #expect(try decode([String: [Int]].self, #"{"b":[1],"a":[]}"#) == ["a": [], "b": [1]])
            #expect(try decode([Int: Bool].self, #"{"1":true,"-2":false}"#) == [1: true, -2: false])
        }

        @Test func decodesFromSlices() throws {
            let bytes = Array(#"xx{"name":"s","values":[1]}yy"#.utf8)
            #expect(try decoder.decode(Inner.self, from: bytes[2..<(bytes.count - 2)]) == Inner(name: "s", values: [1]))
            #expect(throws: DecodingError.self) { try decoder.decode(Inner.self, from: bytes[2...]) }
        }

        @Test func unkeyedContainerAtEnd() throws {
            struct Two: Decodable {
                init(from decoder: any Decoder) throws {
                    var c = try decoder.unkeyedContainer()
                    #expect(c.count == 1)
                    _ = try c.decode(Int.self)
                    #expect(c.isAtEnd)
                    #expect(throws: DecodingError.self) { try c.decode(Int.self) }
                    #expect(throws: DecodingError.self) { try c.decodeNil() }
                }
            }
            _ = try decode(Two.self, "[1]")
            #expect(throws: DecodingError.self) { try decode([Int].self, "{}") }
            #expect(throws: DecodingError.self) { try decode([Int].self, "null") }
        }

        @Test func largeDocumentsGrowPastScratchSpace() throws {
            let values = (0..<5000).map { $0 * 7 - 100 }
            #expect(try decode([Int].self, json(values)) == values)
            let dict = Dictionary(uniqueKeysWithValues: (0..<300).map { ("key\($0)", $0) })
            #expect(try decode([String: Int].self, json(dict)) == dict)
        }
    }

    // MARK: - Malformed input

    @Suite struct MalformedInput {
        static let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("whitespace only", Array("  ".utf8)),
            ("trailing comma in array", Array("[1,2,]".utf8)),
            ("trailing comma in object", Array(#"{"a":1,}"#.utf8)),
            ("unquoted key", Array("{a:1}".utf8)),
            ("single-quoted string", Array("['a']".utf8)),
            ("leading zero", Array("[01]".utf8)),
            ("leading zero negative", Array("-012".utf8)),
            ("bare minus", Array("-".utf8)),
            ("plus sign", Array("+1".utf8)),
            ("dot without digits", Array("1.".utf8)),
            ("leading dot", Array(".5".utf8)),
            ("exponent without digits", Array("1e".utf8)),
            ("exponent sign only", Array("1e+".utf8)),
            ("hex number", Array("0x10".utf8)),
            ("NaN", Array("NaN".utf8)),
            ("Infinity", Array("[Infinity]".utf8)),
            ("invalid escape", Array(#""\x""#.utf8)),
            ("short unicode escape", Array(#""\u12""#.utf8)),
            ("bad hex in escape", Array(#""\u12G4""#.utf8)),
            ("lone high surrogate", Array(#""\ud83d""#.utf8)),
            ("high surrogate then text", Array(#""\ud83dabc""#.utf8)),
            ("high surrogate then non-low", Array(#""\ud83d\u0041""#.utf8)),
            ("lone low surrogate", Array(#""\ude00""#.utf8)),
            ("raw newline in string", Array("\"a\nb\"".utf8)),
            ("raw tab in string", Array("\"a\tb\"".utf8)),
            ("raw NUL in string", [0x22, 0x00, 0x22]),
            ("unterminated string", Array(#""abc"#.utf8)),
            ("unterminated long string", Array(#""abcdefghijklmnop"#.utf8)),
            ("trailing garbage", Array("{} x".utf8)),
            ("two values", Array("1 2".utf8)),
            ("unclosed array", Array("[1".utf8)),
            ("unclosed object", Array(#"{"a":1"#.utf8)),
            ("missing colon", Array(#"{"a" 1}"#.utf8)),
            ("missing value", Array(#"{"a":}"#.utf8)),
            ("missing comma", Array("[1 2]".utf8)),
            ("misspelled true", Array("tru".utf8)),
            ("misspelled null", Array("nul1".utf8)),
            ("capitalized True", Array("True".utf8)),
            ("comment", Array("[1] // c".utf8)),
            ("invalid UTF-8 continuation", [0x22, 0xC3, 0x28, 0x22]),
            ("overlong UTF-8", [0x22, 0xC0, 0xAF, 0x22]),
            ("UTF-8 surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]),
            ("UTF-8 above U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]),
            ("truncated UTF-8", [0x22, 0xE2, 0x82]),
            ("lone continuation byte", [0x22, 0x80, 0x22]),
            ("non-ASCII outside strings", [0x5B, 0xC3, 0xA9, 0x5D]),
            ("BOM", [0xEF, 0xBB, 0xBF, 0x31]),
            ("form feed whitespace", Array("\u{C}1".utf8)),
            ("too deep", Array(String(repeating: "[", count: 513).utf8) + Array(String(repeating: "]", count: 513).utf8)),
        ]

        /// Inputs that Foundation's JSONSerialization tolerates although RFC 8259 does not allow them.
        static let foundationAccepts: Set<String> = ["trailing comma in array", "trailing comma in object", "BOM"]

        @Test(arguments: cases.indices)
        func malformedInputIsDataCorrupted(_ index: Int) {
            let (name, bytes) = Self.cases[index]
            do {
                _ = try decoder.decode(JSONAny.self, from: bytes)
                Issue.record("\(name): expected an error")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription.contains("byte offset"), "\(name): \(context.debugDescription)")
            } catch {
                Issue.record("\(name): unexpected \(error)")
            }
            // Foundation agrees that the text is not JSON, except where it is lenient.
            if !Self.foundationAccepts.contains(name) {
                #expect(throws: (any Error).self, "\(name)") {
                    try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
                }
            }
        }

        @Test func errorMessagesNameTheOffset() throws {
            do {
                _ = try decoder.decode([Int].self, from: Array("[1, 02]".utf8))
                Issue.record("expected an error")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription == "Leading zeros are not allowed in number at byte offset 4")
            }
            do {
                _ = try decoder.decode([Int].self, from: Array("[1,]".utf8))
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription == "Unexpected character ']' at byte offset 3")
            }
        }

        @Test func nestingLimitIs512() throws {
            let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
            #expect(throws: Never.self) { try decoder.decode(JSONAny.self, from: Array(ok.utf8)) }
            let objects = String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
            #expect(throws: DecodingError.self) { try decoder.decode(JSONAny.self, from: Array(objects.utf8)) }
        }

        @Test func validEdgeCasesAreAccepted() throws {
            for text in ["0", "-0", "0.0", "1E+2", "1e-2", "\"\"", "[]", "{}", " \t\r\n[ ]\n", "null", "true",
                         "[[[]]]", #"{"":0}"#, "\"\u{10FFFF}\"", "-1.5e-0"] {
                #expect(throws: Never.self, "\(text)") { try decoder.decode(JSONAny.self, from: Array(text.utf8)) }
            }
        }
    }

    /// Decodes any JSON value (to drive the parser over arbitrary input).
    struct JSONAny: Decodable {
        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                while !array.isAtEnd { _ = try array.decode(JSONAny.self) }
            } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
                for key in object.allKeys { _ = try object.decode(JSONAny.self, forKey: key) }
            } else {
                let single = try decoder.singleValueContainer()
                if single.decodeNil() { return }
                if (try? single.decode(Bool.self)) != nil { return }
                if (try? single.decode(Double.self)) != nil { return }
                _ = try single.decode(String.self)
            }
        }
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    // MARK: - RFC 3339

    @Suite struct RFC3339Format {
        @Test func formats() {
            #expect(RFC3339.string(microsecondsSinceEpoch: 0) == "1970-01-01T00:00:00.000000Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: -1) == "1969-12-31T23:59:59.999999Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: 1_795_000_000_523_845) == "2026-11-18T11:06:40.523845Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: 951_782_400_000_000) == "2000-02-29T00:00:00.000000Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: 1_709_164_800_000_001) == "2024-02-29T00:00:00.000001Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: -14_182_940_000_000) == "1969-07-20T20:17:40.000000Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: -62_167_219_200_000_000) == "0000-01-01T00:00:00.000000Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: 253_402_300_799_999_999) == "9999-12-31T23:59:59.999999Z")
            #expect(RFC3339.string(microsecondsSinceEpoch: -2_208_988_800_000_000) == "1900-01-01T00:00:00.000000Z")
            #expect(RFC3339.string(from: Date(timeIntervalSince1970: 0.5)) == "1970-01-01T00:00:00.500000Z")
            var buffer = Array("t=".utf8)
            RFC3339.append(microsecondsSinceEpoch: 1, to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == "t=1970-01-01T00:00:00.000001Z")
        }

        @Test func formatMatchesFoundation() {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            // (Foundation switches to the Julian calendar before 1582, so only later dates compare.)
            for seconds: Int64 in [0, 86_399, 951_868_800, -2_208_988_801, 4_102_444_800, -12_219_292_800, 1_795_000_000] {
                let text = RFC3339.string(microsecondsSinceEpoch: seconds * 1_000_000)
                let foundation = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
                #expect(text.replacingOccurrences(of: ".000000", with: "") == foundation)
            }
        }

        @Test func roundTripsAcrossTheRange() {
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<2000 {
                let micros = Int64.random(in: -62_167_219_200_000_000...253_402_300_799_999_999, using: &generator)  // years 0000-9999
                let text = RFC3339.string(microsecondsSinceEpoch: micros)
                #expect(RFC3339.parseMicroseconds(text) == micros, "\(text)")
            }
            // Every day around leap years and the epoch.
            for day in stride(from: Int64(-800), through: 800, by: 1) {
                let micros = day * 86_400_000_000 + 12_345
                #expect(RFC3339.parseMicroseconds(RFC3339.string(microsecondsSinceEpoch: micros)) == micros)
            }
        }

        @Test func parsesOffsetsAndFractions() {
            let base: Int64 = 1_795_000_000_000_000  // 2026-11-18T11:06:40Z
            #expect(RFC3339.parseMicroseconds("2026-11-18T11:06:40Z") == base)
            #expect(RFC3339.parseMicroseconds("2026-11-18t11:06:40z") == base)
            #expect(RFC3339.parseMicroseconds("2026-11-18T12:06:40+01:00") == base)
            #expect(RFC3339.parseMicroseconds("2026-11-18T05:36:40-05:30") == base)
            #expect(RFC3339.parseMicroseconds("2026-11-19T00:06:40+13:00") == base)
            #expect(RFC3339.parseMicroseconds("2026-11-18T11:06:40-00:00") == base)
            let fractions: [(String, Int64)] = [
                ("", 0), (".5", 500_000), (".12", 120_000), (".123", 123_000), (".1234", 123_400),
                (".12345", 123_450), (".123456", 123_456), (".1234567", 123_456), (".12345678", 123_456),
                (".123456789", 123_456), (".000001", 1), (".999999999", 999_999),
            ]
            for (fraction, micros) in fractions {
                #expect(RFC3339.parseMicroseconds("2026-11-18T11:06:40\(fraction)Z") == base + micros, "\(fraction)")
            }
            #expect(RFC3339.parseMicroseconds("1969-12-31T23:59:59.5Z") == -500_000)
            #expect(RFC3339.parseMicroseconds("1900-03-01T00:00:00Z") == -2_203_891_200_000_000)
            #expect(RFC3339.parseMicroseconds("2016-12-31T23:59:60Z") == 1_483_228_800_000_000)  // leap second
            #expect(RFC3339.parseMicroseconds(Array("2026-11-18T11:06:40Z".utf8)) == base)
            #expect(RFC3339.parseMicroseconds("2026-11-18T11:06:40Z".utf8) == base)
            #expect(RFC3339.date(from: "2026-11-18T11:06:40.25Z") == Date(timeIntervalSince1970: 1_795_000_000.25))
        }

        @Test(arguments: [
            "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
            "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:61Z",
            "2026-01-01T00:00:00", "2026-01-01T00:00:00.123", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01", "2026-01-01T00:00:00Zx", "2026-1-01T00:00:00Z",
            "26-01-01T00:00:00Z", "+2026-01-01T00:00:00Z", "2026-01-01T0a:00:00Z", "", "2026-01-01",
            "2026/01/01T00:00:00Z", "2026-01-01T00:00:00 Z",
        ])
        func rejectsInvalidText(_ text: String) {
            #expect(RFC3339.parseMicroseconds(text) == nil)
            #expect(RFC3339.date(from: text) == nil)
        }

        @Test func nowIsCloseToFoundation() {
            let ours = RFC3339.nowMicroseconds()
            let foundation = Int64(Date().timeIntervalSince1970 * 1_000_000)
            #expect(abs(ours - foundation) < 100_000)
        }
    }
}
