import Testing

@testable import SagaRuntime

/// The saga's rules, without Redis: every transition of the order saga's shape.
@Suite("Saga state machine")
struct SagaStateMachineTests {
    /// reserve inventory -> charge payment -> confirm order.
    static let order = SagaDefinition(
        name: "order",
        steps: [
            SagaStep(
                name: "reserve-inventory", command: "inventory.reserve", commandStream: "inventory-commands",
                successReplies: ["inventory.reserved"], failureReplies: ["inventory.out_of_stock"], timeout: .seconds(5),
                compensation: SagaCompensation(command: "inventory.release", acknowledgements: ["inventory.released"], timeout: .seconds(5))),
            SagaStep(
                name: "charge-payment", command: "payment.charge", commandStream: "payment-commands",
                successReplies: ["payment.charged"], failureReplies: ["payment.declined"], timeout: .seconds(5),
                compensation: SagaCompensation(command: "payment.refund", acknowledgements: ["payment.refunded"], timeout: .seconds(5))),
            SagaStep(
                name: "confirm-order", command: "order.confirm", commandStream: "order-commands",
                successReplies: ["order.confirmed"], failureReplies: [], timeout: .seconds(5), compensation: nil),
        ],
        maxCompensationAttempts: 3)

    /// Applies inputs one after another, expecting each to change the state; returns the
    /// last state and every command sent, as `stream type`.
    static func run(_ inputs: [SagaInput], from start: SagaState = SagaState(id: "s1")) -> (SagaState, [String]) {
        var state = start
        var sent: [String] = []
        for input in inputs {
            guard case .changed(let next, let effects) = order.transition(state, on: input) else {
                Issue.record("\(input) was ignored in \(state)")
                return (state, sent)
            }
            #expect(next.version == state.version + 1)
            sent += effects.commands.map { "\($0.stream) \($0.type)" }
            #expect((effects.deadline == nil) == next.status.isFinal, "a deadline exactly while something is awaited")
            state = next
        }
        return (state, sent)
    }

    @Test func everyStepSucceedsAndTheSagaCompletes() {
        let (state, sent) = Self.run([
            .start, .reply(step: 0, type: "inventory.reserved"), .reply(step: 1, type: "payment.charged"),
            .reply(step: 2, type: "order.confirmed"),
        ])
        #expect(state.status == .completed)
        #expect(state.completedSteps == [0, 1, 2])
        #expect(sent == ["inventory-commands inventory.reserve", "payment-commands payment.charge", "order-commands order.confirm"])
    }

    @Test func aDeclinedPaymentIsCompensatedInReverseOrder() {
        let (state, sent) = Self.run([
            .start, .reply(step: 0, type: "inventory.reserved"), .reply(step: 1, type: "payment.declined"),
            .reply(step: 0, type: "inventory.released"),
        ])
        #expect(state.status == .compensated)
        #expect(state.reason == "charge-payment failed: payment.declined")
        // The declined step did nothing: only the reservation is undone.
        #expect(sent.suffix(1) == ["inventory-commands inventory.release"])
        #expect(!sent.contains("payment-commands payment.refund"))
    }

    @Test func aTimedOutStepIsCompensatedAndItsLateReplyChangesNothing() {
        let (state, sent) = Self.run([
            .start, .reply(step: 0, type: "inventory.reserved"), .deadline(step: 1),
        ])
        #expect(state.status == .compensating)
        #expect(state.reason == "charge-payment timed out")
        #expect(sent.last == "payment-commands payment.refund")
        // The payment service comes back and answers the charge: too late.
        guard case .ignored = Self.order.transition(state, on: .reply(step: 1, type: "payment.charged")) else {
            Issue.record("a late success reply changed a compensating saga")
            return
        }
        let (end, _) = Self.run([.reply(step: 1, type: "payment.refunded"), .reply(step: 0, type: "inventory.released")], from: state)
        #expect(end.status == .compensated)
    }

    @Test func duplicateStaleAndUnknownInputsAreIgnored() {
        let (running, _) = Self.run([.start, .reply(step: 0, type: "inventory.reserved")])
        for input: SagaInput in [
            .start, .reply(step: 0, type: "inventory.reserved"), .reply(step: 1, type: "payment.surprise"),
            .reply(step: 2, type: "order.confirmed"), .deadline(step: 0),
        ] {
            guard case .ignored = Self.order.transition(running, on: input) else {
                Issue.record("\(input) changed \(running)")
                continue
            }
        }
        let (done, _) = Self.run([.reply(step: 1, type: "payment.charged"), .reply(step: 2, type: "order.confirmed")], from: running)
        for input: SagaInput in [.reply(step: 2, type: "order.confirmed"), .deadline(step: 2)] {
            guard case .ignored = Self.order.transition(done, on: input) else {
                Issue.record("\(input) changed a completed saga")
                continue
            }
        }
        // Nothing before the start.
        guard case .ignored = Self.order.transition(SagaState(id: "s2"), on: .reply(step: 0, type: "inventory.reserved")) else {
            Issue.record("a reply changed a saga that had not started")
            return
        }
    }

    @Test func aCompensationThatIsNeverAcknowledgedIsResentThenFails() {
        let (state, sent) = Self.run([
            .start, .deadline(step: 0), .deadline(step: 0), .deadline(step: 0), .deadline(step: 0),
        ])
        #expect(state.status == .failed)
        #expect(sent.filter { $0 == "inventory-commands inventory.release" }.count == 3)
        #expect(state.reason?.contains("unacknowledged after 3 sends") == true)
        guard case .ignored = Self.order.transition(state, on: .deadline(step: 0)) else {
            Issue.record("a failed saga went on")
            return
        }
    }

    @Test func aFailureBeforeAnyStepWithACompensationEndsCompensatedAtOnce() {
        let definition = SagaDefinition(
            name: "notify",
            steps: [
                SagaStep(
                    name: "send", command: "mail.send", commandStream: "mail-commands", successReplies: ["mail.sent"],
                    failureReplies: ["mail.bounced"], timeout: .seconds(1), compensation: nil)
            ])
        guard case .changed(let started, _) = definition.transition(SagaState(id: "n"), on: .start),
            case .changed(let ended, let effects) = definition.transition(started, on: .reply(step: 0, type: "mail.bounced"))
        else {
            Issue.record("the saga did not move")
            return
        }
        #expect(ended.status == .compensated && effects.commands.isEmpty && effects.deadline == nil)
    }

    @Test func aStepDoneAtTheStartIsSkippedThenCompensatedLast() {
        let definition = SagaDefinition(
            name: "order",
            steps: [
                SagaStep(
                    doneAtStart: "create-order",
                    compensation: SagaCompensation(
                        command: "order.cancel", acknowledgements: ["order.cancelled"], timeout: .seconds(5), stream: "order-commands"))
            ] + Self.order.steps)
        var state = SagaState(id: "s")
        var sent: [String] = []
        for input: SagaInput in [.start, .reply(step: 1, type: "inventory.out_of_stock"), .reply(step: 0, type: "order.cancelled")] {
            guard case .changed(let next, let effects) = definition.transition(state, on: input) else {
                Issue.record("\(input) was ignored")
                return
            }
            sent += effects.commands.map { "\($0.stream) \($0.type)" }
            state = next
        }
        #expect(sent == ["inventory-commands inventory.reserve", "order-commands order.cancel"])
        #expect(state.status == .compensated)
    }
}
