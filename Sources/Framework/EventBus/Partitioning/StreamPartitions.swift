import RedisClient

/// How each event stream is split into partition streams, and which partition an event
/// goes to.
///
/// Guarantees:
/// - Stable: the partition of a key depends only on the key and the partition count: the
///   same in every process, on every machine and in every version of this library (jump
///   consistent hash, Lamping & Veach 2014, of the key's 64-bit FNV-1a hash). Changing the
///   count moves about `1 / count` of the keys, no more.
/// - Co-partitioned: partition `i` of every stream carries the same hash tag, so the keys of
///   one partition (its stream, dead letters, processed markers, a saga's state and the
///   commands it sends) hash to one Redis Cluster slot, and one script can write them all.
/// - Spread: the tag of partition `i` hashes into the `i`-th of `count` equal slot ranges, so
///   a cluster whose masters own equal slot ranges (what `redis-cli --cluster create` makes)
///   gets equal numbers of partitions when `count` is a multiple of the number of masters.
///
/// Keys: with one partition (the default) a stream keeps its name (`todo-events`). With
/// `count` > 1 partition `i` of `todo-events` is `todo-events:{<tag i>}`, where the tag is
/// `p<i>` if that hashes into the partition's slot range, otherwise `p<i>.<k>` for the
/// smallest `k` ≥ 1 that does (for example `todo-events:{p0}`, `todo-events:{p1.6}`).
public struct StreamPartitions: Sendable, Hashable, CustomStringConvertible {
    /// How many partition streams each stream has (1: not partitioned).
    public let count: Int
    /// The hash tag of each partition (without braces).
    public let tags: [String]

    /// One partition: streams keep their plain names.
    public static let single = StreamPartitions(validCount: 1)

    /// Partitions for `count` from 1 to 16384 (a cluster's slots).
    public init(count: Int) throws {
        guard (1...RedisHashSlot.count).contains(count) else {
            throw EventBusError(.invalidConfiguration, "the partition count must be from 1 to \(RedisHashSlot.count), got \(count)")
        }
        self.init(validCount: count)
    }

    private init(validCount count: Int) {
        self.count = count
        self.tags = (0..<count).map { Self.tag(of: $0, count: count) }
    }

    public var description: String { "\(count) partition\(count == 1 ? "" : "s")" }

    // MARK: Partition of an event

    /// The partition of `key` (an aggregate id, unless a publisher names another key).
    public func partition(of key: String) -> Int {
        count == 1 ? 0 : Int(Self.jumpConsistentHash(Self.fnv1a64(key), buckets: count))
    }

    /// The partition stream an event with `partitionKey` goes to.
    public func streamKey(_ stream: String, partitionKey: String) -> String {
        streamKey(stream, partition: partition(of: partitionKey))
    }

    // MARK: Keys

    /// The key of partition `partition` of `stream`.
    public func streamKey(_ stream: String, partition: Int) -> String {
        precondition((0..<count).contains(partition), "partition \(partition) out of 0..<\(count)")
        return count == 1 ? stream : "\(stream):{\(tags[partition])}"
    }

    /// Every partition stream of `stream`, in partition order.
    public func streamKeys(_ stream: String) -> [String] {
        (0..<count).map { streamKey(stream, partition: $0) }
    }

    /// The stream and partition a partition stream key names, or nil when `key` is not a
    /// partition of this layout (a plain stream name when `count` is 1).
    public func parse(_ key: String) -> (stream: String, partition: Int)? {
        if count == 1 { return Self.partitionTag(of: key) == nil ? (key, 0) : nil }
        guard key.hasSuffix("}"), let open = key.range(of: ":{", options: .backwards) else { return nil }
        let tag = String(key[open.upperBound..<key.index(before: key.endIndex)])
        guard let partition = tags.firstIndex(of: tag) else { return nil }
        return (String(key[..<open.lowerBound]), partition)
    }

    /// The `:{tag}` suffix of a partition stream key (nil for a plain stream name).
    public static func partitionTag(of key: String) -> String? {
        guard key.hasSuffix("}"), let open = key.range(of: ":{", options: .backwards) else { return nil }
        let tag = key[open.upperBound..<key.index(before: key.endIndex)]
        return tag.isEmpty || tag.contains("{") ? nil : String(tag)
    }

    /// A key in the same Redis Cluster slot as `key`: `<prefix>:{<tag>}:<suffix>`, where the
    /// tag is `key`'s hash tag (`todo-events:{p2}` and `es:todo-events:{p2}:<id>` give `p2`),
    /// or `key` itself when it has none (`todo-events` gives `todo-events`, which is how the
    /// plain key hashes).
    public static func colocatedKey(_ prefix: String, _ suffix: String, with key: String) -> String {
        "\(prefix):{\(hashTag(of: key) ?? key)}:\(suffix)"
    }

    /// The hash tag of `key` as Redis Cluster reads it (between the first `{` and the next
    /// `}`, when not empty), or nil.
    public static func hashTag(of key: String) -> String? {
        guard let open = key.firstIndex(of: "{") else { return nil }
        let rest = key[key.index(after: open)...]
        guard let close = rest.firstIndex(of: "}"), close != rest.startIndex else { return nil }
        return String(rest[..<close])
    }

    // MARK: Hashing (stable: part of the key layout)

    /// The tag of partition `index` of `count`: `p<index>` or `p<index>.<k>`, the first whose
    /// slot is in the partition's range `[index × 16384 / count, (index + 1) × 16384 / count)`.
    static func tag(of index: Int, count: Int) -> String {
        let lower = index * RedisHashSlot.count / count
        let upper = (index + 1) * RedisHashSlot.count / count
        var suffix = 0
        while true {
            let tag = suffix == 0 ? "p\(index)" : "p\(index).\(suffix)"
            if (lower..<upper).contains(RedisHashSlot.slot(of: tag)) { return tag }
            suffix += 1
        }
    }

    /// 64-bit FNV-1a of the key's UTF-8 bytes.
    static func fnv1a64(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash
    /// Algorithm", 2014): a bucket in `0..<buckets`.
    static func jumpConsistentHash(_ key: UInt64, buckets: Int) -> Int {
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }
}
