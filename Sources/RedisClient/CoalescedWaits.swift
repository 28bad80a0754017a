/// The requests of one pipelined batch that end with the same `WAIT` (a write sent with a
/// `ReplicaAcknowledgement`): each is written without it, and one `WAIT` follows the batch;
/// its reply completes all of them.
///
/// Sound because `WAIT` acknowledges every earlier write of its connection, so the one at the
/// end of the batch covers each coalesced request's writes. Needed because `WAIT` blocks the
/// connection until the replicas answer (or its timeout): one per request would hold every
/// command behind it for one replication round trip each, and a whole timeout each while a
/// master has no replica (after a failover), stalling the service's other commands to that node.
struct CoalescedWaits {
    /// The `WAIT` sent once after the batch; nil when fewer than two requests end with it.
    let command: RedisCommand?
    /// Per batch index: whether that request's trailing `WAIT` is left out.
    let members: [Bool]

    static let waitPrefix = Array("$4\r\nWAIT\r\n".utf8)

    init(_ batch: [PendingRequest]) {
        var first: RedisCommand?
        var members = [Bool](repeating: false, count: batch.count)
        var count = 0
        for (index, request) in batch.enumerated() {
            guard let last = request.commands.last, last.body.starts(with: Self.waitPrefix) else { continue }
            if let first {
                guard first.body == last.body else { continue }
            } else {
                first = last
            }
            members[index] = true
            count += 1
        }
        if count >= 2 {
            command = first
            self.members = members
        } else {
            command = nil
            self.members = []
        }
    }

    /// Whether request `index` of the batch is written without its `WAIT`.
    func isMember(_ index: Int) -> Bool { command != nil && members[index] }
}
