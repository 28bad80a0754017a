extension SagaDefinition {
    /// `next` with its steps' timeline updated for the transition from `previous` on
    /// `input` that emitted `effects`, at `now` (milliseconds since the epoch).
    public func recording(
        _ input: SagaInput, from previous: SagaState, to next: SagaState, effects: SagaEffects, at now: Int
    ) -> SagaState {
        var state = next
        if state.steps.count != steps.count { state.steps = steps.map { SagaStepRecord(name: $0.name) } }
        if previous.version == 0 { state.startedAtMs = now }
        state.updatedAtMs = now
        switch input {
        case .start:
            for step in next.completedSteps {
                state.steps[step].status = .succeeded
                state.steps[step].reply = "started"
                state.steps[step].repliedAtMs = now
            }
        case .reply(let step, let type):
            if previous.status == .running {
                state.steps[step].reply = type
                state.steps[step].repliedAtMs = now
                state.steps[step].status = next.completedSteps.contains(step) ? .succeeded : .failed
            } else {
                state.steps[step].compensationReply = type
                state.steps[step].compensatedAtMs = now
                state.steps[step].status = .compensated
            }
        case .deadline(let step):
            if previous.status == .running {
                state.steps[step].reply = "timeout"
                state.steps[step].repliedAtMs = now
                state.steps[step].status = .timedOut
            } else if next.status == .failed {
                state.steps[step].status = .compensationFailed
            }
        }
        for command in effects.commands {
            if command.isCompensation {
                state.steps[command.step].compensation = command.type
                if state.steps[command.step].compensationSentAtMs == nil { state.steps[command.step].compensationSentAtMs = now }
                state.steps[command.step].compensationSends += 1
                state.steps[command.step].status = .compensating
            } else {
                state.steps[command.step].command = command.type
                state.steps[command.step].sentAtMs = now
                state.steps[command.step].status = .running
            }
        }
        return state
    }
}
