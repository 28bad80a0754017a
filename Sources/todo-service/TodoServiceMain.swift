import ServiceKit
import TodoService

/// todo-service: the todo HTTP API (port 8081). Configuration: see the README's table.
@main
struct TodoServiceMain {
    static func main() async throws {
        let app = ServiceApp(name: "todo-service", defaultPort: 8081)
        TodoRoutes(store: TodoStore(client: app.client)).add(to: app.router)
        try await app.run()
    }
}
