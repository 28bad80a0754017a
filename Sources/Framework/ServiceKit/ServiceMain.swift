import Foundation
import Logging

/// Helpers for a service's `main`.
public enum ServiceMain {
    /// Reads a configuration; on a bad value prints the message (naming the variable) to
    /// standard error and exits with status 2, before anything starts.
    public static func configuration<Configuration>(
        _ read: (EnvironmentReader) throws -> Configuration, environment: EnvironmentReader = EnvironmentReader()
    ) -> Configuration {
        do {
            return try read(environment)
        } catch {
            exitWithConfigurationError(error)
        }
    }

    /// Runs a step of the start that fails only on bad configuration (e.g. an OTLP endpoint
    /// swift-otel refuses); on error prints it and exits with status 2.
    public static func start<Result>(_ step: () throws -> Result) -> Result {
        do {
            return try step()
        } catch {
            exitWithConfigurationError(error)
        }
    }

    /// Prints a configuration error and exits with status 2.
    public static func exitWithConfigurationError(_ error: any Error) -> Never {
        FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
        exit(2)
    }

    /// Logs to standard error at `level` in `format` (once per process), with metadata from
    /// `metadataProvider` on every line (the trace and span ids, when tracing is on), and
    /// returns the service's logger.
    public static func bootstrapLogging(
        service name: String, level: Logger.Level, format: LogFormat = .text, metadataProvider: Logger.MetadataProvider? = nil
    ) -> Logger {
        LoggingSystem.bootstrap(
            { label, provider in
                switch format {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                case .json:
                    var handler = JSONLogHandler(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                }
            }, metadataProvider: metadataProvider)
        return Logger(label: name)
    }
}
