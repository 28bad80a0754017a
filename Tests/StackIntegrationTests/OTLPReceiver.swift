import Foundation
import Hummingbird
import Logging
import Synchronization
import TestSupport

/// A test OpenTelemetry collector: `POST /v1/traces` with OTLP/JSON bodies
/// (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), keeping every span it receives.
final class OTLPReceiver: Sendable {
    /// One received span with its service.
    struct ReceivedSpan: Sendable, CustomStringConvertible {
        let service: String
        let traceID: String
        let spanID: String
        let parentSpanID: String
        let name: String
        let kind: Int
        let attributes: [String: String]

        var description: String { "\(service) \(name) [\(spanID) <- \(parentSpanID.isEmpty ? "root" : parentSpanID)]" }
    }

    private let boundPort = Mutex<Int?>(nil)
    private let spans = Mutex<[ReceivedSpan]>([])
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)

    /// The port it listens on (chosen by the system), once `start` returned.
    var port: Int { boundPort.withLock { $0 } ?? 0 }

    var received: [ReceivedSpan] { spans.withLock { $0 } }

    /// Starts answering on a port the system picks; returns once it listens.
    func start() async throws {
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let parsed = Self.parse(Data(buffer: body))
            self.spans.withLock { $0 += parsed }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.boundPort.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "otlp-receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await application.runService(gracefulShutdownSignals: []) }
        task.withLock { $0 = running }
        let started = try await eventually(timeout: .seconds(60)) { self.port != 0 }
        guard started else {
            running.cancel()
            let failure: String
            switch await running.result {
            case .failure(let error): failure = "\(error)"
            case .success: failure = "it stopped"
            }
            throw StackTestError("the OTLP receiver did not start: \(failure)")
        }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }

    /// The spans of an OTLP/JSON `ExportTraceServiceRequest`.
    static func parse(_ data: Data) -> [ReceivedSpan] {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        var spans: [ReceivedSpan] = []
        for resourceSpans in root["resourceSpans"] as? [[String: Any]] ?? [] {
            let resource = attributes((resourceSpans["resource"] as? [String: Any])?["attributes"])
            for scope in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    spans.append(
                        ReceivedSpan(
                            service: resource["service.name"] ?? "?", traceID: span["traceId"] as? String ?? "",
                            spanID: span["spanId"] as? String ?? "", parentSpanID: span["parentSpanId"] as? String ?? "",
                            name: span["name"] as? String ?? "", kind: kind(span["kind"]), attributes: attributes(span["attributes"])))
                }
            }
        }
        return spans
    }

    /// OTLP attributes (`[{key, value: {stringValue | intValue | ...}}]`) as text.
    private static func attributes(_ value: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for attribute in value as? [[String: Any]] ?? [] {
            guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any], let first = value.first
            else { continue }
            result[key] = "\(first.value)"
        }
        return result
    }

    /// A span kind given as a number or as its enum name (`SPAN_KIND_CONSUMER`).
    private static func kind(_ value: Any?) -> Int {
        if let number = value as? Int { return number }
        let names = ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"]
        return (value as? String).flatMap { names.firstIndex(of: $0) } ?? 0
    }
}
