import RedisClient

/// An event delivered to a handler, with its envelope and where it was read from.
public struct ReceivedEvent<Event: DomainEvent>: Sendable {
    public let event: Event
    public let envelope: EventEnvelope
    public let stream: String
    public let entryID: StreamEntryID
    /// Which delivery this is: 1 the first time, more when it is retried or was taken over
    /// from a consumer that stopped.
    public let deliveryCount: Int

    /// The context for events published while handling this one: same correlation id,
    /// caused by this event.
    public var context: EventContext { .causedBy(envelope) }
}

/// The typed handlers of one consumer, by event type. Built before the consumer starts.
///
/// A plain handler (`on`) is called at least once per event: only after it returns is the
/// event acknowledged; if it throws, the event stays pending and is delivered again after
/// its backoff. Such handlers must be idempotent (the `event_id` is the same on every
/// delivery; `IdempotencyGuard` helps with external effects).
///
/// A transactional handler (`onTransactional`) returns Redis writes instead of making them:
/// the writes, the processed-event marker and the `XACK` run as one atomic script, so the
/// writes take effect exactly once per event within the marker's lifetime, even when the
/// event is delivered twice or the consumer dies at any point.
public struct EventHandlers: Sendable {
    var byType: [String: AnyEventHandler] = [:]

    public init() {}

    /// Registers the handler for `Event.eventType` (replacing any earlier one).
    /// - Parameter maxDeliveries: deliveries before the event is dead-lettered; nil uses
    ///   the consumer's `retry.maxDeliveries`.
    public mutating func on<Event: DomainEvent>(
        _ type: Event.Type, maxDeliveries: Int? = nil,
        _ handler: @escaping @Sendable (ReceivedEvent<Event>) async throws -> Void
    ) {
        byType[Event.eventType] = AnyEventHandler(maxDeliveries: maxDeliveries) { raw, context in
            let received: ReceivedEvent<Event>
            do throws(EventBusError) {
                received = try Self.decode(Event.self, raw, context)
            } catch {
                return .failed(error)
            }
            do {
                try await handler(received)
                return .handled
            } catch let error as EventBusError {
                return .failed(error)
            } catch {
                return .failed(EventBusError(.handlerFailed, "\(error)"))
            }
        }
    }

    /// Registers a transactional handler for `Event.eventType`: it returns the Redis writes
    /// the event causes (it may read Redis first, but must not write itself). The consumer
    /// runs them atomically together with the marker `<group>:processed:<event_id>` and the
    /// `XACK`; a delivery that finds the marker only acknowledges.
    ///
    /// The writes are all or nothing: the script checks every write before the first one
    /// (a supported command, the right arguments, keys of the right type, numbers where an
    /// increment needs them) and a write that would fail, or Redis above `maxmemory`, fails
    /// the delivery with nothing written; the event is retried and, if the failure lasts,
    /// dead-lettered. Supported writes: `HSET`, `HDEL`, `HINCRBY`, `HINCRBYFLOAT`, `SET key
    /// value`, `DEL`, `INCR`, `INCRBY`, `DECR`, `DECRBY`, `INCRBYFLOAT`, `SADD`, `SREM`,
    /// `ZADD score member ...`, `ZREM`, `ZINCRBY`, `LPUSH`, `RPUSH`, `LTRIM`, `XADD key
    /// [MAXLEN ~ count] * field value ...`, `EXPIRE`, `PEXPIRE`.
    ///
    /// With `commit: .perBatch` the writes of the events of one read are committed together
    /// (one script, each event still applied exactly once, in stream order): much less Redis
    /// work per event under load. Choose it only when the handler computes its writes from
    /// the event alone (increments, sets), not from what it reads in Redis: the events of a
    /// batch are all handled before their writes are committed, so a handler does not see
    /// the writes of the events before it in the same batch.
    public mutating func onTransactional<Event: DomainEvent>(
        _ type: Event.Type, maxDeliveries: Int? = nil, commit: TransactionalCommit = .perEvent,
        _ handler: @escaping @Sendable (ReceivedEvent<Event>) async throws -> [RedisCommand]
    ) {
        byType[Event.eventType] = AnyEventHandler(maxDeliveries: maxDeliveries) { raw, context in
            let received: ReceivedEvent<Event>
            do throws(EventBusError) {
                received = try Self.decode(Event.self, raw, context)
            } catch {
                return .failed(error)
            }
            let writes: [RedisCommand]
            do {
                writes = try await handler(received)
            } catch let error as EventBusError {
                return .failed(error)
            } catch {
                return .failed(EventBusError(.handlerFailed, "\(error)"))
            }
            if commit == .perBatch && context.batchesTransactions { return .writes(writes, handlerDuration: .zero) }
            do {
                switch try await ProcessedEventTransaction.commit(writes, for: raw, context: context) {
                case .applied, .alreadyApplied: return .acknowledged
                case .superseded: return .superseded
                }
            } catch {
                return .failed(EventBusError(.handlerFailed, "transaction failed: \(error)"))
            }
        }
    }

    private static func decode<Event: DomainEvent>(
        _ type: Event.Type, _ raw: RawEvent, _ context: HandlingContext
    ) throws(EventBusError) -> ReceivedEvent<Event> {
        let event: Event
        do {
            event = try Event.decode(from: raw.data, version: raw.envelope.eventVersion)
        } catch let error as EventBusError {
            throw error
        } catch {
            throw EventBusError(.undecodable, "data of \(Event.eventType) v\(raw.envelope.eventVersion) is invalid: \(error)")
        }
        return ReceivedEvent(
            event: event, envelope: raw.envelope, stream: raw.stream, entryID: raw.entryID,
            deliveryCount: context.deliveryCount)
    }

    /// The event types that have a handler.
    public var eventTypes: [String] { byType.keys.sorted() }
}

/// What a handler needs besides the event: where it came from and a connection.
struct HandlingContext: Sendable {
    let client: RedisClient
    let group: String
    let deliveryCount: Int
    let processedMarkerTTL: Duration
    /// The consumer the entry must still be pending to for a transactional commit to write
    /// (nil outside a consumer: a replay checks no ownership).
    var consumer: String? = nil
    /// Whether the caller commits `.writes` outcomes itself (a consumer does; a replay does not).
    var batchesTransactions = false
}

/// When a transactional handler's writes are committed.
public enum TransactionalCommit: Sendable {
    /// Each event's writes, its marker and its `XACK` in a script of their own.
    case perEvent
    /// The writes of a batch's events in one script (see `onTransactional`).
    case perBatch
}

/// A handler with its event type erased: decodes, calls, and reports the outcome.
struct AnyEventHandler: Sendable {
    let maxDeliveries: Int?
    let handle: @Sendable (RawEvent, HandlingContext) async -> HandlingOutcome
}

enum HandlingOutcome: Sendable {
    /// Done; the consumer acknowledges it.
    case handled
    /// Done and already acknowledged (by a transactional handler's script).
    case acknowledged
    case failed(EventBusError)
    /// Ran, but its commit found the entry no longer pending to this consumer (another
    /// consumer claimed it, or it was dead-lettered or acknowledged meanwhile): nothing was
    /// written or acknowledged. Neither a success nor a failure of this delivery: whoever
    /// holds the entry now settles it.
    case superseded
    /// Ran; its writes are committed by the dispatcher with the rest of the batch (the
    /// dispatcher sets how long the handler took).
    case writes([RedisCommand], handlerDuration: Duration)
}
