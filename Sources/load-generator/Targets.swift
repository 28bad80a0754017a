import AsyncHTTPClient
import EventBus
import Foundation
import NIOCore
import RedisClient
import TodoEvents

/// What one send ended with.
enum SendOutcome: Sendable {
    /// The todo (and so its `todo.created` event) exists: its id.
    case created(String)
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

/// The same content for both targets: one of 100 users, a numbered title, a random priority.
enum TodoContent {
    static func user(_ index: Int) -> String { "load-user-\(Int.random(in: 0..<100))" }
    static func title(_ index: Int) -> String { "load test todo \(index)" }
    static func priority() -> TodoPriority { TodoPriority.allCases.randomElement()! }
}

/// `POST /todos` to the todo service.
struct HTTPTarget: LoadTarget {
    let client: HTTPClient
    let baseURL: String

    static func makeClient(concurrency: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(concurrency, 1))
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `GET /ready` must answer 200.
    func checkReady() async throws {
        var request = HTTPClientRequest(url: baseURL + "/ready")
        request.method = .GET
        do {
            let response = try await client.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 1 << 16)
            guard response.status.code == 200 else {
                throw Failure("the todo service at \(baseURL) is not ready: GET /ready answered \(response.status.code)")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(
                "cannot reach the todo service at \(baseURL) (GET /ready: \(error)). Start the stack (scripts/stack.sh up) or pass --todo-url.")
        }
    }

    private struct Created: Decodable { let id: String }

    func send(_ index: Int) async -> SendOutcome {
        var request = HTTPClientRequest(url: baseURL + "/todos")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body =
            #"{"user_id":"\#(TodoContent.user(index))","title":"\#(TodoContent.title(index))","priority":"\#(TodoContent.priority().rawValue)"}"#
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 201 else { return .status(Int(response.status.code)) }
            guard let created = try? JSONDecoder().decode(Created.self, from: Data(bytes.readableBytesView)) else {
                return .failed("201 without a todo id")
            }
            return .created(created.id)
        } catch {
            return .failed(Self.kind(of: error))
        }
    }

    /// A short, countable name for an error (not one key per connection).
    static func kind(of error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)".split(separator: "(").first.map(String.init) ?? "\(error)" }
        return String(describing: type(of: error)) + ": " + String("\(error)".prefix(60))
    }

    func close() async {}
}

/// `TodoCreated` straight to the stream with `EventPublisher` (concurrent publishes share
/// round trips).
struct BusTarget: LoadTarget {
    let client: RedisClient
    let publisher: EventPublisher

    init(redisURL: String) throws {
        client = try RedisClient(url: redisURL)
        publisher = EventPublisher(client: client)
    }

    func send(_ index: Int) async -> SendOutcome {
        let id = UUID().uuidString.lowercased()
        let event = TodoCreated(
            todoID: id, userID: TodoContent.user(index), title: TodoContent.title(index), priority: TodoContent.priority())
        do {
            try await publisher.publish(event, context: EventContext(correlationID: "load-\(index)"))
            return .created(id)
        } catch {
            return .failed(String("\(error)".prefix(80)))
        }
    }

    func close() async { client.close() }
}
