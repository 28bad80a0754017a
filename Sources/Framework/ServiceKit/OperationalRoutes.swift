import Hummingbird
import Prometheus
import RedisClient

/// `GET /health` (the process is alive), `GET /ready` (Redis answers and the service's
/// consumer groups exist: 200, else 503 with the reason), `GET /metrics` (Prometheus text).
public struct OperationalRoutes: Sendable {
    let registry: PrometheusCollectorRegistry
    let client: RedisClient
    /// `(stream, group)` pairs that must exist for the service to be ready.
    let groups: [ConsumedGroup]

    public init(registry: PrometheusCollectorRegistry, client: RedisClient, groups: [ConsumedGroup]) {
        self.registry = registry
        self.client = client
        self.groups = groups
    }

    struct Status: ResponseEncodable {
        let status: String
        let reason: String?
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/health") { _, _ in Status(status: "alive", reason: nil) }
        router.get("/ready") { _, _ in
            let problem = await self.readinessProblem()
            return EditedResponse(
                status: problem == nil ? .ok : .serviceUnavailable,
                response: Status(status: problem == nil ? "ready" : "not ready", reason: problem))
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            self.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }

    /// Nil when ready, else why not.
    func readinessProblem() async -> String? {
        do {
            _ = try await client.send("PING")
        } catch {
            return "Redis is not reachable: \(error)"
        }
        for consumed in groups {
            for stream in consumed.partitionStreams {
                do {
                    let reply = try await client.send("XINFO", "GROUPS", stream)
                    let names = (reply.array ?? []).compactMap { entry -> String? in
                        guard let fields = entry.array, fields.count >= 2 else { return nil }
                        return fields[1].string
                    }
                    if !names.contains(consumed.group) { return "consumer group \(consumed.group) does not exist on \(stream) yet" }
                } catch {
                    return "cannot read the groups of \(stream): \(error)"
                }
            }
        }
        return nil
    }
}
