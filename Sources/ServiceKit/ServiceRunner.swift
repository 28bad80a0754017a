import Hummingbird
import Logging
import ServiceLifecycle

/// Runs a service's HTTP server and background services (consumers, samplers) in one
/// `ServiceGroup`: SIGTERM or SIGINT starts a graceful stop (the server stops accepting,
/// consumers stop reading, finish and acknowledge their in-flight events); whatever is still
/// running after `grace` is cancelled. Returns normally after a graceful stop (exit 0).
public enum ServiceRunner {
    public static func run(
        router: Router<ServiceRequestContext>, settings: ServiceSettings, services: [any Service], logger: Logger
    ) async throws {
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort)),
            logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: ([app] + services).map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
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
