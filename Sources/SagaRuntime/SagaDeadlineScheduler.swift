import Logging
import ServiceLifecycle

/// Acts on the due deadlines of one saga type: every `pollInterval` it reads the deadlines
/// due (`saga:{<type>}:deadlines`, the earliest first) and feeds each to the coordinator.
///
/// Deadlines live in Redis, so they survive restarts of every coordinator; any number of
/// instances may poll at once (a deadline advances its saga once: the version check).
/// While nothing is due it costs one `ZRANGEBYSCORE` per interval; a deadline fires at most
/// one interval late. Redis errors are logged and retried after a growing pause, never in
/// a tight loop. Stops at graceful shutdown.
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
                let due = try await runDue()
                errorPause = pollInterval
                // A full batch means more may be due: go on at once.
                if due < batchSize { try await Task.sleep(for: pollInterval) }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("Saga deadlines could not be read; retrying", metadata: ["error": "\(error)", "retry_in": "\(errorPause)"])
                try await Task.sleep(for: errorPause)
                errorPause = min(errorPause * 2, .seconds(5))
            }
        }
    }

    /// Feeds the deadlines due now to the coordinator; returns how many were due.
    @discardableResult
    public func runDue() async throws -> Int {
        let members = try await coordinator.store.dueDeadlines(nowMilliseconds: SagaClock.nowMilliseconds(), limit: batchSize)
        for member in members {
            try Task.checkCancellation()
            try await coordinator.deadline(member)
        }
        return members.count
    }
}
