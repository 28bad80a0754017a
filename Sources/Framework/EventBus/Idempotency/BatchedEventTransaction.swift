import RedisClient

/// The writes of several events' transactional handlers (`.perBatch`), committed by one
/// script: for each event not yet processed its writes and its marker, then one `XACK` for
/// all of them. All or nothing for the whole call.
///
/// The script checks every write of every event before the first one, against the state
/// the batch's earlier writes leave (key types, the numbers an increment needs). Where it
/// cannot be sure, it refuses the whole batch with nothing written, and the events are
/// committed one by one (`ProcessedEventTransaction`), so that only an event whose own
/// writes fail fails. An event whose marker exists, or whose `event_id` came earlier in the
/// same batch, is only acknowledged.
///
/// Ownership, per event: an event whose entry is no longer pending to this consumer (claimed
/// by another consumer while this one stalled, dead-lettered or acknowledged meanwhile) is
/// left out: its writes are neither checked nor applied, its marker not set, its entry not
/// acknowledged (`.superseded`), while the batch's other events commit. Leaving it out
/// rather than refusing the batch is what a per-event commit would do for each event; the
/// one left out is settled by whoever holds it now (a marker it did not set cannot hide it).
enum BatchedEventTransaction {
    /// One event of a batch: its entry and the writes its handler returned.
    struct Item {
        let raw: RawEvent
        let writes: [RedisCommand]
    }

    /// Events per script call: bounds the script's run time (Redis serves nothing else meanwhile).
    static let maximumBatch = 64

    /// Commits `items` (entries of one stream); per item `.acknowledged`, `.superseded` or `.failed`.
    static func commit(_ items: [Item], context: HandlingContext) async -> [HandlingOutcome] {
        var outcomes: [HandlingOutcome] = []
        outcomes.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            let chunk = Array(items[start..<min(start + maximumBatch, items.count)])
            outcomes += await commitChunk(chunk, context: context)
            start += chunk.count
        }
        return outcomes
    }

    private static func commitChunk(_ items: [Item], context: HandlingContext) async -> [HandlingOutcome] {
        guard items.count > 1 else { return [await commitOne(items[0], context: context)] }
        do {
            // No span: the commit runs after each event's consumer span ended, and a span of
            // its own would be a root in no event's trace.
            let owned = try await runScript(items, context: context)
            return owned.map { $0 ? .acknowledged : .superseded }
        } catch let error as RedisError where error.message.hasPrefix(refusal) {
            // Something the batch check could not vouch for: one event at a time.
            var outcomes: [HandlingOutcome] = []
            for item in items { outcomes.append(await commitOne(item, context: context)) }
            return outcomes
        } catch {
            return Array(repeating: .failed(EventBusError(.handlerFailed, "transaction failed: \(error)")), count: items.count)
        }
    }

    private static func commitOne(_ item: Item, context: HandlingContext) async -> HandlingOutcome {
        do {
            switch try await ProcessedEventTransaction.runScript(item.writes, for: item.raw, context: context) {
            case .applied, .alreadyApplied: return .acknowledged
            case .superseded: return .superseded
            }
        } catch {
            return .failed(EventBusError(.handlerFailed, "transaction failed: \(error)"))
        }
    }

    /// Per item, whether its entry was still pending to this consumer (and so committed).
    private static func runScript(_ items: [Item], context: HandlingContext) async throws -> [Bool] {
        let keys = [items[0].raw.stream] + items.map {
            ProcessedEventTransaction.markerKey(group: context.group, eventID: $0.raw.envelope.eventID, stream: $0.raw.stream)
        }
        let reply = try await context.client.run(script, keys: keys, as: ScriptFlags.self) { command in
            command.append(context.group)
            command.append(Int(context.processedMarkerTTL.nanoseconds / 1_000_000))
            command.append(context.consumer ?? "")
            for item in items {
                command.append(item.raw.entryID)
                command.append(item.writes.count)
                for write in item.writes { command.append(countedArgumentsOf: write) }
            }
        }
        guard reply.flags.count == items.count else {
            throw EventBusError(.unexpectedReply, "\(script.name) replied \(reply.flags.count) flags for \(items.count) events")
        }
        return reply.flags
    }

    /// The first word of the script's refusal (then committed one by one).
    static let refusal = "BATCHREFUSED"

    /// The script is `Idempotency/commit-batch.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let script = LuaScripts.commitBatch
}
