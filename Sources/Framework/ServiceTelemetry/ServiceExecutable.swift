import Hummingbird
import Logging
import RedisClient
import ServiceKit

/// The one `main` of every service executable: read the configuration (a bad value prints a
/// message naming its variable and exits 2 before anything starts), bootstrap logging and
/// tracing, build the application with the same `buildApplication` the tests run, and run
/// it until SIGTERM or SIGINT stop it gracefully (exit 0).
public enum ServiceExecutable {
    /// Runs the service `name`: `configuration` reads it from the environment, `settings`
    /// picks its common settings, `application` is its `buildApplication`.
    public static func run<Configuration, App: ApplicationProtocol>(
        _ name: String,
        configuration read: (EnvironmentReader) throws -> Configuration,
        settings: KeyPath<Configuration, ServiceSettings>,
        application build: (Configuration, RedisConfiguration, Logger) throws -> App
    ) async throws {
        let configuration = ServiceMain.configuration(read)
        let common = configuration[keyPath: settings]
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: name, settings: common) }
        let app = try build(configuration, common.redis, telemetry.logger)
        try await ServiceRunner.run(app, settings: common, logger: telemetry.logger, telemetry: telemetry.services)
    }
}
