import EventBus
import CFuzzerDriver
import Foundation
import RedisClient

// libFuzzer target for the envelope parser: `RawEvent(stream:entry:)` on a stream entry
// whose fields come from the fuzz bytes, then the typed decode of its `data`.
//
// Input format: fields separated by 0x0A, alternating name and value. A name that is one
// byte below 0x10 stands for the n-th envelope field name (so the fuzzer reaches the
// parser's later checks without guessing names). Field text goes through
// `StreamEntry(id:fields:)`, which takes Strings: invalid UTF-8 arrives repaired.
// The raw bytes also go to the RFC 3339 parser, which must round-trip what it accepts.

let fieldNames = [
    "event_id", "event_type", "event_version", "aggregate_type", "aggregate_id", "timestamp",
    "correlation_id", "causation_id", "traceparent", "data", "meta.", "meta.tenant", "other",
]

struct FuzzEvent: DomainEvent, Equatable {
    static let eventType = "fuzz.happened"
    static let aggregateType = "fuzz"
    static let schemaVersion = 2
    var aggregateID: String
    var title: String
    var count: Int?
    var at: Date?
    var tags: [String]?
}

func fields(_ bytes: [UInt8]) -> [(String, String)] {
    let parts = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
    var result: [(String, String)] = []
    var index = 0
    while index < parts.count {
        let rawName = parts[index]
        let name: String
        if rawName.count == 1, let code = rawName.first, Int(code) < fieldNames.count {
            name = fieldNames[Int(code)]
        } else {
            name = String(decoding: rawName, as: UTF8.self)
        }
        let value = index + 1 < parts.count ? String(decoding: parts[index + 1], as: UTF8.self) : ""
        result.append((name, value))
        index += 2
    }
    return result
}

/// Anything RFC3339 accepts formats and parses back to the same instant.
func checkRFC3339(_ bytes: [UInt8]) {
    guard let micros = bytes.withUnsafeBytes({ RFC3339.parseMicroseconds($0) }) else { return }
    let text = RFC3339.string(microsecondsSinceEpoch: micros)
    guard micros >= -62_167_219_200_000_000, micros <= 253_402_300_799_999_999 else { return }
    guard RFC3339.parseMicroseconds(text) == micros else {
        fatalError("RFC 3339 round trip: \(String(decoding: bytes, as: UTF8.self)) -> \(micros) -> \(text)")
    }
}

/// SwiftPM's `main` for this executable: runs libFuzzer with the command line.
@_cdecl("FuzzEnvelope_main")
public func fuzzEnvelopeMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzEnvelope(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkRFC3339(bytes)
    let entry = StreamEntry(id: StreamEntryID(milliseconds: 1, sequence: UInt64(size)), fields: fields(bytes))
    guard let raw = try? RawEvent(stream: "fuzz-events", entry: entry) else { return 0 }
    // What the parser accepted is a complete envelope.
    precondition(raw.envelope.eventVersion > 0)
    _ = raw.envelope.timestampText
    if let event = try? FuzzEvent.decode(from: raw.data, version: raw.envelope.eventVersion) {
        let again = try? FuzzEvent.decode(from: EventDataEncoder().encode(event)[...], version: 2)
        precondition(again != nil, "an event that decoded must encode and decode again")
    }
    return 0
}
