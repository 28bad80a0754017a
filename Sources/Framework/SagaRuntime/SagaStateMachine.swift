/// What can happen to a saga instance.
public enum SagaInput: Sendable, Equatable {
    /// Start it: send the first step's command.
    case start
    /// A participant replied `type` for step `step`.
    case reply(step: Int, type: String)
    /// Step `step`'s deadline passed without a reply (a step while `running`, a
    /// compensation while `compensating`).
    case deadline(step: Int)
}

/// What a transition asks for: commands to send and the deadline to set, written in the
/// same atomic step as the new state (the coordinator's outbox).
public struct SagaEffects: Sendable, Equatable {
    /// A command for a participant.
    public struct Command: Sendable, Equatable {
        public let stream: String
        public let type: String
        /// The step it belongs to (replies name it).
        public let step: Int
        public let isCompensation: Bool
    }

    /// When the awaited step (or compensation) counts as unanswered.
    public struct Deadline: Sendable, Equatable {
        public let step: Int
        public let after: Duration
    }

    public var commands: [Command] = []
    /// The deadline for what is now awaited, or nil when nothing is (the saga ended).
    public var deadline: Deadline?
}

/// The result of feeding an input to a saga: a new state with its effects, or nothing to
/// do (a duplicate or late reply, a reply no step expects, a deadline already met).
public enum SagaTransition: Sendable, Equatable {
    case changed(SagaState, SagaEffects)
    case ignored(reason: String)
}

extension SagaDefinition {
    /// The pure rule of the saga: the next state and effects for `input` in `state`.
    ///
    /// - A step's success reply moves to the next step (or ends `completed`); its failure
    ///   reply or its deadline starts compensating.
    /// - Compensations run in reverse order of the steps done, and include the step that
    ///   timed out (its effect is unknown: a late participant may still apply it, and
    ///   compensations are idempotent and harmless when nothing was done); a step whose
    ///   participant replied with a failure did nothing and is not compensated.
    ///   Each is sent again at its deadline, up to `maxCompensationAttempts` sends; past
    ///   that the saga is `failed`.
    /// - Anything else changes nothing: replies for another step, replies after the saga
    ///   moved on or ended, unknown reply types, stale deadlines.
    public func transition(_ state: SagaState, on input: SagaInput) -> SagaTransition {
        switch (state.status, input) {
        case (.running, .start):
            guard state.version == 0 else { return .ignored(reason: "saga \(state.id) has already started") }
            let doneAtStart = steps.prefix { $0.isDoneAtStart }.count
            var next = state
            next.completedSteps = Array(0..<doneAtStart)
            if doneAtStart == steps.count {
                next.status = .completed
                next.version += 1
                return .changed(next, SagaEffects())
            }
            next.currentStep = doneAtStart
            next.version += 1
            return .changed(next, stepEffects(doneAtStart))
        case (_, .start):
            return .ignored(reason: "saga \(state.id) has already started")
        case (.running, .reply(let step, let type)):
            guard state.version > 0, step == state.currentStep, steps.indices.contains(step) else {
                return .ignored(reason: "reply \(type) for step \(step) while step \(state.currentStep) runs")
            }
            if steps[step].successReplies.contains(type) { return advance(state, past: step) }
            if steps[step].failureReplies.contains(type) {
                // The participant answered that it did nothing: only the steps done are undone.
                return beginCompensation(state, failedStep: nil, reason: "\(steps[step].name) failed: \(type)")
            }
            return .ignored(reason: "reply \(type) is not one step \(steps[step].name) expects")
        case (.running, .deadline(let step)):
            guard state.version > 0, step == state.currentStep else {
                return .ignored(reason: "deadline of step \(step) while step \(state.currentStep) runs")
            }
            return beginCompensation(state, failedStep: step, reason: "\(steps[step].name) timed out")
        case (.compensating, .reply(let step, let type)):
            guard let current = state.pendingCompensations.first, step == current,
                let compensation = steps[current].compensation
            else {
                return .ignored(reason: "reply \(type) for step \(step) while compensating")
            }
            guard compensation.acknowledgements.contains(type) else {
                return .ignored(reason: "reply \(type) does not acknowledge \(compensation.command)")
            }
            var next = state
            next.pendingCompensations.removeFirst()
            return compensateNext(next)
        case (.compensating, .deadline(let step)):
            guard let current = state.pendingCompensations.first, step == current else {
                return .ignored(reason: "deadline of step \(step) while compensating another")
            }
            if state.compensationAttempts >= maxCompensationAttempts {
                var next = state
                next.status = .failed
                next.reason =
                    "\(steps[current].compensation?.command ?? "compensation") of \(steps[current].name) unacknowledged after \(state.compensationAttempts) sends"
                next.version += 1
                return .changed(next, SagaEffects())
            }
            var next = state
            next.compensationAttempts += 1
            next.version += 1
            return .changed(next, compensationEffects(current))
        case (_, .reply(let step, let type)):
            return .ignored(reason: "reply \(type) for step \(step) after the saga ended \(state.status.rawValue)")
        case (_, .deadline(let step)):
            return .ignored(reason: "deadline of step \(step) after the saga ended \(state.status.rawValue)")
        }
    }

    private func stepEffects(_ step: Int) -> SagaEffects {
        SagaEffects(
            commands: [.init(stream: steps[step].commandStream, type: steps[step].command, step: step, isCompensation: false)],
            deadline: SagaEffects.Deadline(step: step, after: steps[step].timeout))
    }

    private func compensationEffects(_ step: Int) -> SagaEffects {
        guard let compensation = steps[step].compensation else { return SagaEffects() }
        return SagaEffects(
            commands: [
                .init(stream: compensation.stream ?? steps[step].commandStream, type: compensation.command, step: step, isCompensation: true)
            ],
            deadline: SagaEffects.Deadline(step: step, after: compensation.timeout))
    }

    private func advance(_ state: SagaState, past step: Int) -> SagaTransition {
        var next = state
        next.completedSteps.append(step)
        next.version += 1
        if step + 1 == steps.count {
            next.status = .completed
            return .changed(next, SagaEffects())
        }
        next.currentStep = step + 1
        return .changed(next, stepEffects(step + 1))
    }

    /// `timedOutStep`: a step whose effect is unknown (it may still be applied by a late
    /// participant), undone first; nil when the failed step reported it did nothing.
    private func beginCompensation(_ state: SagaState, failedStep timedOutStep: Int?, reason: String) -> SagaTransition {
        var next = state
        next.status = .compensating
        next.reason = reason
        let undo = (timedOutStep.map { [$0] } ?? []) + state.completedSteps.reversed()
        next.pendingCompensations = undo.filter { steps[$0].compensation != nil }
        return compensateNext(next)
    }

    /// Sends the next pending compensation, or ends `compensated` when none is left.
    private func compensateNext(_ state: SagaState) -> SagaTransition {
        var next = state
        next.version += 1
        guard let step = next.pendingCompensations.first else {
            next.status = .compensated
            next.compensationAttempts = 0
            return .changed(next, SagaEffects())
        }
        next.compensationAttempts = 1
        return .changed(next, compensationEffects(step))
    }
}
