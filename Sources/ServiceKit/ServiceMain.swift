import Foundation

/// Helpers for a service's `main`.
public enum ServiceMain {
    /// Reads the common settings; on a bad value prints the message (naming the variable)
    /// to standard error and exits with status 2, before anything starts.
    public static func settings(defaultPort: Int, environment: EnvironmentReader = EnvironmentReader()) -> ServiceSettings {
        do {
            return try ServiceSettings(environment: environment, defaultPort: defaultPort)
        } catch {
            exitWithConfigurationError(error)
        }
    }

    /// Prints a configuration error and exits with status 2.
    public static func exitWithConfigurationError(_ error: any Error) -> Never {
        FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
        exit(2)
    }
}
