import EventCodec
import CFuzzerDriver
import Foundation

// libFuzzer target for EventDataDecoder: the fuzz bytes as JSON, decoded into a few
// representative types (nested containers, optionals, arrays, dictionaries, dates, UUIDs,
// data, URLs, numbers of every width, a recursive any-JSON value, a type that keeps its
// decoder). Whatever decodes is encoded again and must decode again; types without dates
// or floats must come back equal.

/// Any JSON value, decoded through single-value, keyed and unkeyed containers. Numbers
/// compare by value: `9.2e18` may come back as an integer.
indirect enum JSONValue: Codable, Equatable {
    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.int(a), .double(b)), let (.double(b), .int(a)): return Double(a) == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)): return a == b
        default: return false
        }
    }

    case null, bool(Bool), int(Int64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            var object: [String: JSONValue] = [:]
            for key in keyed.allKeys { object[key.stringValue] = try keyed.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        } else if var unkeyed = try? decoder.unkeyedContainer() {
            var array: [JSONValue] = []
            while !unkeyed.isAtEnd { array.append(try unkeyed.decode(JSONValue.self)) }
            self = .array(array)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .null }
            else if let value = try? single.decode(Bool.self) { self = .bool(value) }
            else if let value = try? single.decode(Int64.self) { self = .int(value) }
            else if let value = try? single.decode(Double.self) { self = .double(value) }
            else { self = .string(try single.decode(String.self)) }
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .int(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .double(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .string(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .array(let values):
            var c = encoder.unkeyedContainer()
            for value in values { try c.encode(value) }
        case .object(let members):
            var c = encoder.container(keyedBy: Key.self)
            for (key, value) in members { try c.encode(value, forKey: Key(stringValue: key)) }
        }
    }
}

/// Scalars of every kind with exact round trips.
struct Exact: Codable, Equatable {
    enum Color: String, Codable { case red, green }
    struct Child: Codable, Equatable { var name: String; var values: [Int8]; var next: [Child]? }
    var id: String
    var count: Int?
    var big: UInt64?
    var small: Int16?
    var flag: Bool?
    var uuid: UUID?
    var data: Data?
    var color: Color?
    var tags: [String]?
    var matrix: [[Int?]]?
    var byName: [String: Int]?
    var byNumber: [Int: String]?
    var child: Child?
    var ratio: Double?
}

/// Dates, floats and URLs: must decode again after encoding, not necessarily equal.
struct Lossy: Codable {
    var at: Date
    var when: [Date]?
    var maybe: Date?
    var f: Float?
    var link: URL?
    var history: [String: Date]?
}

/// Reads through a nested keyed container, a nested unkeyed one and superDecoder, and
/// keeps the decoder to use after decoding returned.
struct Manual: Decodable {
    enum K: String, CodingKey { case a, b, c }
    enum P: String, CodingKey { case x, y }
    let decoder: any Decoder
    var x: Double?
    var list: [String] = []

    init(from decoder: any Decoder) throws {
        self.decoder = decoder
        let c = try decoder.container(keyedBy: K.self)
        if let p = try? c.nestedContainer(keyedBy: P.self, forKey: .a) {
            x = try p.decodeIfPresent(Double.self, forKey: .x)
            _ = p.contains(.y)
        }
        if var u = try? c.nestedUnkeyedContainer(forKey: .b) {
            while !u.isAtEnd {
                if try u.decodeNil() { continue }
                if var inner = try? u.nestedUnkeyedContainer() {
                    _ = try? inner.decode(String.self)
                } else {
                    list.append(try u.decode(String.self))
                }
            }
        }
        if let parent = try? c.superDecoder() { _ = try? Exact.Child(from: parent) }
        _ = try? c.decodeNil(forKey: .c)
    }
}

func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) {
    guard let value = try? EventDataDecoder().decode(type, from: bytes) else { return }
    let encoded: [UInt8]
    do {
        encoded = try EventDataEncoder().encode(value)
    } catch {
        fatalError("\(T.self) decoded but does not encode: \(error)")
    }
    do {
        let again = try EventDataDecoder().decode(type, from: encoded)
        precondition(again == value, "\(T.self) changed in a round trip: \(String(decoding: encoded, as: UTF8.self))")
    } catch {
        fatalError("\(T.self) does not decode its own encoding \(String(decoding: encoded, as: UTF8.self)): \(error)")
    }
}

/// SwiftPM's `main` for this executable: runs libFuzzer with the command line.
@_cdecl("FuzzDecoder_main")
public func fuzzDecoderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzDecoder(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = EventDataDecoder()
    roundTrip(JSONValue.self, bytes)
    roundTrip(Exact.self, bytes)
    roundTrip([Exact].self, bytes)
    if let lossy = try? decoder.decode(Lossy.self, from: bytes), let encoded = try? EventDataEncoder().encode(lossy) {
        precondition((try? decoder.decode(Lossy.self, from: encoded)) != nil,
                     "Lossy does not decode its own encoding \(String(decoding: encoded, as: UTF8.self))")
    }
    if let manual = try? decoder.decode(Manual.self, from: bytes) {
        _ = try? Manual(from: manual.decoder)  // the kept decoder, after decoding returned
    }
    // The same bytes as a slice that starts past the beginning of its array.
    let padded = [UInt8(ascii: " ")] + bytes
    _ = try? decoder.decode(JSONValue.self, from: padded[1...])
    _ = try? decoder.decode([String: [Date?]].self, from: bytes)
    _ = try? decoder.decode([Float].self, from: bytes)
    return 0
}
