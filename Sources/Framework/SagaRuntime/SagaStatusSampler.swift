import Logging
import Metrics
import ServiceLifecycle

/// Samples how many sagas of one type are in each status, every `interval`, into the gauge
/// `sagas_by_status` (dimensions `saga_type`, `status`: `running`, `compensating`,
/// `completed`, `compensated`, `failed`), and how many of its deadlines are parked into the
/// gauge `saga_parked_deadlines` (dimension `saga_type`; see `SagaDeadlineScheduler`).
///
/// The counts are the sizes of the status index sets (`SagaStore.statusKey`, one pipelined
/// `ZCARD` or `ZCOUNT` per status: `SagaStore.counts()`), so they are the whole store's, not
/// this instance's: every coordinator instance reports the same values (alert on `max by`).
/// With the store's `endedRetention`, each sample first removes from the ended statuses'
/// sets the sagas whose state has expired (`SagaStore.trimEnded`), so an ended saga is
/// counted (here and by `streamsctl sagas list`) only while its state is kept, and an alert
/// on `failed` clears once the failed sagas expire. A failed read is logged and leaves the
/// gauges as they were. Stops at graceful shutdown.
public struct SagaStatusSampler: Service {
    let store: SagaStore
    let interval: Duration
    let logger: Logger

    public init(store: SagaStore, interval: Duration = .seconds(5), logger: Logger) {
        precondition(interval > .zero)
        self.store = store
        self.interval = interval
        var logger = logger
        logger[metadataKey: "saga.type"] = "\(store.type)"
        self.logger = logger
    }

    public func run() async throws {
        let gauges = Dictionary(
            uniqueKeysWithValues: SagaStatus.allCases.map { status in
                (status, Gauge(label: "sagas_by_status", dimensions: [("saga_type", store.type), ("status", status.rawValue)]))
            })
        let parked = Gauge(label: "saga_parked_deadlines", dimensions: [("saga_type", store.type)])
        // The sleep between samples ends at once on graceful shutdown or cancellation.
        try? await cancelWhenGracefulShutdown { try await self.sample(gauges, parked: parked) }
    }

    private func sample(_ gauges: [SagaStatus: Gauge], parked: Gauge) async throws {
        while !Task.isCancelled {
            do {
                try await store.trimEnded(nowMilliseconds: SagaClock.nowMilliseconds())
                for (status, count) in try await store.counts() { gauges[status]?.record(count) }
                parked.record(try await store.parkedDeadlineCount())
            } catch {
                logger.warning("Could not count the sagas by status", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }
}
