import Foundation
public struct EventDataEncoder: Sendable {
    public init() {}
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try JSONEncoder().encode(value)) }
    public func encode<T: Encodable>(_ value: T, into buffer: inout [UInt8]) throws { buffer += try encode(value) }
}
public struct EventDataDecoder: Sendable {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T { try JSONDecoder().decode(T.self, from: Data(bytes)) }
    public func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T { try JSONDecoder().decode(T.self, from: Data(bytes)) }
}
public enum RFC3339 {
    public static func append(microsecondsSinceEpoch: Int64, to buffer: inout [UInt8]) { buffer += Array(string(microsecondsSinceEpoch: microsecondsSinceEpoch).utf8) }
    public static func string(microsecondsSinceEpoch: Int64) -> String {
        let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(microsecondsSinceEpoch) / 1e6))
    }
    public static func parseMicroseconds(_ bytes: some Collection<UInt8>) -> Int64? {
        let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: String(decoding: Array(bytes), as: UTF8.self)).map { Int64($0.timeIntervalSince1970 * 1e6) }
    }
    public static func nowMicroseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }
}
