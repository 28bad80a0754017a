import EventBus
import Foundation
import OrderEvents
import PaymentCards
import RedisClient

/// order-service's state in Redis: each order written together with its event, and its
/// saga transitions applied once.
///
/// Keys: `order:<id>` (hash: `status` pending|confirmed|cancelled, `user_id`, `items`
/// JSON, `amount_cents`, `card_last4`, `created_at` RFC 3339, `reason`, and
/// `confirmed_at` / `cancelled_at` once they happen) and `order:idempotency:<key>` (hash
/// `order_id`, `fingerprint`: the SHA-1 of the request, whose card is only its last four
/// digits; expires after `idempotencyWindow`). With partitioned streams they carry the tag
/// of their partition (`order:{<tag>}:<id>`, `order:idempotency:{<tag>}:<key>`): an order's
/// hash is in the slot of its `order-events` partition, and an order made with an
/// idempotency key gets an id in the key's partition, so creating stays one script on a
/// cluster.
///
/// Guarantees:
/// - Creating is one Lua script that checks every key's type first, then appends
///   `order.created` to `order-events` and writes the hash (and the idempotency record):
///   no order without its event, no event without its order, nothing written on a refusal.
///   No card number reaches Redis: the event carries the card sealed for payment-service
///   (`PaymentCardToken`) and its last four digits, the hash only the last four.
/// - Confirming and cancelling are conditional scripts (the status is read and changed in
///   one step), so two instances or a redelivered command never apply a change twice;
///   each returns the order as it is afterwards, which the caller answers from whether
///   it changed it or not.
public struct OrderStore: Sendable {
    /// How long an `Idempotency-Key` keeps answering with its order.
    public static let idempotencyWindow: Duration = .seconds(24 * 3600)

    let client: RedisClient
    let publisher: EventPublisher
    let cardKey: PaymentCardSealingKey
    var partitions: StreamPartitions { publisher.partitions }

    /// `cardKey`: the public half of the installation's payment key, which seals each order's
    /// card for payment-service. `publishing`: retention and the line per published event (see
    /// `ServiceSettings.publisher`); its stream name is replaced by `order-events`.
    public init(client: RedisClient, cardKey: PaymentCardSealingKey, publishing: EventPublisher.Configuration = .init()) {
        self.client = client
        self.cardKey = cardKey
        var configuration = publishing
        configuration.streamName = { _ in OrderStreams.orderEvents }
        self.publisher = EventPublisher(client: client, configuration: configuration)
    }

    /// The hash of order `id`.
    func key(_ id: String) -> String { "order:" + tagged(id) }
    /// The record of an `Idempotency-Key`.
    func idempotencyKey(_ key: String) -> String { "order:idempotency:" + tagged(key) }

    /// `key`, or `{<tag>}:<key>` with the tag of its partition when partitioned.
    private func tagged(_ key: String) -> String {
        partitions.count == 1 ? key : "{\(partitions.tags[partitions.partition(of: key)])}:\(key)"
    }

    /// A new order id; with an idempotency key and partitions, one in the key's partition.
    func newOrderID(idempotencyKey: String?) -> String {
        guard let idempotencyKey, partitions.count > 1 else { return UUID().uuidString.lowercased() }
        let partition = partitions.partition(of: idempotencyKey)
        while true {
            let id = UUID().uuidString.lowercased()
            if partitions.partition(of: id) == partition { return id }
        }
    }

    // MARK: Reading

    /// The order, or nil when there is none with this id.
    public func find(_ id: String) async throws -> Order? {
        let hash = try await client.hgetall(key(id))
        return hash.isEmpty ? nil : try Order(id: id, hash: hash)
    }

    // MARK: Creating

    /// What `create` did.
    public enum Creation: Sendable, Equatable {
        /// A new order, and its `order.created`.
        case created(Order)
        /// The idempotency key's earlier order (same request): nothing written.
        case existing(id: String)
    }

