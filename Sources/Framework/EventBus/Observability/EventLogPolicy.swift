import Logging

/// Which published and handled events get their one structured log line, and at what
/// level: every event at `info` by default. For high rates, lower the level (the lines drop
/// out below the logger's level at the cost of one comparison) or sample: `sampleRate` keeps
/// that share of flows, chosen by a hash of the correlation id, so a flow that is logged is
/// logged whole, in every service. Failures are always logged, whatever the policy.
public struct EventLogPolicy: Sendable, Hashable {
    public var level: Logger.Level
    /// 0...1: the share of flows (correlation ids) whose events are logged.
    public var sampleRate: Double

    public init(level: Logger.Level = .info, sampleRate: Double = 1) {
        self.level = level
        self.sampleRate = min(1, max(0, sampleRate))
    }

    /// Every event's line at `debug`: the library's default (services use `info`).
    public static let debug = EventLogPolicy(level: .debug)

    /// No line per event (failures are still logged).
    public static let off = EventLogPolicy(level: .trace, sampleRate: 0)

    /// Whether `logger` writes any event's line under this policy.
    func isActive(for logger: Logger) -> Bool { sampleRate > 0 && logger.logLevel <= level }

    /// Whether `logger` should write the line of an event of flow `correlationID`.
    func shouldLog(_ logger: Logger, correlationID: String) -> Bool {
        guard isActive(for: logger) else { return false }
        if sampleRate >= 1 { return true }
        // FNV-1a: the same flows in every process and every run.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in correlationID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Double(hash) / Double(UInt64.max) < sampleRate
    }
}
