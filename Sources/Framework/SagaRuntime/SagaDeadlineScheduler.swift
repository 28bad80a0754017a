import Logging
import RedisClient
import ServiceLifecycle

/// Acts on the due deadlines of one saga type: every `pollInterval` it reads the deadlines
/// due (`saga:{<type>}:deadlines`, the earliest first) and feeds each to the coordinator.
///
/// Deadlines live in Redis, so they survive restarts of every coordinator; any number of
/// instances may poll at once (a deadline advances its saga once: the version check).
/// While nothing is due it costs one `ZRANGEBYSCORE` per interval; a deadline fires at most
/// one interval late.
///
/// Each deadline fails on its own, never holding up the others of its batch:
/// - one that can never run as it is (its state cannot be read, the commands of its step
///   cannot be built from the saga's data, the state names a step the definition does not
///   have: `isPermanent`) is parked: moved to `saga:{<type>}:deadlines:parked` with its
///   error in one checked script, logged as an error, counted in
///   `saga_deadlines_parked_total`, listed by `streamsctl sagas parked` and put back by
///   `streamsctl sagas retry-parked` once repaired;
/// - any other failure (Redis down, out of memory, a timeout, ...) leaves it due, to be
///   tried again next round; it is logged and counted in `saga_deadline_errors_total`.
///   When Redis cannot be reached the round stops at once.
/// A round with a failure is followed by a pause that grows up to 5 s, never a tight loop.
/// Stops at graceful shutdown.
public struct SagaDeadlineScheduler: Service {
    let coordinator: SagaCoordinator
    let pollInterval: Duration
    let batchSize: Int
    let logger: Logger

    public init(coordinator: SagaCoordinator, pollInterval: Duration = .milliseconds(100), batchSize: Int = 256, logger: Logger) {
        precondition(pollInterval > .zero && batchSize > 0)
        self.coordinator = coordinator
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        var logger = logger
        logger[metadataKey: "saga.type"] = "\(coordinator.definition.name)"
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.poll() }
    }

    private func poll() async throws {
        var errorPause = pollInterval
        while !Task.isCancelled {
            do {
                let round = try await runRound()
                if round.failed > 0 {
                    try await Task.sleep(for: errorPause)
                    errorPause = min(errorPause * 2, .seconds(5))
                } else {
                    errorPause = pollInterval
                    // A full batch means more may be due: go on at once.
                    if round.due < batchSize { try await Task.sleep(for: pollInterval) }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("Saga deadlines could not be read; retrying", metadata: ["error": "\(error)", "retry_in": "\(errorPause)"])
                try await Task.sleep(for: errorPause)
                errorPause = min(errorPause * 2, .seconds(5))
            }
        }
    }

    /// Feeds the deadlines due now to the coordinator, each on its own (see the type's
    /// documentation); returns how many were due. Throws only when the due deadlines cannot
    /// be read, or Redis cannot be reached.
    @discardableResult
    public func runDue() async throws -> Int {
        try await runRound().due
    }

    /// Whether `error` will come back every time the deadline is tried, until someone repairs
    /// the saga or the deployment: a state that cannot be read (`SagaStoreError`, or a key of
    /// another type), an input that cannot be applied (`SagaInputError`). Anything else, a
    /// Redis that is down or out of memory included, may go away on its own.
    public static func isPermanent(_ error: any Error) -> Bool {
        switch error {
        case is SagaStoreError, is SagaInputError: true
        case let error as RedisError: error.code == .wrongType
        default: false
        }
    }

    private func runRound() async throws -> (due: Int, failed: Int) {
        let store = coordinator.store
        let members = try await store.dueDeadlines(nowMilliseconds: SagaClock.nowMilliseconds(), limit: batchSize)
        var failed = 0
        for member in members {
            try Task.checkCancellation()
            do {
                try await coordinator.deadline(member)
            } catch is CancellationError {
                throw CancellationError()
            } catch where Self.isPermanent(error) {
                if try await !park(member, error) { failed += 1 }
            } catch {
                try failedTransiently(member, error)
                failed += 1
            }
        }
        return (members.count, failed)
    }

    /// Parks `member` for `error`; false when that failed (the deadline stays due).
    private func park(_ member: String, _ error: any Error) async throws -> Bool {
        let metadata = Self.metadata(member, error)
        do {
            if try await coordinator.store.parkDeadline(member, error: "\(error)", nowMilliseconds: SagaClock.nowMilliseconds()) {
                coordinator.metrics.deadlinesParked.increment()
                logger.error(
                    "Saga deadline parked: it cannot run until the saga is repaired (streamsctl sagas parked, sagas retry-parked)",
                    metadata: metadata)
            }
            return true
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            try failedTransiently(member, error)
            return false
        }
    }

    /// Logs and counts a failure that leaves the deadline due; rethrows it when Redis cannot
    /// be reached (the other deadlines would fail alike: the round stops).
    private func failedTransiently(_ member: String, _ error: any Error) throws {
        coordinator.metrics.deadlineErrors.increment()
        logger.warning("Saga deadline failed; it stays due and is tried again", metadata: Self.metadata(member, error))
        if let error = error as? RedisError, error.isConnectionError { throw error }
    }

    private static func metadata(_ member: String, _ error: any Error) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["saga.deadline": "\(member)", "error": "\(error)"]
        if let deadline = SagaStore.parseDeadlineMember(member) {
            metadata["saga.id"] = "\(deadline.id)"
            metadata["saga.step"] = "\(deadline.step)"
            metadata["saga.version"] = "\(deadline.version)"
        }
        return metadata
    }
}