    /// Creates a pending order and appends its `order.created` (the card sealed) in one
    /// script. With an idempotency key already used for the same request, answers that
    /// order instead; used for another request, throws `idempotencyKeyReused`.
    func create(_ request: ValidOrderRequest, idempotencyKey: String?, context: EventContext) async throws -> Creation {
        let now = Date()
        let order = Order(
            id: newOrderID(idempotencyKey: idempotencyKey), status: .pending, reason: "", userID: request.userID, items: request.items,
            amountCents: request.amountCents, cardLast4: PaymentCardToken.last4(of: request.card), createdAt: now)
        let token = try PaymentCardToken.seal(card: request.card, orderID: order.id, to: cardKey)
        let event = OrderCreated(
            orderID: order.id, userID: order.userID, items: order.items, amountCents: order.amountCents,
            cardLast4: order.cardLast4, paymentToken: token, createdAt: now)
        let xadd = try publisher.xaddCommand(for: event, context: context)
        let fields = try order.hashFields()
        var keys = [key(order.id), publisher.stream(for: event)]
        if let idempotencyKey { keys.append(self.idempotencyKey(idempotencyKey)) }
        let reply = try await client.run(
            Self.createScript, keys: keys, as: CreateOrderReply.self, replicated: publisher.replicaAcknowledgement
        ) { command in
            command.append(Int(Self.idempotencyWindow.components.seconds))
            command.append(request.fingerprint)
            command.append(order.id)
            command.append(countedPairs: fields)
            command.append(countedArgumentsOf: xadd)
        }
        switch reply {
        case .created:
            publisher.recordPublished(event, context: context)
            return .created(order)
        case .existing(let id):
            return .existing(id: id)
        case .reused:
            throw OrderError.idempotencyKeyReused(idempotencyKey ?? "")
        }
    }

    /// KEYS[1] order hash, KEYS[2] `order-events`, KEYS[3] (optional) idempotency record.
    /// ARGV[1] idempotency window (s), ARGV[2] request fingerprint, ARGV[3] order id,
    /// ARGV[4] n, ARGV[5 .. 4+n] hash fields and values, then the XADD: its argument count
    /// and arguments. Replies `{created|existing|reused, order id}`. Every check comes
    /// before the first write (Redis does not roll a script back), and the `#!lua` flags
    /// make Redis above `maxmemory` refuse the whole script before it starts.
    /// The script is `create-order.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let createScript = LuaScripts.createOrder

    // MARK: Saga transitions

    /// What a transition script found and did.
    public struct Transition: Sendable, Equatable {
        /// The order after the script.
        public var order: Order
        /// Whether this call changed its status (false on a repeat, or when the status
        /// does not allow the change).
        public var changed: Bool
    }

    /// pending → confirmed; confirmed and cancelled orders are left as they are. Throws
    /// `notFound` for an unknown order.
    public func confirm(_ id: String, at now: Date = Date()) async throws -> Transition {
        try await transition(id, to: .confirmed, reason: "", at: now)
    }

    /// pending or confirmed → cancelled with `reason`; a cancelled order keeps its first
    /// reason. Throws `notFound` for an unknown order.
    public func cancel(_ id: String, reason: String, at now: Date = Date()) async throws -> Transition {
        try await transition(id, to: .cancelled, reason: reason, at: now)
    }

    private func transition(_ id: String, to status: OrderStatus, reason: String, at now: Date) async throws -> Transition {
        let reply = try await client.run(Self.transitionScript, keys: [key(id)], as: TransitionOrderReply.self) { command in
            command.append(status.rawValue)
            command.append(reason)
            command.append(RFC3339.string(from: now))
        }
        switch reply {
        case .notFound: throw OrderError.notFound(id)
        case .found(let changed, let fields): return Transition(order: try Order(id: id, fields: fields), changed: changed)
        }
    }

    /// KEYS[1] order hash. ARGV[1] confirmed|cancelled, ARGV[2] reason (cancel), ARGV[3]
    /// now (RFC 3339). Nil for an unknown order; else `{1 if changed else 0, HGETALL}`.
    /// Confirm applies only to a pending order, cancel to a pending or confirmed one; the
    /// status is checked before the only write.
    /// The script is `transition-order.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let transitionScript = LuaScripts.transitionOrder
}
