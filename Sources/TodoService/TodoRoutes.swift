import Hummingbird
import ServiceKit
import TodoEvents

/// The todo HTTP API. Every state change and its event are written together (see
/// `TodoStore`); the response does not wait for any subscriber.
///
/// `POST /todos` → 201, `GET /todos/{id}`, `GET /users/{id}/todos`,
/// `POST /todos/{id}/complete`, `PUT /todos/{id}/priority`, `PUT /todos/{id}/title`,
/// `DELETE /todos/{id}`. Errors: 400 (bad JSON, missing, invalid or too long fields),
/// 404 (unknown id), 409 (a transition the todo's status does not allow), each with a JSON
/// body `{"error": {"code", "message"}}`.
public struct TodoRoutes: Sendable {
    let store: TodoStore

    public init(store: TodoStore) {
        self.store = store
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.post("/todos") { request, context in
            try await mapped {
                let body = try await request.decodeJSON(as: CreateTodoRequest.self, context: context)
                let todo = try await store.create(
                    userID: try TodoLimits.userID(body.userID), title: try TodoLimits.title(body.title),
                    description: try TodoLimits.description(body.description), priority: try TodoLimits.priority(body.priority),
                    context: context.eventContext)
                return EditedResponse(status: .created, response: TodoResponse(todo))
            }
        }
        router.get("/todos/{id}") { _, context in
            try await mapped { TodoResponse(try await store.get(try context.parameters.require("id"))) }
        }
        router.get("/users/{id}/todos") { _, context in
            try await mapped {
                let userID = try TodoLimits.userID(try context.parameters.require("id"))
                return try await store.list(userID: userID).map(TodoResponse.init)
            }
        }
        router.post("/todos/{id}/complete") { _, context in
            try await mapped {
                TodoResponse(try await store.complete(try context.parameters.require("id"), context: context.eventContext))
            }
        }
        router.put("/todos/{id}/priority") { request, context in
            try await mapped {
                let body = try await request.decodeJSON(as: ChangePriorityRequest.self, context: context)
                let priority = try TodoLimits.priority(body.priority)
                return TodoResponse(
                    try await store.changePriority(try context.parameters.require("id"), to: priority, context: context.eventContext))
            }
        }
        router.put("/todos/{id}/title") { request, context in
            try await mapped {
                let body = try await request.decodeJSON(as: ChangeTitleRequest.self, context: context)
                let title = try TodoLimits.title(body.title)
                return TodoResponse(
                    try await store.changeTitle(try context.parameters.require("id"), to: title, context: context.eventContext))
            }
        }
        router.delete("/todos/{id}") { _, context in
            try await mapped {
                TodoResponse(try await store.delete(try context.parameters.require("id"), context: context.eventContext))
            }
        }
    }
}

/// A todo as a response body.
struct TodoResponse: ResponseEncodable {
    let todo: Todo
    init(_ todo: Todo) { self.todo = todo }
    func encode(to encoder: any Encoder) throws { try todo.encode(to: encoder) }
}

/// Runs `body`, answering `TodoError`s with their HTTP status.
private func mapped<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as TodoError {
        switch error {
        case .notFound: throw APIError.notFound(error.description)
        case .conflict: throw APIError.conflict(error.description)
        case .invalid: throw APIError.badRequest(error.description, code: "invalid_field")
        }
    }
}
