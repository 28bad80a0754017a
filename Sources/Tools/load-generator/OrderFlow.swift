import EventBus
import Foundation
import Histogram
import RedisClient

/// The orders flow (`--flow orders`): `POST /orders` at the rate, then each order's saga
/// followed to its end, from Redis. Reports sagas per second, the saga completion latency
/// (from the order's `created_at` to the saga's last change), and checks that every saga
/// ended `completed` or `compensated` with stock and payments consistent.
struct OrderFlow {
    let redis: RedisClient
    let keys: Keys
    let skus: [String]
    let drainSeconds: Double

    /// The stack's key names: those of order-service, the saga coordinator and inventory-service
    /// with `STREAM_PARTITIONS` partitions (a partition's hash tag in the key when above 1).
    struct Keys {
        let partitions: StreamPartitions

        private func tagged(_ id: String) -> String {
            partitions.count == 1 ? id : "{\(partitions.tags[partitions.partition(of: id)])}:\(id)"
        }
        func saga(_ id: String) -> String {
            partitions.count == 1 ? "saga:{order}:\(id)" : "saga:order:\(tagged(id))"
        }
        func order(_ id: String) -> String { "order:" + tagged(id) }
        func payment(_ id: String) -> String { "payment:\(id)" }
        func stock(_ sku: String) -> String {
            partitions.count == 1 ? "inventory:stock:\(sku)" : "inventory:{stock}:stock:\(sku)"
        }
    }

    /// Each SKU's stock: available, reserved, sold.
    func stock() async throws -> [String: [Int]] {
        var stock: [String: [Int]] = [:]
        for sku in skus {
            let hash = try await redis.hgetall(keys.stock(sku))
            guard !hash.isEmpty else { throw Failure("SKU \(sku) has no stock (\(keys.stock(sku))); seed it with INVENTORY_SEED") }
            stock[sku] = ["available", "reserved", "sold"].map { Int(hash[$0] ?? "") ?? 0 }
        }
        return stock
    }

    /// One order's end, as Redis has it.
    struct Outcome {
        var sagaStatus: String?
        var orderStatus: String?
        var latencyMicroseconds: Int64?
        var endedAtMs: Int?
        var startedAtMs: Int?
        var sku: String?
        var quantity: Int
        var amount: Int
        var charged: Int
        var refunded: Int
    }

    /// Waits (up to `drainSeconds`) until every saga of `ids` ended, then reads every order's outcome.
    func outcomes(of ids: [String]) async throws -> (outcomes: [String: Outcome], waited: Double) {
        let started = ContinuousClock.now
        let limit = started + .milliseconds(Int64(drainSeconds * 1000))
        var open = ids
        while !open.isEmpty {
            var still: [String] = []
            for chunk in stride(from: 0, to: open.count, by: 500).map({ Array(open[$0..<min($0 + 500, open.count)]) }) {
                let replies = try await redis.pipeline(chunk.map { RedisCommand("HGET", keys.saga($0), "status") })
                for (id, reply) in zip(chunk, replies) where !["completed", "compensated", "failed"].contains(reply.string ?? "") {
                    still.append(id)
                }
            }
            open = still
            if open.isEmpty || ContinuousClock.now > limit { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        var outcomes: [String: Outcome] = [:]
        for chunk in stride(from: 0, to: ids.count, by: 200).map({ Array(ids[$0..<min($0 + 200, ids.count)]) }) {
            var commands: [RedisCommand] = []
            for id in chunk {
                commands.append(RedisCommand("HMGET", keys.saga(id), "status", "started_at_ms", "updated_at_ms"))
                commands.append(RedisCommand("HMGET", keys.order(id), "status", "created_at", "items", "amount_cents"))
                commands.append(RedisCommand("HMGET", keys.payment(id), "charged_cents", "refunded_cents"))
            }
            let replies = try await redis.pipeline(commands)
            for (offset, id) in chunk.enumerated() {
                let saga = replies[offset * 3].array ?? []
                let order = replies[offset * 3 + 1].array ?? []
                let payment = replies[offset * 3 + 2].array ?? []
                func text(_ values: [RedisReply], _ index: Int) -> String? { index < values.count ? values[index].string : nil }
                let endedAt = text(saga, 2).flatMap(Int.init)
                let createdAt = text(order, 1).flatMap { RFC3339.parseMicroseconds($0) }
                let item = text(order, 2).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [[String: Any]] }?.first
                outcomes[id] = Outcome(
                    sagaStatus: text(saga, 0), orderStatus: text(order, 0),
                    latencyMicroseconds: endedAt.flatMap { end in createdAt.map { Int64(end) * 1000 - $0 } },
                    endedAtMs: endedAt, startedAtMs: text(saga, 1).flatMap(Int.init), sku: item?["sku"] as? String,
                    quantity: item?["quantity"] as? Int ?? 0, amount: text(order, 3).flatMap(Int.init) ?? 0,
                    charged: text(payment, 0).flatMap(Int.init) ?? 0, refunded: text(payment, 1).flatMap(Int.init) ?? 0)
            }
        }
        return (outcomes, (ContinuousClock.now - started).seconds)
    }
}

/// What the orders flow found.
struct OrderReport: Encodable {
    var flow = "orders"
    var rateOffered: Double
    var durationSeconds: Double
    var sent: Int
    var created: Int
    var failed: Int
    var dropped: Int
    var completed = 0
    var compensated = 0
    var failedSagas = 0
    var unfinished = 0
    /// Sagas ended per second, from the first saga's start to the last one's end.
    var sagasPerSecond = 0.0
    var drainSeconds: Double
    var completionLatencyMS: LatencyFigures
    var requestLatencyMS: LatencyFigures
    /// Orders whose saga, order, payment or stock disagree.
    var inconsistencies: [String] = []
    var processes: [ProcessUsage]

