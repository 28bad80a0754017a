import EventStore
import Foundation
import Hummingbird
import ServiceKit
import TodoEvents

/// The todo HTTP API, on an event-sourced `TodoStore`: every change appends its event
/// (checked by version); the response does not wait for any subscriber.
///
/// `POST /todos` → 201, `GET /todos/{id}`, `GET /users/{id}/todos`,
/// `POST /todos/{id}/complete`, `PUT /todos/{id}/priority`, `PUT /todos/{id}/title`,
/// `DELETE /todos/{id}`, `GET /todos/{id}/history` (its events in order, deleted todos
/// too), `GET /todos/{id}?version=N` (the todo after its N-th event). Errors are
/// ServiceKit's one model (`ServiceError`): 400 `invalid_json` / `missing_field` for a body
/// that cannot be read, 422 `invalid_field` for a value that breaks a rule (`TodoLimits`,
/// `?version`), 404 (unknown id), 409 (a transition the todo's status does not allow).
public struct TodoRoutes: Sendable {
    let store: TodoStore

    public init(store: TodoStore) {
        self.store = store
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.post("/todos") { request, context in
            let body = try await request.decodeJSON(as: CreateTodoRequest.self, context: context)
            let todo = try await store.create(
                userID: try TodoLimits.userID(body.userID), title: try TodoLimits.title(body.title),
                description: try TodoLimits.description(body.description), priority: try TodoLimits.priority(body.priority),
                context: context.eventContext)
            return EditedResponse(status: .created, response: TodoResponse(todo))
        }
        router.get("/todos/{id}") { request, context in
            let id = try context.parameters.require("id")
            guard let text = request.uri.queryParameters["version"].map(String.init) else {
                return TodoResponse(try await store.get(id))
            }
            guard let version = Int(text), version >= 1 else {
                throw TodoError.invalid(field: "version", reason: "must be an integer of at least 1")
            }
            guard let todo = try await store.find(id, version: version) else {
                throw TodoError.notFound("\(id) at version \(version)")
            }
            return TodoResponse(todo)
        }
        router.get("/todos/{id}/history") { _, context in
            let id = try context.parameters.require("id")
            return TodoHistoryResponse(id: id, events: try await store.history(id))
        }
        router.get("/users/{id}/todos") { _, context in
            let userID = try TodoLimits.userID(try context.parameters.require("id"))
            return try await store.list(userID: userID).map(TodoResponse.init)
        }
        router.post("/todos/{id}/complete") { _, context in
            TodoResponse(try await store.complete(try context.parameters.require("id"), context: context.eventContext))
        }
        router.put("/todos/{id}/priority") { request, context in
            let body = try await request.decodeJSON(as: ChangePriorityRequest.self, context: context)
            let priority = try TodoLimits.priority(body.priority)
            return TodoResponse(
                try await store.changePriority(try context.parameters.require("id"), to: priority, context: context.eventContext))
        }
        router.put("/todos/{id}/title") { request, context in
            let body = try await request.decodeJSON(as: ChangeTitleRequest.self, context: context)
            let title = try TodoLimits.title(body.title)
            return TodoResponse(
                try await store.changeTitle(try context.parameters.require("id"), to: title, context: context.eventContext))
        }
        router.delete("/todos/{id}") { _, context in
            TodoResponse(try await store.delete(try context.parameters.require("id"), context: context.eventContext))
        }
    }
}

/// A todo as a response body.
struct TodoResponse: ResponseEncodable {
    let todo: Todo
    init(_ todo: Todo) { self.todo = todo }
    func encode(to encoder: any Encoder) throws { try todo.encode(to: encoder) }
}

/// A todo's history as a response body: `{"id", "events": [{"version", "event_type",
/// "event_version", "timestamp", "data"}, ...]}`, `data` as a JSON object.
struct TodoHistoryResponse: ResponseEncodable {
    let id: String
    let events: [RecordedEvent]

    enum CodingKeys: String, CodingKey { case id, events }
    enum EventKeys: String, CodingKey { case version, eventType = "event_type", eventVersion = "event_version", timestamp, data }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        var list = container.nestedUnkeyedContainer(forKey: .events)
        for event in events {
            var item = list.nestedContainer(keyedBy: EventKeys.self)
            try item.encode(event.version, forKey: .version)
            try item.encode(event.envelope.eventType, forKey: .eventType)
            try item.encode(event.envelope.eventVersion, forKey: .eventVersion)
            try item.encode(event.envelope.timestampText, forKey: .timestamp)
            try item.encode(try JSONDecoder().decode(JSONValue.self, from: Data(event.data)), forKey: .data)
        }
    }
}

/// Any JSON value, to pass an event's data through as JSON.
enum JSONValue: Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
