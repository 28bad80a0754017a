import Metrics
import Prometheus

/// The process's Prometheus registry, served at `GET /metrics`. The first use bootstraps
/// swift-metrics with it (once per process), so every metric the framework and the
/// services record lands there, in the service and in tests alike.
public enum ServiceMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
