import EventBus
import Foundation
import RedisClient
import TodoEvents

/// What one send ended with.
enum SendOutcome: Sendable {
    /// The todo (and so its `todo.created` event) exists: its id.
    case created(String)
    /// A 2xx answer to a request that creates nothing (`--target health`).
    case ok
    /// An HTTP status other than 201.
    case status(Int)
    /// No answer: connection refused, timeout, Redis error...
    case failed(String)
}

/// Where the load goes: one call per event.
protocol LoadTarget: Sendable {
    func send(_ index: Int) async -> SendOutcome
    func close() async
}

/// The same content for both targets (`HTTPRequestShape` writes it as bytes): one of 100
/// users, a numbered title, one of the four priorities.
enum TodoContent {
    static func user(_ index: Int) -> String { "load-user-\(index % 100)" }
    static func title(_ index: Int) -> String { "load test todo \(index)" }
    static func priority(_ index: Int) -> TodoPriority { [.low, .medium, .high, .urgent][index & 3] }
}

/// `TodoCreated` straight to the stream with `EventPublisher` (concurrent publishes share
/// round trips).
struct BusTarget: LoadTarget {
    let client: RedisClient
    let publisher: EventPublisher

    init(redisURL: String, partitions: StreamPartitions) throws {
        client = try RedisClient(url: redisURL)
        publisher = EventPublisher(client: client, configuration: .init(partitions: partitions))
    }

    func send(_ index: Int) async -> SendOutcome {
        let id = UUID().uuidString.lowercased()
        let event = TodoCreated(
            todoID: id, userID: TodoContent.user(index), title: TodoContent.title(index), priority: TodoContent.priority(index))
        do {
            try await publisher.publish(event, context: EventContext(correlationID: "load-\(index)"))
            return .created(id)
        } catch {
            return .failed(String("\(error)".prefix(80)))
        }
    }

    func close() async { client.close() }
}
