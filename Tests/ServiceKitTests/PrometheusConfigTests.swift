import Foundation
import LocalRedisServer
import TestSupport
import Testing

/// deploy/prometheus: the scrape configuration names every service of docker-compose.yml
/// with its port, and the alert rules use only metrics the services export
/// (`ExportedMetrics`, which the services' metrics tests find in their scrapes). With
/// `promtool` on the PATH (Debian's `prometheus` package) or in `$PROMTOOL`, the files are
/// also checked by it and the rules' unit tests (alerts.test.yml) run.
@Suite("deploy/prometheus")
struct PrometheusConfigTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    /// The services of docker-compose.yml that serve `/metrics`.
    static let services = [
        "todo-service", "notification-service", "analytics-service", "order-service", "inventory-service", "payment-service",
        "saga-coordinator",
    ]

    /// Each service's default `HTTP_PORT` in docker-compose.yml (`HTTP_PORT: "${X_PORT:-8081}"`).
    static func composePorts() throws -> [String: Int] {
        var ports: [String: Int] = [:]
        var service: String?
        for line in try read("docker-compose.yml").split(separator: "\n") {
            if line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") {
                service = String(line.dropFirst(2).dropLast())
            } else if let service, let range = line.range(of: "HTTP_PORT: \"${"),
                let dash = line[range.upperBound...].range(of: ":-"), let end = line[dash.upperBound...].firstIndex(of: "}")
            {
                ports[service] = Int(line[dash.upperBound..<end])
            }
        }
        return ports
    }

    struct Rule {
        var alert: String
        var expr = ""
        var keys: Set<String> = []
    }

    /// The rules of alerts.yml: each `- alert:` with its `expr` (one line, or a `>-` block
    /// joined) and the keys under it (`severity`, `summary`, ...).
    static func rules() throws -> [Rule] {
        var rules: [Rule] = []
        var exprIndent: Int?
        for line in try read("deploy/prometheus/alerts.yml").split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            if let level = exprIndent {
                if indent > level, !text.isEmpty {
                    rules[rules.count - 1].expr += " " + text
                    continue
                }
                exprIndent = nil
            }
            if text.hasPrefix("- alert: ") {
                rules.append(Rule(alert: String(text.dropFirst("- alert: ".count))))
            } else if !rules.isEmpty, let colon = text.firstIndex(of: ":"), !text.hasPrefix("#") {
                let key = String(text[..<colon])
                let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                rules[rules.count - 1].keys.insert(key)
                if key == "expr" {
                    if value.hasPrefix(">") || value.hasPrefix("|") {
                        exprIndent = indent
                    } else {
                        rules[rules.count - 1].expr = value
                    }
                }
            }
        }
        return rules
    }

    /// The metric names a PromQL expression selects: identifiers that are not functions,
    /// operators, grouping labels, label matchers or ranges.
    static func metricNames(in expression: String) -> Set<String> {
        var text = expression
        for pattern in [
            #""(\\.|[^"\\])*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#, #"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,
        ] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let identifier = try! NSRegularExpression(pattern: #"(?<![A-Za-z0-9_:])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])(?!\s*\()"#)
        let keywords: Set<String> = ["and", "or", "unless", "bool", "offset"]
        let matches = identifier.matches(in: text, range: NSRange(text.startIndex..., in: text))
        return Set(matches.compactMap { Range($0.range, in: text).map { String(text[$0]) } }).subtracting(keywords)
    }

    @Test func everyServiceIsScrapedOnItsComposePort() throws {
        let config = try Self.read("deploy/prometheus/prometheus.yml")
        #expect(config.contains("rule_files:\n  - alerts.yml"))
        var scraped: [String: Int] = [:]
        var job: String?
        for line in config.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("- job_name: ") { job = String(line.dropFirst("- job_name: ".count)) }
            if let job, line.hasPrefix("- names: ") { #expect(line == "- names: [\(job)]") }
            if let job, line.hasPrefix("port: ") { scraped[job] = Int(line.dropFirst("port: ".count)) }
        }
        let compose = try Self.composePorts()
        #expect(Set(scraped.keys) == Set(Self.services))
        for service in Self.services {
            #expect(
                scraped[service] != nil && scraped[service] == compose[service],
                "\(service): scraped on \(scraped[service] ?? 0), compose's HTTP_PORT \(compose[service] ?? 0)")
        }
    }

    @Test func theAlertRulesUseOnlyExportedMetrics() throws {
        let rules = try Self.rules()
        #expect(
            Set(rules.map(\.alert)).isSuperset(of: ["DeadLettersAppeared", "ConsumerLagGrowing", "PendingEntriesStuck", "SagasFailed"]))
        let exported = ExportedMetrics.consumer.union(ExportedMetrics.saga).union(["up"])
        for rule in rules {
            let names = Self.metricNames(in: rule.expr)
            #expect(!names.isEmpty, "\(rule.alert): no metric in '\(rule.expr)'")
            #expect(names.isSubset(of: exported), "\(rule.alert) uses \(names.subtracting(exported)), which no service exports")
            #expect(rule.keys.isSuperset(of: ["expr", "severity", "summary", "description"]), "\(rule.alert): \(rule.keys)")
        }
        // The extraction itself.
        #expect(
            Self.metricNames(
                in: #"max by (stream, group) (delta(a_b[10m])) > 1e3 or sum by (x) (increase(c_total{s="a b"}[5m])) > 1 unless up"#)
                == ["a_b", "c_total", "up"])
    }

    static let promtool: String? = {
        if let path = ProcessInfo.processInfo.environment["PROMTOOL"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test(.enabled(if: promtool != nil, "promtool is not installed")) func promtoolAcceptsTheFilesAndTheRulesPassTheirTests() async throws {
        let directory = Self.repository.appendingPathComponent("deploy/prometheus").path
        for arguments in [
            ["check", "config", "\(directory)/prometheus.yml"], ["check", "rules", "\(directory)/alerts.yml"],
            ["test", "rules", "\(directory)/alerts.test.yml"],
        ] {
            let result = try await ChildProcess.run(try #require(Self.promtool), arguments)
            #expect(result.exitCode == 0, "promtool \(arguments.joined(separator: " ")): \(result.output)")
        }
    }
}
