import Foundation
import RedisClient

/// The demo's proof that no card number it sent rests anywhere: every key of the database
/// (streams entry by entry, hashes, sets, sorted sets, lists, strings) and every log file of
/// the stack are searched for the full numbers.
struct CardNumberScan {
    let cards: [String]

    /// The keys and log files that contain one of the numbers, and how many keys were read.
    func run(client: RedisClient, logs: URL) async throws -> (found: [String], keys: Int, logFiles: Int) {
        var found: [String] = []
        var keys = 0
        // Every key of every master on a cluster (scanKeys SCANs each), of the one server otherwise.
        for key in try await client.scanKeys(matching: "*") {
            keys += 1
            let type = try await client.send("TYPE", key).string ?? ""
            let value: RedisReply
            switch type {
            case "string": value = try await client.send("GET", key)
            case "hash": value = try await client.send("HGETALL", key)
            case "list": value = try await client.send("LRANGE", key, "0", "-1")
            case "set": value = try await client.send("SMEMBERS", key)
            case "zset": value = try await client.send("ZRANGE", key, "0", "-1")
            case "stream": value = try await client.send("XRANGE", key, "-", "+")
            default: value = .null
            }
            let text = "\(key) \(value)"
            if cards.contains(where: text.contains) { found.append("Redis key \(key) (\(type))") }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
        for file in files {
            let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
            if cards.contains(where: text.contains) { found.append("log \(logs.appendingPathComponent(file).path)") }
        }
        return (found, keys, files.count)
    }
}
