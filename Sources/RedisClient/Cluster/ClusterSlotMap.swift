/// Which master serves each slot, read from a `CLUSTER SLOTS` reply.
struct ClusterSlotMap: Equatable {
    /// The masters, in the order of the first slot each serves.
    var masters: [RedisConfiguration.Endpoint]
    /// The master of each slot as an index into `masters`, -1 for a slot nobody serves.
    var slots: [Int]

    /// - Parameter endpoint: the node that answered (its host stands for an empty one).
    init(reply: RedisReply, answeredBy endpoint: RedisConfiguration.Endpoint) throws(RedisError) {
        if case .error(let text) = reply { throw RedisError.server(text) }
        guard let ranges = reply.array else {
            throw RedisError(.unexpectedReply, "CLUSTER SLOTS replied \(reply), not an array of slot ranges")
        }
        var masters: [RedisConfiguration.Endpoint] = []
        var slots = [Int](repeating: -1, count: RedisHashSlot.count)
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let first = parts[0].int, let last = parts[1].int,
                first >= 0, last < RedisHashSlot.count, first <= last, let node = parts[2].array, node.count >= 2,
                let host = node[0].string, let port = node[1].int
            else {
                throw RedisError(.unexpectedReply, "CLUSTER SLOTS replied a range of another shape: \(range)")
            }
            var resolvedHost = host
            if host.isEmpty || host == "?", case .tcp(let answering, _) = endpoint { resolvedHost = answering }
            let master = RedisConfiguration.Endpoint.tcp(host: resolvedHost, port: port)
            let index: Int
            if let known = masters.firstIndex(of: master) {
                index = known
            } else {
                masters.append(master)
                index = masters.count - 1
            }
            for slot in first...last { slots[slot] = index }
        }
        if masters.isEmpty { throw RedisError(.unexpectedReply, "CLUSTER SLOTS replied no slot range: the cluster serves nothing") }
        self.masters = masters
        self.slots = slots
    }
}
