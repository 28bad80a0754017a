import Metrics
import Prometheus

/// The process's Prometheus registry, served at `GET /metrics`. The first use bootstraps
/// swift-metrics with it (once per process), so every metric the framework and the
/// services record lands there, in the service and in tests alike.
///
/// A swift-metrics `Timer` is exported as a Prometheus histogram (`_bucket{le=...}`,
/// `_sum`, `_count`, in seconds). Its buckets: `durationBuckets` (0.5 ms to 10 s, for
/// handlers and HTTP requests, most of which take well under the 5 ms where
/// swift-prometheus's defaults start), or `sagaDurationBuckets` (50 ms to 10 min) for
/// `saga_duration_seconds`, whose sagas wait on other services and on step timeouts.
/// Hummingbird's HTTP metrics are renamed `http_requests_total`, `http_request_errors_total`
/// and `http_request_duration_seconds`.
public enum ServiceMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.durationHistogramBuckets = ["saga_duration_seconds": sagaDurationBuckets]
        factory.nameAndLabelSanitizer = { name, labels in (renamed[name] ?? name, labels) }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Hummingbird's `MetricsMiddleware` names, as Prometheus names them (their dimensions
    /// become `http_route`, `http_request_method`, `http_response_status_code`, `error_type`).
    static let renamed = [
        "hb.requests": "http_requests_total", "hb.request.errors": "http_request_errors_total",
        "http.server.request.duration": "http_request_duration_seconds",
    ]

    /// The buckets of every duration histogram but the sagas'.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// The buckets of `saga_duration_seconds`.
    public static let sagaDurationBuckets: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600),
    ]
}
