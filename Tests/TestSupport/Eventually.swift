/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it
/// held. Tests wait for the condition they assert, never for a fixed time. The default
/// deadline is generous (30 s): a full parallel run starts hundreds of redis-servers at once
/// on 2 cores, and a condition that holds within milliseconds alone can take seconds then.
public func eventually(
    timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
