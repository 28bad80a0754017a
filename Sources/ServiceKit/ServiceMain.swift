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

    /// Prints a configuration error and exits with status 2.
    public static func exitWithConfigurationError(_ error: any Error) -> Never {
        FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
        exit(2)
    }

    /// Logs to standard error at `level` (once per process) and returns the service's logger.
    public static func bootstrapLogging(service name: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: name)
    }
}
