import RedisClient

extension EventHandlers {
    /// Applies `raw` outside a consumer, as group `group`'s transactional handler would: its
    /// writes and the marker `<group>:processed:<event_id>` in the same checked script, so an
    /// event already applied (by the group's consumers or an earlier replay) is skipped, and
    /// one replayed here is skipped when the group later reads it. The script's `XACK` goes
    /// to `raw.stream` (a history stream without the group acknowledges nothing).
    ///
    /// Used to rebuild read models from aggregate histories (Projections); meant for
    /// transactional handlers (a plain handler is called too, but nothing marks its event).
    /// Returns false when the event's type has no handler; throws when the handler or its
    /// script fails (nothing written then).
    @discardableResult
    public func replay(
        _ raw: RawEvent, client: RedisClient, group: String, processedMarkerTTL: Duration = .seconds(7 * 24 * 3600)
    ) async throws -> Bool {
        guard let handler = byType[raw.envelope.eventType] else { return false }
        let context = HandlingContext(
            client: client, group: group, deliveryCount: 1, processedMarkerTTL: processedMarkerTTL)
        switch await handler.handle(raw, context) {
        case .acknowledged, .superseded: return true  // (no ownership check here: never superseded)
        case .handled: return true
        case .failed(let error): throw error
        case .writes: preconditionFailure("a replay's context commits each event's writes itself")
        }
    }
}
