import Foundation
import Hummingbird
import HummingbirdTesting
import SagaRuntime
import TestSupport
import Testing

/// What an operator sees at saga-coordinator's `/metrics` after a saga ended failed.
///
/// The process's registry is shared by every test in it, and other tests run order sagas
/// (one ends failed) at the same time: the counters are compared before and after, and
/// `sagas_by_status`, which every running coordinator's sampler sets, is awaited until this
/// coordinator's sampler (every 20 ms) has set it from this test's Redis.
@Suite("saga-coordinator metrics")
struct SagaMetricsTests {
    @Test func aFailedSagaShowsInTheCountersTheHistogramAndTheStatusGauge() async throws {
        let timing = OrderSagaCoordinatorTests.timing(step: 300, compensation: 300).merging(["METRICS_SAMPLE_INTERVAL_MS": "20"]) { $1 }
        try await OrderSagaCoordinatorTests.withCoordinator(timing) { participants, http in
            @Sendable func scrape() async throws -> PrometheusText {
                PrometheusText(String(buffer: try await http.execute(uri: "/metrics", method: .get).body))
            }
            let order = ["saga_type": "order"]
            let failed = ["saga_type": "order", "status": "failed"]
            let before = try await scrape()

            // Nobody answers: the reserve times out, its release is never acknowledged.
            _ = try await participants.createOrder("m1")
            _ = try #require(try await participants.waitFor("m1", .failed))

            var metrics = before
            let expected: [SagaStatus: Double] = [.running: 0, .compensating: 0, .completed: 0, .compensated: 0, .failed: 1]
            #expect(
                try await eventually {
                    metrics = try await scrape()
                    return expected.allSatisfy { status, count in
                        metrics.value("sagas_by_status", ["saga_type": "order", "status": status.rawValue]) == count
                    }
                }, "\(metrics.samples("sagas_by_status", order).map { ($0.labels["status"] ?? "?", $0.value) })")
            #expect(metrics.types["sagas_by_status"] == "gauge")

            func increase(_ name: String, _ labels: [String: String]) -> Double {
                (metrics.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)
            }
            // At least this saga's (another test's failed saga may end meanwhile).
            #expect(increase("sagas_started_total", order) >= 1)
            #expect(increase("sagas_ended_total", failed) >= 1)
            #expect(metrics.types["saga_duration_seconds"] == "histogram")
            #expect(increase("saga_duration_seconds_count", failed) == increase("sagas_ended_total", failed))
            #expect((metrics.value("saga_duration_seconds_sum", failed) ?? 0) > 0)
            // Buckets from 50 ms to 10 min: this saga took over 300 ms (a step timeout and three
            // compensation timeouts), so it is above the first bucket's bound.
            let buckets = metrics.samples("saga_duration_seconds_bucket", failed)
            #expect(buckets.compactMap { $0.labels["le"] }.first == "0.05")
            #expect(buckets.first { $0.labels["le"] == "600.0" } != nil)
            #expect(
                (buckets.first { $0.labels["le"] == "0.05" }?.value ?? 0) < (buckets.first { $0.labels["le"] == "+Inf" }?.value ?? 0))

            #expect(
                ExportedMetrics.saga.isSubset(of: metrics.families), "not exported: \(ExportedMetrics.saga.subtracting(metrics.families))")
        }
    }
}
