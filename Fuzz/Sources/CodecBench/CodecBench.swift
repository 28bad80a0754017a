import EventBus
import Foundation

// µs per encode and per decode of event data, through the public codec API only, so the
// same source builds against an older checkout (CODEC_BENCH_ROOT) for before/after:
//
//   swift build -c release --package-path Fuzz --scratch-path Fuzz/.build/bench --product CodecBench
//   Fuzz/.build/bench/release/CodecBench [iterations]
//
// Prints one line per event shape: the median over 7 rounds of `iterations` each.

/// streams-bench's event (`data` of every event in the e2e benchmark).
struct BenchEvent: Codable {
    var sentNs: UInt64
    var title: String
    var description: String
    enum CodingKeys: String, CodingKey { case sentNs = "sent_ns", title, description }
}

/// A richer event: nested values, optionals, a date and a UUID.
struct RichEvent: Codable {
    struct Line: Codable { var sku: String; var quantity: Int; var price: Double }
    var orderID: UUID
    var customer: String
    var placedAt: Date
    var lines: [Line]
    var note: String?
    var tags: [String: String]
}

func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func measure<T: Codable>(_ name: String, _ value: T, iterations: Int, as type: T.Type) throws {
    let encoder = EventDataEncoder()
    let decoder = EventDataDecoder()
    let json = try encoder.encode(value)
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1024)
    var encodeRounds: [Double] = []
    var decodeRounds: [Double] = []
    var sink = 0
    for _ in 0..<7 {
        var start = nowNanoseconds()
        for _ in 0..<iterations {
            buffer.removeAll(keepingCapacity: true)
            try encoder.encode(value, into: &buffer)
            sink &+= buffer.count
        }
        encodeRounds.append(Double(nowNanoseconds() - start) / Double(iterations) / 1000)
        start = nowNanoseconds()
        let slice = json[...]
        for _ in 0..<iterations {
            let decoded = try decoder.decode(type, from: slice)
            withExtendedLifetime(decoded) { sink &+= 1 }
        }
        decodeRounds.append(Double(nowNanoseconds() - start) / Double(iterations) / 1000)
    }
    let encode = encodeRounds.sorted()[3]
    let decode = decodeRounds.sorted()[3]
    print(String(format: "%@ (%d bytes): encode %.3f µs, decode %.3f µs (median of 7 x %d; %d)",
                 name, json.count, encode, decode, iterations, sink & 1))
}

let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 200_000
try measure("BenchEvent", BenchEvent(sentNs: 1_795_000_000_123_456_789, title: "Buy groceries",
                                     description: "Milk, eggs and bread"),
            iterations: iterations, as: BenchEvent.self)
try measure("RichEvent", RichEvent(
    orderID: UUID(uuidString: "3F2504E0-4F89-41D3-9A0C-0305E82C3301")!, customer: "c-42",
    placedAt: Date(timeIntervalSince1970: 1_795_000_000.523845),
    lines: [.init(sku: "A-1", quantity: 2, price: 9.99), .init(sku: "B-7", quantity: 1, price: 120.5)],
    note: "leave at the door \"please\"", tags: ["channel": "web", "tenant": "acme"]),
    iterations: iterations / 4, as: RichEvent.self)
