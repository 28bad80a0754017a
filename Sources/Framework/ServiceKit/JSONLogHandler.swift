import EventBus
import Foundation
import Logging

/// How a service writes its log lines (`LOG_FORMAT`).
public enum LogFormat: String, CaseIterable, Sendable {
    /// swift-log's text lines.
    case text
    /// One JSON object per line: `time`, `level`, `logger`, `message`, `source`, then the
    /// metadata as string fields (nested metadata as JSON values).
    case json
}

/// A swift-log handler that writes one JSON object per line to standard error, for log
/// shippers (Vector, Fluent Bit, Loki's promtail, ...). Each line is written with one
/// `write(2)`, so lines from concurrent tasks never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(Data(line(for: event).utf8))
    }

    /// The line (with its newline) for one log event.
    func line(for event: LogEvent) -> String {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        var line = "{\"time\":"
        Self.appendString(RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds()), to: &line)
        line += ",\"level\":"
        Self.appendString(event.level.rawValue, to: &line)
        line += ",\"logger\":"
        Self.appendString(label, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        line += ",\"source\":"
        Self.appendString(event.source, to: &line)
        for key in merged.keys.sorted() where !["time", "level", "logger", "message", "source"].contains(key) {
            line += ","
            Self.appendString(key, to: &line)
            line += ":"
            Self.appendValue(merged[key]!, to: &line)
        }
        line += "}\n"
        return line
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text): appendString(text, to: &line)
        case .stringConvertible(let convertible): appendString(convertible.description, to: &line)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendValue(element, to: &line)
            }
            line += "]"
        case .dictionary(let values):
            line += "{"
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                appendString(key, to: &line)
                line += ":"
                appendValue(values[key]!, to: &line)
            }
            line += "}"
        }
    }

    /// `text` as a JSON string (RFC 8259 escapes).
    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20:
                line += "\\u00" + String(scalar.value >> 4, radix: 16) + String(scalar.value & 0xF, radix: 16)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
