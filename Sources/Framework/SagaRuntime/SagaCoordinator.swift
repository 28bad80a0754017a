import EventBus
import Foundation
import Logging
import RedisClient

/// Runs the instances of one saga definition: starts them, feeds them replies and
/// deadlines, and commits every change with the commands it emits (`SagaStore`).
///
/// Guarantees:
/// - A change and its commands are written together or not at all; a crash at any point
///   leaves either the old state (the input is redelivered or the deadline is still due)
///   or the new one with its commands sent.
/// - Each input advances a saga at most once, even with several coordinators (one consumer
///   group, any number of instances): a change computed from a stale version is refused
///   and recomputed from the stored state, where a duplicate input is then ignored.
/// - Replies are matched by `meta.saga_id`/`meta.saga_step`; duplicate, late or unexpected
///   ones change nothing and are logged. Deadlines are acted on only while the saga is
///   still at the version that set them.
/// - At least once towards participants: a command is in its stream once its change is
///   committed; participants make commands idempotent per saga.
public struct SagaCoordinator: Sendable {
    public let definition: SagaDefinition
    public let store: SagaStore
    let publisher: EventPublisher
    let makeCommand: @Sendable (SagaEffects.Command, SagaState) throws -> any DomainEvent
    let logger: Logger
    let metrics: SagaMetrics
    let stateCache: SagaStateCache

    /// - Parameters:
    ///   - makeCommand: the event a command of the definition becomes, built from the
    ///     saga's state (its `data` holds what the saga started with).
    ///   - stateCacheCapacity: how many running sagas' last committed states are kept in
    ///     memory, so that their next input is computed without reading the state back
    ///     (the commit's version check still guards it); 0 reads it every time.
    ///   - endedRetention: how long an ended saga's state stays in Redis (nil: forever);
    ///     see `SagaStore`.
    public init(
        definition: SagaDefinition, client: RedisClient, publisher: EventPublisher,
        makeCommand: @escaping @Sendable (SagaEffects.Command, SagaState) throws -> any DomainEvent,
        logger: Logger, stateCacheCapacity: Int = 5_000, endedRetention: Duration? = nil
    ) {
        self.definition = definition
        stateCache = SagaStateCache(capacity: stateCacheCapacity)
        store = SagaStore(
            type: definition.name, client: client, partitions: publisher.partitions, endedRetention: endedRetention)
        self.publisher = publisher
        self.makeCommand = makeCommand
        var logger = logger
        logger[metadataKey: "saga.type"] = "\(definition.name)"
        self.logger = logger
        metrics = SagaMetrics(type: definition.name)
    }

    /// What an input did to its saga.
    public enum Outcome: Sendable, Equatable {
        case changed(SagaState)
        case ignored(reason: String)
    }

    /// Starts saga `id` with `data` (JSON): does nothing when it already exists (a
    /// redelivered starting event).
    @discardableResult
    public func start(id: String, data: String, correlationID: String, causationID: String) async throws -> Outcome {
        try await apply(.start, to: id, cause: causationID) { state in
            state.data = data
            state.correlationID = correlationID
        }
    }

    /// Feeds a participant's reply to its saga; events that are not replies to this saga
    /// type change nothing.
    @discardableResult
    public func reply(_ envelope: EventEnvelope) async throws -> Outcome {
        guard let saga = SagaMessageMetadata.correlation(of: envelope), saga.type == definition.name else {
            return .ignored(reason: "\(envelope.eventType) \(envelope.eventID) is not a reply to a \(definition.name) saga")
        }
        return try await apply(.reply(step: saga.step, type: envelope.eventType), to: saga.id, cause: envelope.eventID)
    }

    /// Acts on a due deadline (a member of the deadlines set): the step or compensation
    /// it guards counts as unanswered, unless the saga has changed since it was set.
    @discardableResult
    public func deadline(_ member: String) async throws -> Outcome {
        guard let deadline = SagaStore.parseDeadlineMember(member) else {
            try await store.removeDeadline(member)
            logger.error("Removed a malformed saga deadline", metadata: ["saga.deadline": "\(member)"])
            return .ignored(reason: "malformed deadline \(member)")
        }
        // The deadline's step continues the trace of the step that set it.
        let parent = EventSpans.isTracing ? try await store.traceparent(of: deadline.id) : nil
        let outcome = try await apply(
            .deadline(step: deadline.step), to: deadline.id, cause: deadline.id, atVersion: deadline.version, parent: parent)
        if case .ignored = outcome { try await store.removeDeadline(member) }
        return outcome
    }

    /// Loads, computes and commits, again from the stored state after a conflict; one span
    /// per saga step (tracing on), which the commands it sends carry as their parent.
    private func apply(
        _ input: SagaInput, to id: String, cause: String, atVersion version: Int? = nil, parent: String? = nil,
        prepare: (inout SagaState) -> Void = { _ in }
    ) async throws -> Outcome {
        try await EventSpans.run(
            "saga \(definition.name) \(Self.describe(input))", parent: parent,
            describe: { span in
                span.attributes["saga.type"] = definition.name
                span.attributes["saga.id"] = id
                span.attributes["saga.input"] = Self.describe(input)
            }
        ) {
            try await applyUntraced(input, to: id, cause: cause, atVersion: version, prepare: prepare)
        }
    }

