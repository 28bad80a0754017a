import Hummingbird
import Logging
import ServiceLifecycle

/// Runs a service's application until SIGTERM or SIGINT, which start a graceful stop (the
/// server stops accepting, consumers stop reading, finish and acknowledge their in-flight
/// events, the Redis client closes); whatever still runs after `SHUTDOWN_GRACE_SECONDS` is
/// cancelled. Returns normally after a graceful stop (exit 0).
public enum ServiceRunner {
    /// Runs `application`, with `telemetry` (e.g. the span exporter) started before it and
    /// stopped after it, so that the application's last spans are exported.
    public static func run(
        _ application: some ApplicationProtocol, settings: ServiceSettings, logger: Logger, telemetry: [any Service] = []
    ) async throws {
        var configuration = ServiceGroupConfiguration(
            services: telemetry + [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = settings.shutdownGrace
        logger.info(
            "Service starting",
            metadata: [
                "http.port": "\(settings.httpPort)", "redis": "\(settings.redis.redactedURL)",
                "consumer.name": "\(settings.consumerName)",
            ])
        try await ServiceGroup(configuration: configuration).run()
        logger.info("Service stopped")
    }
}
