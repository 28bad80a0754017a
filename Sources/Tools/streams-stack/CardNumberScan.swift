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
        var cursor = "0"
        var keys = 0
        repeat {
            let reply = try await client.send("SCAN", cursor, "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            for key in (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string) {
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
        } while cursor != "0"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
        for file in files {
            let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
            if cards.contains(where: text.contains) { found.append("log \(logs.appendingPathComponent(file).path)") }
        }
        return (found, keys, files.count)
    }
}
