import Logging
import Synchronization

/// A Redis Cluster as one client sees it: the slot map and one connection per node.
///
/// Guarantees:
/// - Each command runs on the master of its key's slot (`CommandRoute`); a pipeline is split
///   into one pipeline per node (each in order, with today's automatic pipelining), and its
///   replies come back in the order of its commands.
/// - A command Redis did not run because it is elsewhere or busy is sent again, until the
///   request's timeout: `MOVED` (the slot map entry is updated at once and the whole map
///   reloaded in the background), `ASK` (once, after `ASKING`, to the node importing the
///   key), `TRYAGAIN`, `CLUSTERDOWN` and `LOADING` (after a backoff that doubles from 20 ms).
///   A request that could not reach its node (connection refused: nothing was sent) reloads
///   the map and is sent again the same way, which is how a failover is followed.
/// - Nothing that may have run is sent again: a command in flight when its connection
///   broke fails with `.connectionLost`, as on one node.
/// - `SCRIPT LOAD` runs on every master, so a script runs wherever its keys live; `NOSCRIPT`
///   (a promoted replica, a restarted node) makes the caller load it again (RedisScript).
final class ClusterRouter: Sendable {
    private struct State {
        /// The master of each slot, as an index into `masters` (-1: not known).
        var slots = [Int](repeating: -1, count: RedisHashSlot.count)
        var masters: [RedisConfiguration.Endpoint] = []
        var connections: [RedisConfiguration.Endpoint: ConnectionTransport] = [:]
        var loaded = false
        var refreshing = false
        /// Requests waiting for the first map (or the next one, after a failed connect).
        var waiting: [@Sendable (RedisError?) -> Void] = []
        var closed = false
    }

    let configuration: RedisConfiguration
    private let seeds: [RedisConfiguration.Endpoint]
    private let logger: Logger
    private let state = Mutex(State())
    private let refreshes = Atomic<Int>(0)

    /// - Parameter adopting: a connection already open to one node (a client that met its
    ///   first `MOVED` on it), kept as that node's connection.
    init(configuration: RedisConfiguration, seeds: [RedisConfiguration.Endpoint], logger: Logger,
         adopting adopted: ConnectionTransport? = nil) {
        self.configuration = configuration
        self.seeds = seeds
        self.logger = logger
        if let adopted {
            adopted.failsWhileReconnecting.store(true, ordering: .relaxed)
            state.withLock { $0.connections[adopted.configuration.endpoint] = adopted }
        }
    }

    // MARK: Lifecycle

    var statistics: RedisClientStatistics {
        let connections = state.withLock { Array($0.connections.values) }
        var total = RedisClientStatistics(roundTrips: 0, commandsSent: 0, reconnects: 0, failedConnectAttempts: 0)
        for connection in connections {
            let statistics = connection.statistics
            total.roundTrips += statistics.roundTrips
            total.commandsSent += statistics.commandsSent
            total.reconnects += statistics.reconnects
            total.failedConnectAttempts += statistics.failedConnectAttempts
            total.queued += statistics.queued
        }
        return total
    }

    /// How many times the slot map was loaded.
    var mapLoads: Int { refreshes.load(ordering: .relaxed) }

    /// The masters and the slots each serves, as last loaded.
    var slotMap: [(endpoint: RedisConfiguration.Endpoint, slots: [ClosedRange<Int>])] {
        state.withLock { state in
            state.masters.enumerated().map { index, endpoint in
                var ranges: [ClosedRange<Int>] = []
                var start: Int?
                for slot in 0...RedisHashSlot.count {
                    let mine = slot < RedisHashSlot.count && state.slots[slot] == index
                    if mine, start == nil { start = slot }
                    if !mine, let first = start {
                        ranges.append(first...(slot - 1))
                        start = nil
                    }
                }
                return (endpoint, ranges)
            }
        }
    }

    func close() {
        let (connections, waiting) = state.withLock { state in
            state.closed = true
            defer { state.waiting = [] }
            return (Array(state.connections.values), state.waiting)
        }
        for connection in connections { connection.close() }
        for waiter in waiting { waiter(RedisError(.clientClosed, "the Redis client was closed")) }
    }

