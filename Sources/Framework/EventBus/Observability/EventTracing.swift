import Tracing

/// Spans for publishing and handling events, through swift-distributed-tracing: whatever
/// tracer the process bootstrapped (swift-otel in the services). With none bootstrapped
/// nothing is made and nothing is paid: publishers and consumers look the tracer up once,
/// when they are made, so bootstrap tracing before making them.
///
/// Propagation: a published entry's `traceparent` field carries its producer span (W3C
/// Trace Context, as the tracer's propagator writes it); a handled entry's span is a child
/// of that span, so one flow is one trace across services. With tracing off the field is
/// passed through unchanged from the `EventContext`.
enum EventTracing {
    /// The bootstrapped tracer; nil when it is the no-op one.
    static var tracer: (any Tracer)? {
        let tracer = InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }

    /// The `traceparent` of `context` as the tracer propagates it; nil when it holds no span.
    static func traceparent(of context: InstrumentationContext, tracer: any Tracer) -> String? {
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier[EventStreamFields.traceparent]
    }

    /// The context a `traceparent` names (the top level when nil or unreadable).
    static func context(fromTraceparent traceparent: String?, tracer: any Tracer) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        if let traceparent {
            tracer.extract([EventStreamFields.traceparent: traceparent], into: &context, using: DictionaryExtractor())
        }
        return context
    }

    /// `context` with the current span as its `traceparent` (when tracing is on and a span is
    /// current), for entries written inside a caller's script or transaction.
    static func withCurrentSpan(_ context: EventContext, tracer: (any Tracer)?) -> EventContext {
        guard let tracer, let current = InstrumentationContext.current,
            let traceparent = traceparent(of: current, tracer: tracer)
        else { return context }
        var context = context
        context.traceparent = traceparent
        return context
    }

    private struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    private struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}

/// The OpenTelemetry messaging attributes (semantic conventions) of event spans.
extension Span {
    func describe(stream: String, eventType: String, aggregateID: String, operation: String) {
        attributes["messaging.system"] = "redis"
        attributes["messaging.operation.type"] = operation
        // A partition stream (`todo-events:{p2}`): the stream's name, and the partition apart.
        if let tag = StreamPartitions.partitionTag(of: stream) {
            attributes["messaging.destination.name"] = String(stream.dropLast(tag.count + 3))
            attributes["messaging.destination.partition.id"] = tag
        } else {
            attributes["messaging.destination.name"] = stream
        }
        attributes["event.type"] = eventType
        attributes["event.aggregate_id"] = aggregateID
    }
}

/// Spans for the stores and runtimes built on the bus (event store appends, saga steps and
/// commits): `body` runs inside a span when a tracer is bootstrapped, directly otherwise
/// (no span, no task-local binding, nothing to pay). Entries written inside `body` with
/// `EventPublisher.xaddCommand` carry the span as their `traceparent`.
public enum EventSpans {
    /// - Parameter parent: the `traceparent` to continue when there is no current span
    ///   (work started by a timer rather than by a request or an event); nil: the current span.
    public static func run<Result>(
        _ operationName: String, ofKind kind: SpanKind = .internal, parent: String? = nil,
        describe: (any Span) -> Void = { _ in }, _ body: () async throws -> Result
    ) async throws -> Result {
        guard let tracer = EventTracing.tracer else { return try await body() }
        let context: InstrumentationContext
        if let parent, !parent.isEmpty {
            context = EventTracing.context(fromTraceparent: parent, tracer: tracer)
        } else {
            context = InstrumentationContext.current ?? .topLevel
        }
        return try await tracer.withSpan(operationName, context: context, ofKind: kind) { span in
            describe(span)
            return try await body()
        }
    }

    /// Whether spans are made (a tracer is bootstrapped).
    public static var isTracing: Bool { EventTracing.tracer != nil }

    /// The current span's `traceparent`; nil when tracing is off or no span is current.
    public static func currentTraceparent() -> String? {
        guard let tracer = EventTracing.tracer, let current = InstrumentationContext.current else { return nil }
        return EventTracing.traceparent(of: current, tracer: tracer)
    }
}
