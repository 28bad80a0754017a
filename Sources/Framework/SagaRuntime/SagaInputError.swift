/// An input that cannot be applied to its saga, and will not be until someone repairs the
/// saga or the deployment: the commands of the step cannot be built from what the saga
/// started with (an `order.created` that no longer decodes), or the stored state names a
/// step the definition does not have. Trying again changes nothing; a deadline that fails
/// so is parked (`SagaDeadlineScheduler`), a reply goes the way of any failing event
/// (retried, then dead-lettered).
public struct SagaInputError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension SagaDefinition {
    /// Throws `SagaInputError` when `state` (running or compensating) names a step this
    /// definition does not have, so that no transition indexes past its steps.
    func check(_ state: SagaState) throws {
        guard !state.status.isFinal, state.version > 0 else { return }
        let named = [state.currentStep] + state.completedSteps + state.pendingCompensations
        if let step = named.first(where: { !steps.indices.contains($0) }) {
            throw SagaInputError(
                "saga \(state.id) (\(state.status.rawValue), version \(state.version)) names step \(step); the \(name) saga has \(steps.count) steps")
        }
    }
}
