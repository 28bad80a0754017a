import Foundation
import Logging
import OTel
import ServiceKit
import ServiceLifecycle
import Tracing

/// A service's logs and traces, set up once at the start of its `main`.
///
/// Tracing is off unless configured by the standard OpenTelemetry variables: it is on when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, or
/// `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`), and `OTEL_SDK_DISABLED` is
/// not `true`. swift-otel then reads the rest: `OTEL_SERVICE_NAME` (default: the service's
/// name), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` by default, or `http/json`),
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`.
/// Spans are batched and exported in the background; an unreachable collector costs dropped
/// spans and a diagnostic line, never a failed request or event.
public enum ServiceTelemetry {
    public struct Setup {
        /// The service's logger (every line carries `trace_id` and `span_id` when tracing is on).
        public let logger: Logger
        /// What must run beside the application (the span exporter): pass to `ServiceRunner.run`.
        public let services: [any Service]
    }

    /// Bootstraps logging per `settings` (`LOG_LEVEL`, `LOG_FORMAT`) and, when configured,
    /// tracing; call once, before building the application.
    public static func bootstrap(
        service name: String, settings: ServiceSettings, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Setup {
        guard tracingIsConfigured(environment) else {
            return Setup(logger: ServiceMain.bootstrapLogging(service: name, level: settings.logLevel, format: settings.logFormat), services: [])
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = name
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        let tracing = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracing.factory)
        let logger = ServiceMain.bootstrapLogging(
            service: name, level: settings.logLevel, format: settings.logFormat,
            metadataProvider: OTel.makeLoggingMetadataProvider())
        logger.info("Tracing on", metadata: ["otel.endpoint": "\(endpoint(environment) ?? "default")"])
        return Setup(logger: logger, services: [tracing.service])
    }

    /// Whether the environment asks for traces.
    static func tracingIsConfigured(_ environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"], !exporter.isEmpty { return exporter.lowercased() != "none" }
        return endpoint(environment) != nil
    }

    private static func endpoint(_ environment: [String: String]) -> String? {
        [environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], environment["OTEL_EXPORTER_OTLP_ENDPOINT"]]
            .compactMap { $0 }.first { !$0.isEmpty }
    }
}
