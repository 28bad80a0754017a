import Testing

@testable import SagaRuntime

@Suite("Saga state cache")
struct SagaStateCacheTests {
    static func state(_ id: String, _ status: SagaStatus = .running, version: Int = 1) -> SagaState {
        var state = SagaState(id: id)
        state.status = status
        state.version = version
        return state
    }

    @Test func keepsTheLatestStateOfRunningSagasAndForgetsEndedOnes() {
        let cache = SagaStateCache(capacity: 10)
        cache.store(Self.state("a"))
        cache.store(Self.state("a", version: 2))
        #expect(cache.state(of: "a")?.version == 2)
        cache.store(Self.state("a", .completed, version: 3))
        #expect(cache.state(of: "a") == nil)
        #expect(cache.count == 0)
    }

    @Test func holdsAtMostItsCapacityTheOldestGoingFirst() {
        let cache = SagaStateCache(capacity: 3)
        for index in 0..<1_000 {
            cache.store(Self.state("s\(index)"))
            if index % 7 == 0 { cache.remove("s\(index)") }
            #expect(cache.count <= 3)
        }
        #expect(cache.state(of: "s999") != nil && cache.state(of: "s998") != nil)
        #expect(cache.state(of: "s990") == nil)
    }

    @Test func aCapacityOfZeroKeepsNothing() {
        let cache = SagaStateCache(capacity: 0)
        cache.store(Self.state("a"))
        #expect(cache.state(of: "a") == nil)
    }
}
