import EventBus
import TodoEvents

/// What the demo's handlers saw, in order.
actor DemoBoard {
    private(set) var lines: [String] = []
    private(set) var totals: [String: Int] = [:]
    var count: Int { lines.count }

    func record(_ line: String) {
        lines.append(line)
        print("  handled: \(line)")
    }

    func count(_ eventType: String) {
        totals[eventType, default: 0] += 1
    }
}

/// The notification service's reactions: tell the user.
enum NotificationHandlers {
    static func make(board: DemoBoard) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(TodoCreated.self) { received in
            await board.record(
                "[notification-service] to \(received.event.userID): your todo '\(received.event.title)' was created (entry \(received.entryID))")
        }
        handlers.on(TodoCompleted.self) { received in
            await board.record(
                "[notification-service] to \(received.event.userID): your todo '\(received.event.title)' has been completed! (entry \(received.entryID))")
        }
        return handlers
    }
}

/// The analytics service's reactions: count everything.
enum AnalyticsHandlers {
    static func make(board: DemoBoard) -> EventHandlers {
        var handlers = EventHandlers()
        func count<Event: DomainEvent>(_ type: Event.Type) {
            handlers.on(type) { received in
                await board.count(Event.eventType)
                await board.record(
                    "[analytics-service] counted \(Event.eventType) for todo \(received.envelope.aggregateID.prefix(8)) (entry \(received.entryID))")
            }
        }
        count(TodoCreated.self)
        count(TodoCompleted.self)
        count(TodoPriorityChanged.self)
        count(TodoDeleted.self)
        return handlers
    }
}
