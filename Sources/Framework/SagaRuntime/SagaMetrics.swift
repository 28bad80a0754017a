import Metrics

/// A saga type's metrics, all with the dimension `saga_type`: `sagas_started_total`,
/// `sagas_ended_total{status}` (`completed`, `compensated`, `failed`),
/// `saga_commands_sent_total{command}`, `saga_inputs_ignored_total` (duplicate or late
/// inputs), `saga_version_conflicts_total` (another coordinator committed first), and
/// `saga_duration_seconds{status}`, a histogram of the time from start to end (a `Timer`;
/// ServiceKit's `ServiceMetrics` gives it buckets from 50 ms to 10 min),
/// `saga_deadlines_parked_total` (deadlines that can never run, set aside with their error)
/// and `saga_deadline_errors_total` (deadlines that failed and stay due, to be tried again).
/// The gauges `sagas_by_status` and `saga_parked_deadlines` are sampled from Redis by
/// `SagaStatusSampler`.
struct SagaMetrics: Sendable {
    let type: String
    let started: Counter
    let ignored: Counter
    let conflicts: Counter
    let deadlinesParked: Counter
    let deadlineErrors: Counter

    init(type: String) {
        self.type = type
        started = Counter(label: "sagas_started_total", dimensions: [("saga_type", type)])
        ignored = Counter(label: "saga_inputs_ignored_total", dimensions: [("saga_type", type)])
        conflicts = Counter(label: "saga_version_conflicts_total", dimensions: [("saga_type", type)])
        deadlinesParked = Counter(label: "saga_deadlines_parked_total", dimensions: [("saga_type", type)])
        deadlineErrors = Counter(label: "saga_deadline_errors_total", dimensions: [("saga_type", type)])
    }

    func record(from previous: SagaState, to next: SagaState, commands: [SagaEffects.Command]) {
        if previous.version == 0 { started.increment() }
        for command in commands {
            Counter(label: "saga_commands_sent_total", dimensions: [("saga_type", type), ("command", command.type)]).increment()
        }
        if next.status.isFinal && !previous.status.isFinal {
            let dimensions = [("saga_type", type), ("status", next.status.rawValue)]
            Counter(label: "sagas_ended_total", dimensions: dimensions).increment()
            Timer(label: "saga_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
                .recordMilliseconds(max(0, next.updatedAtMs - next.startedAtMs))
        }
    }
}
