import EventBus
import Foundation
import RedisClient

/// Tables for people, one JSON document for machines, errors on standard error.
enum Output {
    /// Prints `rows` under `headers`, columns padded to their widest cell; the columns in
    /// `numeric` are right-aligned.
    static func printTable(_ headers: [String], _ rows: [[String]], numeric: Set<Int> = []) {
        print(table(headers, rows, numeric: numeric))
    }

    static func table(_ headers: [String], _ rows: [[String]], numeric: Set<Int> = []) -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                if numeric.contains(column) { return padding + row[column] }
                return column == row.count - 1 ? row[column] : row[column] + padding
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Prints an `Encodable` as one JSON document, keys sorted.
    static func printEncodable(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else {
            printError("cannot encode the output as JSON")
            return
        }
        print(String(decoding: data, as: UTF8.self))
    }

    /// Prints `value` (dictionaries, arrays, strings, numbers, `NSNull`) as one JSON
    /// document, keys sorted.
    static func printJSON(_ value: Any) {
        guard let data = try? JSONSerialization.data(
            withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else {
            printError("cannot encode the output as JSON")
            return
        }
        print(String(decoding: data, as: UTF8.self))
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("streamsctl: \(message)\n".utf8))
    }

    // MARK: Values

    /// An optional value for JSON: the value or `null`.
    static func json(_ value: (any Sendable)?) -> Any {
        value.map { $0 as Any } ?? NSNull()
    }

    static func text(_ id: StreamEntryID?) -> String { id?.description ?? "-" }
    static func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }

    /// A duration as people read it: `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`.
    static func text(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let seconds = ms / 1000
        switch ms {
        case ..<1000: return "\(ms)ms"
        case ..<60_000: return String(format: "%.1fs", Double(ms) / 1000)
        case ..<3_600_000: return "\(seconds / 60)m\(twoDigits(seconds % 60))s"
        case ..<86_400_000: return "\(seconds / 3600)h\(twoDigits(seconds % 3600 / 60))m"
        default: return "\(seconds / 86400)d\(twoDigits(seconds % 86400 / 3600))h"
        }
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// `text` cut to `limit` characters with an ellipsis, on one line.
    static func short(_ text: String, _ limit: Int = 60) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }
}
