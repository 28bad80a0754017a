import Logging
import Metrics
import Prometheus

/// Process-wide set-up every service does first: logs to standard error at `LOG_LEVEL`,
/// metrics to a Prometheus registry (served at `GET /metrics`).
public enum ServiceBootstrap {
    /// Bootstraps logging and metrics once per process and returns the registry.
    public static func bootstrap(logLevel: Logger.Level) -> PrometheusCollectorRegistry {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}