    func waitForExit() async {
        for connection in state.withLock({ Array($0.connections.values) }) { await connection.waitForExit() }
    }

    /// The connection to `endpoint`, made on first use.
    private func connection(to endpoint: RedisConfiguration.Endpoint) -> ConnectionTransport {
        state.withLock { state in
            if let connection = state.connections[endpoint] { return connection }
            var configuration = self.configuration
            configuration.endpoint = endpoint
            let connection = ConnectionTransport.make(configuration: configuration, logger: logger)
            connection.failsWhileReconnecting.store(true, ordering: .relaxed)
            state.connections[endpoint] = connection
            return connection
        }
    }

    /// A connection to the master of the first slot served, for commands without a key.
    private func anyMaster() -> RedisConfiguration.Endpoint? {
        state.withLock { $0.masters.first }
    }

    // MARK: The slot map

    /// Loads the slot map (`CLUSTER SLOTS`) from a known node or a seed, then runs `then`
    /// (with an error when no node answered). Concurrent calls share one load.
    private func refresh(then: (@Sendable (RedisError?) -> Void)? = nil) {
        let (start, candidates) = state.withLock { state -> (Bool, [RedisConfiguration.Endpoint]) in
            if let then { state.waiting.append(then) }
            if state.closed || state.refreshing { return (false, []) }
            state.refreshing = true
            var candidates = state.masters
            for seed in seeds where !candidates.contains(seed) { candidates.append(seed) }
            for endpoint in state.connections.keys where !candidates.contains(endpoint) { candidates.append(endpoint) }
            return (true, candidates)
        }
        guard start else { return }
        load(from: candidates, errors: [])
    }

    private func load(from candidates: [RedisConfiguration.Endpoint], errors: [String]) {
        guard let endpoint = candidates.first else {
            finishRefresh(RedisError(.connectionFailed, "no cluster node answered CLUSTER SLOTS: \(errors.joined(separator: "; "))"))
            return
        }
        let rest = Array(candidates.dropFirst())
        let timeout = configuration.commandTimeout.wholeMilliseconds
        connection(to: endpoint).submit(
            PendingRequest(commands: [RedisCommand("CLUSTER", "SLOTS")], timeoutMilliseconds: timeout) { outcome in
                switch outcome {
                case .success(let replies):
                    var cursor = replies[0]
                    let reply = RedisReply(cursor: &cursor)
                    do throws(RedisError) {
                        let map = try ClusterSlotMap(reply: reply, answeredBy: endpoint)
                        self.install(map)
                        self.finishRefresh(nil)
                    } catch {
                        self.load(from: rest, errors: errors + ["\(endpoint): \(error.message)"])
                    }
                case .failure(let error):
                    self.load(from: rest, errors: errors + ["\(endpoint): \(error.message)"])
                }
            })
    }

    private func install(_ map: ClusterSlotMap) {
        refreshes.add(1, ordering: .relaxed)
        state.withLock { state in
            state.masters = map.masters
            state.slots = map.slots
            state.loaded = true
        }
    }

    private func finishRefresh(_ error: RedisError?) {
        let waiting = state.withLock { state in
            state.refreshing = false
            defer { state.waiting = [] }
            return state.waiting
        }
        if let error, waiting.isEmpty {
            logger.warning("Could not load the cluster's slot map", metadata: ["error": "\(error.message)"])
        }
        for waiter in waiting { waiter(error) }
    }

    /// The masters as last loaded (loading the map first if it never was).
    func masters() async throws -> [RedisConfiguration.Endpoint] {
        if !state.withLock({ $0.loaded }) {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                refresh { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
            }
        }
        return state.withLock { $0.masters }
    }

    /// Sends `commands` to `endpoint` as they are (no routing): for per-node commands such as
    /// `SCAN`, `INFO` or `DBSIZE`.
    func send(_ commands: [RedisCommand], to endpoint: RedisConfiguration.Endpoint, timeoutMilliseconds: Int) async throws
        -> [RedisReply]
    {
        try await withCheckedThrowingContinuation { continuation in
            connection(to: endpoint).submit(
                PendingRequest(commands: commands, timeoutMilliseconds: timeoutMilliseconds) { outcome in
                    switch outcome {
                    case .success(let replies):
                        continuation.resume(
                            returning: (0..<replies.count).map { index in
                                var cursor = replies[index]
                                return RedisReply(cursor: &cursor)
                            })
                    case .failure(let error):
                        continuation.resume(throwing: error)
                    }
                })
        }
    }