    private func applyUntraced(
        _ input: SagaInput, to id: String, cause: String, atVersion version: Int?, prepare: (inout SagaState) -> Void
    ) async throws -> Outcome {
        var conflicts = 0
        // This coordinator's last commit of the saga, when it has one: a guess that the
        // commit's version check confirms; anything it would not commit is decided again
        // from the stored state.
        var guess = stateCache.state(of: id)
        while true {
            let fromCache = guess != nil
            var state: SagaState
            if let cached = guess {
                state = cached
                guess = nil
            } else {
                state = try await store.load(id) ?? SagaState(id: id)
            }
            if !fromCache { try definition.check(state) }
            if let version, state.version != version {
                if fromCache { continue }
                return ignored("deadline set at version \(version), saga is at \(state.version)", id: id, input: input)
            }
            if state.version == 0 { prepare(&state) }
            let changed: SagaState
            let effects: SagaEffects
            switch definition.transition(state, on: input) {
            case .ignored(let reason):
                if fromCache { continue }
                return ignored(reason, id: id, input: input)
            case .changed(let state, let emitted): (changed, effects) = (state, emitted)
            }
            let now = SagaClock.nowMilliseconds()
            var next = definition.recording(input, from: state, to: changed, effects: effects, at: now)
            if let traceparent = EventSpans.currentTraceparent() { next.traceparent = traceparent }
            let commands = try effects.commands.map { command in
                let context = EventContext(
                    correlationID: next.correlationID.isEmpty ? id : next.correlationID, causationID: cause,
                    metadata: [
                        SagaMessageMetadata.sagaID: id, SagaMessageMetadata.sagaType: definition.name,
                        SagaMessageMetadata.sagaStep: "\(command.step)",
                    ])
                // Built from the saga's own data only: a failure here fails again every time.
                // To the saga's partition of the command stream: a saga's commands, like its
                // replies, stay in one partition (the saga id is their partition key).
                let stream = publisher.partitions.streamKey(command.stream, partitionKey: id)
                do {
                    return (stream: stream, xadd: try xadd(makeCommand(command, next), to: stream, context: context))
                } catch {
                    throw SagaInputError("saga \(id): the command \(command.type) cannot be built from its data: \(error)")
                }
            }
            let result = try await store.commit(
                next, expectedVersion: state.version, commands: commands, deadline: effects.deadline, event: Self.describe(input),
                previous: state.version == 0 ? nil : state)
            if result == .conflict {
                stateCache.remove(id)
                conflicts += 1
                metrics.conflicts.increment()
                logger.debug("Saga changed meanwhile; recomputing", metadata: ["saga.id": "\(id)", "saga.conflicts": "\(conflicts)"])
                continue
            }
            stateCache.store(next)
            metrics.record(from: state, to: next, commands: effects.commands)
            for (stream, _) in commands { publisher.recordAppended(1, to: stream) }
            log(input, id: id, from: state, to: next, commands: effects.commands)
            return .changed(next)
        }
    }

    private func xadd<Event: DomainEvent>(_ event: Event, to stream: String, context: EventContext) throws -> RedisCommand {
        try publisher.xaddCommand(for: event, stream: stream, context: context)
    }

    private func ignored(_ reason: String, id: String, input: SagaInput) -> Outcome {
        metrics.ignored.increment()
        logger.info("Saga input ignored", metadata: ["saga.id": "\(id)", "saga.input": "\(Self.describe(input))", "reason": "\(reason)"])
        return .ignored(reason: reason)
    }

    private func log(_ input: SagaInput, id: String, from previous: SagaState, to next: SagaState, commands: [SagaEffects.Command]) {
        var metadata: Logger.Metadata = [
            "saga.id": "\(id)", "saga.input": "\(Self.describe(input))", "saga.status": "\(next.status.rawValue)",
            "saga.version": "\(next.version)", "correlation_id": "\(next.correlationID)",
        ]
        if !commands.isEmpty { metadata["saga.commands"] = "\(commands.map(\.type).joined(separator: ","))" }
        if let reason = next.reason { metadata["reason"] = "\(reason)" }
        if next.status == .failed {
            logger.error("Saga failed: a compensation was never acknowledged; it needs an operator", metadata: metadata)
        } else if next.status != previous.status || previous.version == 0 {
            logger.info("Saga \(next.status.rawValue)", metadata: metadata)
        } else {
            logger.debug("Saga advanced", metadata: metadata)
        }
    }

    /// The input as the history stream records it: `start`, `reply <step> <type>`, `deadline <step>`.
    static func describe(_ input: SagaInput) -> String {
        switch input {
        case .start: "start"
        case .reply(let step, let type): "reply \(step) \(type)"
        case .deadline(let step): "deadline \(step)"
        }
    }
}
