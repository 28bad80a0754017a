import Foundation
import Yams

/// The parts of docker-compose.yml the local stack needs: each service's command, environment
/// and profiles (with `${VAR}`, `${VAR:-default}` and `${VAR:?message}` substituted from the
/// given environment, as docker compose does).
struct ComposeFile {
    struct Service {
        let name: String
        let command: [String]
        let environment: [String: String]
        /// Its `profiles` (empty: the default profile, always on).
        let profiles: [String]
    }

    let services: [Service]

    init(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any], let services = root["services"] as? [String: Any] else {
            throw StackError("\(path) has no 'services' section")
        }
        self.services = try services.keys.sorted().map { name in
            guard let definition = services[name] as? [String: Any] else { throw StackError("service \(name) is not a mapping") }
            let command: [String]
            switch definition["command"] {
            case let list as [Any]: command = list.map { "\($0)" }
            case let text as String: command = text.split(separator: " ").map(String.init)
            default: command = []
            }
            var variables: [String: String] = [:]
            switch definition["environment"] {
            case let map as [String: Any]:
                for (key, value) in map { variables[key] = try Self.substitute(value is NSNull ? "" : "\(value)", environment) }
            case let list as [Any]:
                for item in list.map({ "\($0)" }) {
                    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                    variables[parts[0]] = try Self.substitute(parts.count > 1 ? parts[1] : "", environment)
                }
            default: break
            }
            let profiles = (definition["profiles"] as? [Any])?.map { "\($0)" } ?? []
            return Service(name: name, command: command, environment: variables, profiles: profiles)
        }
    }

    /// `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `$NAME` replaced from `environment`;
    /// `${NAME:?message}` (unset or empty) and `${NAME?message}` (unset) fail with the message,
    /// as docker compose refuses to start.
    static func substitute(_ text: String, _ environment: [String: String]) throws -> String {
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$", text.index(after: index) < text.endIndex else {
                result.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            if text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                let inner = String(text[text.index(after: next)..<close])
                let nameEnd = inner.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_") } ?? inner.endIndex
                let name = String(inner[..<nameEnd])
                let value = environment[name]
                let modifier = inner[nameEnd...]
                let unsetOrEmpty = value?.isEmpty ?? true
                if modifier.hasPrefix(":-") {
                    result += unsetOrEmpty ? String(modifier.dropFirst(2)) : value!
                } else if modifier.hasPrefix("-") {
                    result += value ?? String(modifier.dropFirst())
                } else if modifier.hasPrefix(":?") || modifier.hasPrefix("?") {
                    let strict = modifier.hasPrefix(":?")
                    guard let value, !(strict && value.isEmpty) else {
                        let message = modifier.dropFirst(strict ? 2 : 1)
                        throw StackError(message.isEmpty ? "\(name) is not set" : String(message))
                    }
                    result += value
                } else {
                    result += value ?? ""
                }
                index = text.index(after: close)
            } else if text[next] == "$" {
                result.append("$")
                index = text.index(after: next)
            } else {
                var end = next
                while end < text.endIndex, text[end].isLetter || text[end].isNumber || text[end] == "_" { end = text.index(after: end) }
                result += environment[String(text[next..<end])] ?? ""
                index = end
            }
        }
        return result
    }
}

/// A failure of the stack tool, printed as is.
struct StackError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