    // MARK: Routing

    /// Sends `commands` and hands their replies, in order, to `decode` (see the type's
    /// guarantees).
    func submit<Result: Sendable>(
        _ commands: [RedisCommand], timeoutMilliseconds: Int,
        decode: @escaping @Sendable (Replies) throws(RedisError) -> Result,
        completion: @escaping @Sendable (Swift.Result<Result, RedisError>) -> Void
    ) {
        let request = RoutedRequest(
            commands: commands, timeoutMilliseconds: timeoutMilliseconds,
            deadline: .now + .milliseconds(timeoutMilliseconds), decode: decode, completion: completion)
        route(request)
    }

    private func route<Result: Sendable>(_ request: RoutedRequest<Result>) {
        let (loaded, closed) = state.withLock { ($0.loaded, $0.closed) }
        if closed { return request.completion(.failure(RedisError(.clientClosed, "the Redis client was closed"))) }
        guard loaded else {
            refresh { error in
                if let error { request.completion(.failure(error)) } else { self.route(request) }
            }
            return
        }
        if request.commands.count == 1, request.commands[0].route == .everyMaster {
            return broadcast(request)
        }
        let targets = self.targets(of: request.commands)
        if Set(targets).count == 1, let target = targets.first {
            send(request, to: target)
        } else {
            gather(request, indices: Array(request.commands.indices), targets: targets, owned: [])
        }
    }

    /// The node of each command: a keyed command's slot master; a keyless one goes with the
    /// keyed command before it (`EXEC`, `WAIT` after the writes), or after it when it leads.
    private func targets(of commands: [RedisCommand]) -> [RedisConfiguration.Endpoint] {
        let routes = commands.map(\.route)
        let (slots, masters) = state.withLock { ($0.slots, $0.masters) }
        let fallback = masters.first ?? seeds.first ?? configuration.endpoint
        var keyed: [RedisConfiguration.Endpoint?] = routes.map { route in
            guard case .slot(let slot) = route else { return nil }
            let index = slots[slot]
            return index >= 0 && index < masters.count ? masters[index] : fallback
        }
        let firstKeyed = keyed.first { $0 != nil } ?? nil
        var previous: RedisConfiguration.Endpoint? = firstKeyed
        for index in keyed.indices {
            if let target = keyed[index] { previous = target } else { keyed[index] = previous ?? fallback }
        }
        return keyed.map { $0 ?? fallback }
    }

    /// One node: the replies are decoded right on its connection's thread unless one of them
    /// is a redirection.
    private func send<Result: Sendable>(_ request: RoutedRequest<Result>, to endpoint: RedisConfiguration.Endpoint) {
        connection(to: endpoint).submit(
            PendingRequest(commands: request.commands, timeoutMilliseconds: request.timeoutMilliseconds) { outcome in
                switch outcome {
                case .success(let replies):
                    if !replies.hasRedirection(movedOrAskOnly: false) {
                        do throws(RedisError) {
                            request.completion(.success(try request.decode(replies)))
                        } catch {
                            request.completion(.failure(error))
                        }
                        return
                    }
                    let owned = (0..<replies.count).map { OwnedReply(copying: replies[$0]) }
                    self.resolve(request, owned: owned, from: endpoint, attempt: 0)
                case .failure(let error):
                    self.retryAfterConnectFailure(error, request: request) { self.route(request) }
                }
            })
    }