    enum CodingKeys: String, CodingKey {
        case flow, sent, created, failed, dropped, completed, compensated, unfinished, inconsistencies, processes
        case rateOffered = "rate_offered", durationSeconds = "duration_s", failedSagas = "failed_sagas"
        case sagasPerSecond = "sagas_per_s", drainSeconds = "drain_s", completionLatencyMS = "saga_completion_latency_ms"
        case requestLatencyMS = "request_latency_ms"
    }

    /// Checks every order and the stock, and fills the counts.
    mutating func check(_ outcomes: [String: OrderFlow.Outcome], stockBefore: [String: [Int]], stockAfter: [String: [Int]]) {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var soldBySKU: [String: Int] = [:]
        var firstStart = Int.max, lastEnd = 0
        for (id, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome.sagaStatus {
            case "completed":
                completed += 1
                if outcome.orderStatus != "confirmed" { inconsistencies.append("\(id): saga completed, order \(outcome.orderStatus ?? "missing")") }
                if outcome.charged - outcome.refunded != outcome.amount {
                    inconsistencies.append("\(id): confirmed, charged \(outcome.charged) refunded \(outcome.refunded) of \(outcome.amount)")
                }
                if let sku = outcome.sku { soldBySKU[sku, default: 0] += outcome.quantity }
            case "compensated":
                compensated += 1
                if outcome.orderStatus != "cancelled" { inconsistencies.append("\(id): saga compensated, order \(outcome.orderStatus ?? "missing")") }
                if outcome.charged != outcome.refunded {
                    inconsistencies.append("\(id): cancelled, charged \(outcome.charged) refunded \(outcome.refunded)")
                }
            case "failed": failedSagas += 1
            default: unfinished += 1
            }
            if outcome.charged != 0 && outcome.charged != outcome.amount { inconsistencies.append("\(id): charged \(outcome.charged) of \(outcome.amount)") }
            if let latency = outcome.latencyMicroseconds, latency >= 0 { histogram.record(UInt64(latency)) }
            if let start = outcome.startedAtMs { firstStart = min(firstStart, start) }
            if let end = outcome.endedAtMs { lastEnd = max(lastEnd, end) }
        }
        for (sku, before) in stockBefore.sorted(by: { $0.key < $1.key }) {
            guard let after = stockAfter[sku] else { continue }
            if after.reduce(0, +) != before.reduce(0, +) { inconsistencies.append("\(sku): stock \(before) became \(after): the total changed") }
            if unfinished == 0 && after[1] != before[1] { inconsistencies.append("\(sku): reserved \(before[1]) -> \(after[1]) once every saga ended") }
            if after[2] - before[2] != soldBySKU[sku, default: 0] {
                inconsistencies.append("\(sku): sold grew by \(after[2] - before[2]), confirmed orders took \(soldBySKU[sku, default: 0])")
            }
        }
        let ended = completed + compensated + failedSagas
        if lastEnd > firstStart { sagasPerSecond = (Double(ended) / (Double(lastEnd - firstStart) / 1000) * 10).rounded() / 10 }
        completionLatencyMS = LatencyFigures(histogram)
    }

    func table() -> String {
        let latency = completionLatencyMS
        var lines = [
            "orders: offered \(format(rateOffered))/s for \(format(durationSeconds)) s; sent \(sent), accepted \(created), failed \(failed), dropped \(dropped)",
            "sagas:  completed \(completed), compensated \(compensated), failed \(failedSagas), unfinished \(unfinished); \(format(sagasPerSecond)) sagas/s",
            "saga completion latency (order created -> saga ended), ms: p50 \(latency.p50)  p90 \(latency.p90)  p99 \(latency.p99)  max \(latency.max)",
            "POST /orders latency, ms: p50 \(requestLatencyMS.p50)  p99 \(requestLatencyMS.p99)  max \(requestLatencyMS.max)",
        ]
        for process in processes {
            lines.append(
                "  \(process.name.padding(toLength: 24, withPad: " ", startingAt: 0)) CPU \(String(format: "%6.2f", process.cpuSeconds)) s"
                    + " \(String(format: "%5.1f", process.cpuPercent)) %  \(String(format: "%7.1f", process.cpuMicrosPerEvent)) µs/saga"
                    + "  RSS \(String(format: "%.1f", process.rssEndMB)) MB")
        }
        if inconsistencies.isEmpty {
            lines.append("consistency: every order agrees with its saga, payment and stock")
        } else {
            lines.append("INCONSISTENT (\(inconsistencies.count)):")
            lines += inconsistencies.prefix(20).map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
