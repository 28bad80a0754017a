import Hummingbird
import SagaRuntime
import ServiceKit

/// `GET /sagas/{id}` (the saga with its steps' timeline; 404 when unknown) and
/// `GET /sagas?status=<status>&limit=<n>` (the most recently changed first; default
/// every status, limit 100). Errors (ServiceKit's model): 404 `not_found`, 422
/// `invalid_field` for a `status` or `limit` that breaks its rule.
public struct SagaRoutes: Sendable {
    let store: SagaStore

    public init(store: SagaStore) {
        self.store = store
    }

    struct SagaList: ResponseEncodable {
        let sagas: [SagaView]
        let counts: [String: Int]
    }

    public func add(to router: Router<ServiceRequestContext>) {
        router.get("/sagas/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let saga = try await store.load(id) else { throw APIError.notFound("no saga \(id)") }
            return SagaView(saga, type: store.type)
        }
        router.get("/sagas") { request, _ in
            let statuses: [SagaStatus]
            if let text = request.uri.queryParameters["status"].map(String.init) {
                guard let status = SagaStatus(rawValue: text) else {
                    throw APIError.invalidField(
                        "status", "must be one of \(SagaStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                statuses = [status]
            } else {
                statuses = SagaStatus.allCases
            }
            let limit = request.uri.queryParameters["limit"].map { Int(String($0)) } ?? 100
            guard let limit, (1...10_000).contains(limit) else {
                throw APIError.invalidField("limit", "must be an integer from 1 to 10000")
            }
            var sagas: [SagaView] = []
            for status in statuses {
                for id in try await store.ids(in: status, limit: limit) {
                    if let saga = try await store.load(id) { sagas.append(SagaView(saga, type: store.type)) }
                }
            }
            sagas.sort { $0.updatedAt > $1.updatedAt }
            let counts = try await store.counts()
            return SagaList(
                sagas: Array(sagas.prefix(limit)),
                counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
        }
    }
}

extension SagaView: ResponseEncodable {}