    /// Several nodes: each gets its share as one pipeline; the replies are copied, put back in
    /// order, redirections resolved, then decoded together.
    private func gather<Result: Sendable>(
        _ request: RoutedRequest<Result>, indices: [Int], targets: [RedisConfiguration.Endpoint], owned: [OwnedReply?]
    ) {
        var byNode: [RedisConfiguration.Endpoint: [Int]] = [:]
        for (index, target) in zip(indices, targets) { byNode[target, default: []].append(index) }
        let collected = Mutex<(replies: [OwnedReply?], remaining: Int, failure: RedisError?)>(
            (owned.isEmpty ? Array(repeating: nil, count: request.commands.count) : owned, byNode.count, nil))
        for (endpoint, part) in byNode {
            connection(to: endpoint).submit(
                PendingRequest(commands: part.map { request.commands[$0] }, timeoutMilliseconds: request.timeoutMilliseconds) {
                    outcome in
                    let copies: [OwnedReply]?
                    var failure: RedisError?
                    switch outcome {
                    case .success(let replies): copies = (0..<replies.count).map { OwnedReply(copying: replies[$0]) }
                    case .failure(let error):
                        copies = nil
                        failure = error
                    }
                    let done = collected.withLock { collected -> (replies: [OwnedReply?], failure: RedisError?)? in
                        if let copies { for (index, reply) in zip(part, copies) { collected.replies[index] = reply } }
                        if collected.failure == nil, let failure { collected.failure = failure }
                        collected.remaining -= 1
                        return collected.remaining == 0 ? (collected.replies, collected.failure) : nil
                    }
                    guard let done else { return }
                    if let failure = done.failure {
                        // Only a refused connection is sent again (nothing of that part ran); the
                        // parts that reached their nodes keep their replies.
                        if failure.code == .connectionFailed, ContinuousClock.now < request.deadline {
                            let missing = indices.filter { done.replies[$0] == nil }
                            self.retryAfterConnectFailure(failure, request: request) {
                                self.gather(request, indices: missing, targets: self.targets(of: missing.map { request.commands[$0] }), owned: done.replies)
                            }
                        } else {
                            request.completion(.failure(failure))
                        }
                        return
                    }
                    self.resolve(request, owned: done.replies.map { $0 ?? OwnedReply(error: "ERR no reply") }, from: endpoint, attempt: 0)
                })
        }
    }

    /// Continues a request a single-node connection met a redirection in (see RedisClient).
    func resolve<Result: Sendable>(
        _ commands: [RedisCommand], owned: [OwnedReply], from endpoint: RedisConfiguration.Endpoint,
        timeoutMilliseconds: Int, decode: @escaping @Sendable (Replies) throws(RedisError) -> Result,
        completion: @escaping @Sendable (Swift.Result<Result, RedisError>) -> Void
    ) {
        let request = RoutedRequest(
            commands: commands, timeoutMilliseconds: timeoutMilliseconds,
            deadline: .now + .milliseconds(timeoutMilliseconds), decode: decode, completion: completion)
        resolve(request, owned: owned, from: endpoint, attempt: 0)
    }

    /// Sends again the commands whose reply is a redirection, until none is left or the
    /// request's deadline passed (then the redirection is the reply), and decodes.
    private func resolve<Result: Sendable>(
        _ request: RoutedRequest<Result>, owned: [OwnedReply], from endpoint: RedisConfiguration.Endpoint, attempt: Int
    ) {
        let redirected: [(index: Int, redirection: ClusterRedirection)] = owned.enumerated().compactMap { index, reply in
            guard let text = reply.errorText, let redirection = ClusterRedirection(text) else { return nil }
            return (index, redirection.resolvingHost(from: endpoint))
        }
        guard !redirected.isEmpty, ContinuousClock.now < request.deadline else {
            return request.deliver(owned)
        }
        var moved = false
        for case (_, .moved(let slot, let target)) in redirected {
            moved = true
            state.withLock { state in
                if let index = state.masters.firstIndex(of: target) {
                    state.slots[slot] = index
                } else {
                    state.masters.append(target)
                    state.slots[slot] = state.masters.count - 1
                }
            }
        }
        if moved { refresh() }
        let waitFirst = redirected.contains { $0.redirection == .tryAgain }
        let resend = { @Sendable in
            let remaining = Mutex<(replies: [OwnedReply], count: Int)>((owned, redirected.count))
            for (index, redirection) in redirected {
                let command = request.commands[index]
                let (target, commands): (RedisConfiguration.Endpoint, [RedisCommand]) =
                    switch redirection {
                    case .moved(_, let endpoint): (endpoint, [command])
                    case .ask(_, let endpoint): (endpoint, [RedisCommand("ASKING"), command])
                    case .tryAgain: (self.targets(of: [command])[0], [command])
                    }
                self.connection(to: target).submit(
                    PendingRequest(commands: commands, timeoutMilliseconds: request.timeoutMilliseconds) { outcome in
                        let reply: OwnedReply
                        switch outcome {
                        case .success(let replies): reply = OwnedReply(copying: replies[replies.count - 1])
                        case .failure(let error): reply = OwnedReply(error: "\(error.code == .connectionFailed ? "TRYAGAIN" : "ERR") \(error.message)")
                        }
                        let done = remaining.withLock { remaining -> [OwnedReply]? in
                            remaining.replies[index] = reply
                            remaining.count -= 1
                            return remaining.count == 0 ? remaining.replies : nil
                        }
                        if let done { self.resolve(request, owned: done, from: target, attempt: attempt + 1) }
                    })
            }
        }
        if waitFirst || attempt > 0 {
            let delay = Duration.milliseconds(min(20 << min(attempt, 5), 500))
            Task {
                try? await Task.sleep(for: delay)
                resend()
            }
        } else {
            resend()
        }
    }

