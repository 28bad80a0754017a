import Foundation
import TestSupport
import Testing

/// OpenTelemetry across the stack's processes: each service exports its spans (OTLP/JSON)
/// to a test receiver; one todo and one order are each one trace across every service
/// involved, with parent links that follow the events' causation, also when a step times
/// out and the compensation is started by a deadline rather than by an event.
@Suite("Tracing across processes", .serialized)
struct TracingStackTests {
    @Test func oneTodoAndOneOrderAreEachOneTraceAcrossTheirServices() async throws {
        let receiver = OTLPReceiver()
        try await receiver.start()
        defer { receiver.stop() }
        let stack = try await SagaStack.start([
            "INVENTORY_SEED": "sku-1=100", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_TRACES_SAMPLER": "always_on",
            "SAGA_STEP_TIMEOUT_MS": "2000",
        ])
        do {
            try await Self.check(stack, receiver)
        } catch {
            await stack.down()
            throw error
        }
        await stack.down()
    }

    static func check(_ stack: SagaStack, _ receiver: OTLPReceiver) async throws {
        // One todo: todo-service (HTTP, append) -> notification-service and analytics-service.
        let (created, todo) = try await stack.json(
            "POST", stack.url(stack.ports.todo, "/todos"), ["user_id": "tracy", "title": "Follow the trace"])
        #expect(created == 201)
        let todoID = try #require(todo["id"] as? String)
        let todoServices: Set = ["todo-service", "notification-service", "analytics-service"]
        let todoTrace = try await trace(of: todoID, in: receiver, across: todoServices)
        try checkTree(todoTrace, rootService: "todo-service")
        for consumer in ["notification-service", "analytics-service"] {
            let span = try #require(todoTrace.first { $0.service == consumer && $0.kind == 5 }, "\(todoTrace)")
            let parent = try #require(todoTrace.first { $0.spanID == span.parentSpanID })
            #expect(parent.service == "todo-service" && parent.kind == 4, "\(consumer)'s span is a child of the append: \(parent)")
            #expect(span.attributes["messaging.destination.name"] == "todo-events")
        }

        // One order: order-service -> saga-coordinator -> inventory-service -> saga-coordinator
        // -> payment-service -> saga-coordinator -> order-service, one trace.
        let orderID = try await stack.order(items: [("sku-1", 1)], amount: 1200)
        #expect(try await stack.waitForSaga(orderID, "completed"))
        let orderServices: Set = ["order-service", "saga-coordinator", "inventory-service", "payment-service"]
        let orderTrace = try await trace(
            of: orderID, in: receiver, across: orderServices,
            containing: [
                { $0.service == "inventory-service" && $0.kind == 5 }, { $0.service == "payment-service" && $0.kind == 5 },
                { $0.service == "saga-coordinator" && $0.name.hasPrefix("saga order") },
                { $0.service == "saga-coordinator" && $0.name == "saga commit" },
            ])
        try checkTree(orderTrace, rootService: "order-service")
        for participant in ["inventory-service", "payment-service"] {
            let command = try #require(orderTrace.first { $0.service == participant && $0.kind == 5 }, "\(orderTrace)")
            let parent = try #require(orderTrace.first { $0.spanID == command.parentSpanID })
            #expect(parent.service == "saga-coordinator", "\(participant)'s command comes from a saga step: \(parent)")
        }
        #expect(orderTrace.contains { $0.service == "saga-coordinator" && $0.name.hasPrefix("saga order") })
        #expect(orderTrace.contains { $0.service == "saga-coordinator" && $0.name == "saga commit" })

        // payment-service down: the charge times out, and the compensation the deadline
        // starts (refund, release the stock, cancel the order) is still part of the order's trace.
        try await stack.stop("payment-service", signal: SIGTERM)
        let timedOut = try await stack.order(items: [("sku-1", 1)], amount: 1300)
        // A timed-out charge is refunded too: payment-service comes back once the deadline fired.
        #expect(try await stack.waitForSaga(timedOut, "compensating"))
        try await stack.up()
        #expect(try await stack.waitForSaga(timedOut, "compensated"))
        let timeoutTrace = try await trace(
            of: timedOut, in: receiver, across: ["order-service", "saga-coordinator", "inventory-service"],
            containing: [
                { $0.service == "saga-coordinator" && $0.name.hasPrefix("saga order deadline") },
                { $0.service == "inventory-service" && $0.attributes["event.type"] == "inventory.release" },
                { $0.service == "order-service" && $0.attributes["event.type"] == "order.cancel" },
            ])
        try checkTree(timeoutTrace, rootService: "order-service")
        let release = try #require(
            timeoutTrace.first { $0.service == "inventory-service" && $0.attributes["event.type"] == "inventory.release" },
            "the release is in the order's trace: \(timeoutTrace)")
        let releaseParent = try #require(timeoutTrace.first { $0.spanID == release.parentSpanID })
        #expect(releaseParent.service == "saga-coordinator")
        #expect(timeoutTrace.contains { $0.service == "order-service" && $0.attributes["event.type"] == "order.cancel" })
    }

    /// The spans of the trace that handled `aggregateID`, once it holds spans of every one of
    /// `services`, a span matching each of `wanted` (spans arrive in each process's export
    /// batches, in no order), and no span in it points at a parent not yet received.
    static func trace(
        of aggregateID: String, in receiver: OTLPReceiver, across services: Set<String>,
        containing wanted: [(OTLPReceiver.ReceivedSpan) -> Bool] = []
    ) async throws -> [OTLPReceiver.ReceivedSpan] {
        var spans: [OTLPReceiver.ReceivedSpan] = []
        let complete = try await eventually(timeout: .seconds(60)) {
            let received = receiver.received
            guard let traceID = received.first(where: { $0.attributes["event.aggregate_id"] == aggregateID })?.traceID else {
                return false
            }
            spans = received.filter { $0.traceID == traceID }
            let ids = Set(spans.map(\.spanID))
            return services.isSubset(of: Set(spans.map(\.service))) && wanted.allSatisfy { spans.contains(where: $0) }
                && spans.allSatisfy { $0.parentSpanID.isEmpty || ids.contains($0.parentSpanID) }
        }
        #expect(complete, "trace of \(aggregateID) across \(services.sorted()): \(spans)")
        return spans
    }

    /// One root, an HTTP server span of `rootService`; every other span's parent is in the trace.
    static func checkTree(_ spans: [OTLPReceiver.ReceivedSpan], rootService: String) throws {
        let roots = spans.filter { $0.parentSpanID.isEmpty }
        #expect(roots.count == 1, "one root: \(roots)")
        #expect(roots.first?.service == rootService && roots.first?.kind == 2, "the root is \(rootService)'s request: \(roots)")
    }
}
