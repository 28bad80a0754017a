import Synchronization
import Testing

@testable import EventBus
@testable import RedisClient

/// The parts that need no Redis: retry backoff, the handler watchdog's state.
@Suite("Pure logic of the event bus")
struct PureLogicTests {
    @Test func backoffGrowsByTheMultiplierAndStopsAtTheMaximum() {
        let policy = RetryPolicy(initialBackoff: .milliseconds(100), multiplier: 2, maximumBackoff: .seconds(1), maxDeliveries: 9)
        let waits = (1...6).map { policy.backoff(afterDeliveries: $0) }
        #expect(waits == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(policy.backoff(afterDeliveries: 0) == .milliseconds(100))
        #expect(RetryPolicy(initialBackoff: .seconds(1), multiplier: 1).backoff(afterDeliveries: 50) == .seconds(1))
    }

    @Test func aRetryPolicyThatCannotWorkIsRefused() {
        for policy in [
            RetryPolicy(maxDeliveries: 0), RetryPolicy(multiplier: 0.5),
            RetryPolicy(initialBackoff: .seconds(10), maximumBackoff: .seconds(1)), RetryPolicy(initialBackoff: .zero),
        ] {
            #expect(throws: EventBusError.self) { try policy.validate() }
        }
        #expect(throws: Never.self) { try RetryPolicy().validate() }
    }

    @Test func theWatchdogTimesOutOnlyTheHandlerThatOverranAndCancelsItsLaneOnce() {
        let work = InFlightWork()
        let ids = [StreamEntryID(milliseconds: 1, sequence: 0), StreamEntryID(milliseconds: 1, sequence: 1)]
        let lane = work.openLane(ids)
        let cancels = Atomic<Int>(0)
        lane.attach { cancels.add(1, ordering: .relaxed) }
        // Idle lane: nothing to expire.
        #expect(work.expireHandlers(runningLongerThan: .zero).isEmpty)
        // The second entry's handler runs: within 30 s it is left alone; past a zero timeout it,
        // and only it, is timed out, once.
        lane.begin(1, at: .now)
        #expect(work.expireHandlers(runningLongerThan: .seconds(30)).isEmpty)
        #expect(work.expireHandlers(runningLongerThan: .zero) == [ids[1]])
        #expect(work.expireHandlers(runningLongerThan: .zero).isEmpty)
        #expect(cancels.load(ordering: .relaxed) == 1)
        #expect(lane.end(1))  // it overran
        // A handler within its time is left alone and ends normally.
        lane.begin(0, at: .now)
        #expect(work.expireHandlers(runningLongerThan: .seconds(30)).isEmpty)
        #expect(!lane.end(0))
        work.closeLane(lane)
        #expect(work.expireHandlers(runningLongerThan: .zero).isEmpty)
    }

    @Test func renewalSkipsTimedOutEntriesAndForgetsUntrackedBatches() {
        let work = InFlightWork()
        let ids = [StreamEntryID(milliseconds: 5, sequence: 0), StreamEntryID(milliseconds: 5, sequence: 1)]
        let token = work.track(ids)
        #expect(work.entriesToRenew(olderThan: .zero).sorted() == ids)
        #expect(work.entriesToRenew(olderThan: .seconds(60)).isEmpty)
        let lane = work.openLane(ids)
        lane.begin(0, at: .now)
        #expect(work.expireHandlers(runningLongerThan: .zero) == [ids[0]])
        #expect(work.entriesToRenew(olderThan: .zero) == [ids[1]])  // the timed-out one is released
        #expect(work.busy() == [ids[1]])  // what this consumer's retry loop must not take
        work.finish(token, holding: [ids[1]])
        #expect(work.entriesToRenew(olderThan: .zero).isEmpty)
        #expect(work.busy() == [ids[1]])  // handled, its XACK not yet sent
        work.release([token])
        #expect(work.busy().isEmpty)
    }
}