    /// `SCRIPT LOAD` on every master; the first error, else the first reply.
    private func broadcast<Result: Sendable>(_ request: RoutedRequest<Result>) {
        let masters = state.withLock { $0.masters }
        let collected = Mutex<(replies: [OwnedReply], remaining: Int)>(([], masters.count))
        for endpoint in masters {
            connection(to: endpoint).submit(
                PendingRequest(commands: request.commands, timeoutMilliseconds: request.timeoutMilliseconds) { outcome in
                    let reply: OwnedReply
                    switch outcome {
                    case .success(let replies): reply = OwnedReply(copying: replies[0])
                    case .failure(let error): reply = OwnedReply(error: "ERR \(endpoint): \(error.message)")
                    }
                    let done = collected.withLock { collected -> [OwnedReply]? in
                        collected.replies.append(reply)
                        collected.remaining -= 1
                        return collected.remaining == 0 ? collected.replies : nil
                    }
                    guard let done else { return }
                    request.deliver([done.first { $0.errorText != nil } ?? done[0]])
                })
        }
    }

    /// After a refused connection (nothing sent): reload the map and try again after a
    /// backoff, until the deadline; any other failure is the request's.
    private func retryAfterConnectFailure<Result: Sendable>(
        _ error: RedisError, request: RoutedRequest<Result>, retry: @escaping @Sendable () -> Void
    ) {
        guard error.code == .connectionFailed, ContinuousClock.now < request.deadline else {
            return request.completion(.failure(error))
        }
        Task {
            try? await Task.sleep(for: .milliseconds(100))
            self.refresh { _ in retry() }
        }
    }
}

/// A request being routed over the cluster.
struct RoutedRequest<Result: Sendable>: Sendable {
    let commands: [RedisCommand]
    let timeoutMilliseconds: Int
    let deadline: ContinuousClock.Instant
    let decode: @Sendable (Replies) throws(RedisError) -> Result
    let completion: @Sendable (Swift.Result<Result, RedisError>) -> Void

    /// Decodes the copied replies and completes.
    func deliver(_ replies: [OwnedReply]) {
        do throws(RedisError) {
            completion(.success(try Replies.assembling(replies, decode)))
        } catch {
            completion(.failure(error))
        }
    }
}

extension ClusterRedirection {
    /// An empty host in a redirection means the node that answered.
    func resolvingHost(from endpoint: RedisConfiguration.Endpoint) -> ClusterRedirection {
        guard case .tcp(let host, _) = endpoint else { return self }
        switch self {
        case .moved(let slot, .tcp("", let port)): return .moved(slot: slot, endpoint: .tcp(host: host, port: port))
        case .ask(let slot, .tcp("", let port)): return .ask(slot: slot, endpoint: .tcp(host: host, port: port))
        default: return self
        }
    }
}
