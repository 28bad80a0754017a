import ArgumentParser
import EventBus
import Foundation
import SagaRuntime

/// `streamsctl sagas list|show|parked|retry-parked`
struct SagasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sagas",
        abstract: "Saga instances: list them by status, show one's timeline, list and retry the parked deadlines.",
        subcommands: [SagasListCommand.self, SagasShowCommand.self, SagasParkedCommand.self, SagasRetryParkedCommand.self])
}

/// Which saga type (`--type`, default `order`).
struct SagaTypeOption: ParsableArguments {
    @Option(help: "The saga type (keys saga:{<type>}:*).") var type = "order"
}

extension SagaStatus: ExpressibleByArgument {}

/// `streamsctl sagas list [--status S] [--limit N]`
struct SagasListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Sagas, the most recently changed first, with the count in each status.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var saga: SagaTypeOption
    @Option(help: "Only sagas in this status: running, compensating, completed, compensated, failed.") var status: SagaStatus?
    @Option(help: "At most this many sagas.") var limit = 50

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await options.withClient { client in
            let store = SagaStore(type: saga.type, client: client, partitions: options.resolvedPartitions)
            var sagas: [SagaView] = []
            for status in status.map({ [$0] }) ?? SagaStatus.allCases {
                for id in try await store.ids(in: status, limit: limit) {
                    if let state = try await store.load(id) { sagas.append(SagaView(state, type: saga.type)) }
                }
            }
            sagas = Array(sagas.sorted { $0.updatedAt > $1.updatedAt }.prefix(limit))
            let counts = try await store.counts()
            let parked = try await store.parkedDeadlineCount()
            if options.json {
                Output.printEncodable(
                    SagaList(
                        sagas: sagas, counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                        parkedDeadlines: parked))
                return
            }
            print(SagaStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", "))
            if parked > 0 { print("\(parked) parked deadline\(parked == 1 ? "" : "s"): streamsctl sagas parked") }
            guard !sagas.isEmpty else {
                print("no \(status.map { "\($0.rawValue) " } ?? "")\(saga.type) sagas")
                return
            }
            print()
            Output.printTable(
                ["ID", "STATE", "STEP", "STARTED", "UPDATED", "REASON"],
                sagas.map { view in
                    let step = view.steps.last { $0.status != "pending" }?.name ?? "-"
                    return [view.id, view.state, step, view.startedAt, view.updatedAt, view.reason ?? ""]
                })
        }
    }

    struct SagaList: Encodable {
        let sagas: [SagaView]
        let counts: [String: Int]
        let parkedDeadlines: Int

        enum CodingKeys: String, CodingKey {
            case sagas, counts, parkedDeadlines = "parked_deadlines"
        }
    }
}

/// `streamsctl sagas parked`
struct SagasParkedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parked",
        abstract: "Deadlines that could not run (a state that cannot be read, a command that cannot be built), with their errors.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var saga: SagaTypeOption

    func run() async throws {
        try await options.withClient { client in
            let parked = try await SagaStore(type: saga.type, client: client, partitions: options.resolvedPartitions).parkedDeadlines()
            if options.json {
                Output.printEncodable(parked)
                return
            }
            guard !parked.isEmpty else {
                print("no parked \(saga.type) saga deadlines")
                return
            }
            func time(_ milliseconds: Int) -> String { RFC3339.string(microsecondsSinceEpoch: Int64(milliseconds) * 1000) }
            Output.printTable(
                ["DEADLINE", "SAGA", "STEP", "DUE", "PARKED", "ERROR"],
                parked.map { deadline in
                    let parsed = SagaStore.parseDeadlineMember(deadline.member)
                    return [
                        deadline.member, parsed?.id ?? "-", parsed.map { "\($0.step)" } ?? "-", time(deadline.dueAtMs),
                        time(deadline.parkedAtMs), deadline.error,
                    ]
                })
            print()
            print("Once the saga is repaired: streamsctl sagas retry-parked <deadline>... (or --all)")
        }
    }
}

/// `streamsctl sagas retry-parked <deadline>...|--all`
struct SagasRetryParkedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry-parked",
        abstract: "Puts parked deadlines back, due now: the coordinator tries them again (and parks again one that still fails).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var saga: SagaTypeOption
    @Flag(help: "Every parked deadline of the saga type.") var all = false
    @Argument(help: "The parked deadlines (as `sagas parked` lists them: <id>:<step>:<version>).") var deadlines: [String] = []

    func validate() throws {
        guard all != !deadlines.isEmpty else { throw ValidationError("name the deadlines to retry, or --all (not both)") }
    }

    func run() async throws {
        try await options.withClient { client in
            let store = SagaStore(type: saga.type, client: client, partitions: options.resolvedPartitions)
            let now = Int(Date().timeIntervalSince1970 * 1000)
            let moved = try await store.retryParkedDeadlines(all ? [] : deadlines, nowMilliseconds: now)
            if options.json {
                Output.printJSON(["retried": moved])
                return
            }
            print("\(moved) parked deadline\(moved == 1 ? "" : "s") put back, due now")
            if !all && moved < deadlines.count { print("\(deadlines.count - moved) of those named were not parked") }
        }
    }
}

/// `streamsctl sagas show <id>`
struct SagasShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One saga's timeline: each step's command, reply and times, then its compensations.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var saga: SagaTypeOption
    @Argument(help: "The saga id (for the order saga: the order id).") var id: String

    func run() async throws {
        try await options.withClient { client in
            guard let state = try await SagaStore(type: saga.type, client: client, partitions: options.resolvedPartitions).load(id) else {
                options.fail("no \(saga.type) saga \(id)")
            }
            let view = SagaView(state, type: saga.type)
            if options.json {
                Output.printEncodable(view)
                return
            }
            print("\(view.type) saga \(view.id): \(view.state)\(view.reason.map { " (\($0))" } ?? "")")
            print("correlation id \(view.correlationID), version \(view.version), started \(view.startedAt), updated \(view.updatedAt)")
            print()
            Output.printTable(
                ["STEP", "STATUS", "COMMAND", "SENT", "REPLY", "REPLIED"],
                view.steps.map { [$0.name, $0.status, $0.command ?? "-", $0.sentAt ?? "-", $0.reply ?? "-", $0.repliedAt ?? "-"] })
            let compensations = view.steps.reversed().filter { $0.compensation != nil }
            guard !compensations.isEmpty else { return }
            print()
            Output.printTable(
                ["COMPENSATION", "OF STEP", "SENDS", "FIRST SENT", "ACKNOWLEDGED BY", "AT"],
                compensations.map {
                    [$0.compensation ?? "-", $0.name, "\($0.compensationSends)", $0.compensationSentAt ?? "-", $0.compensationReply ?? "-",
                     $0.compensatedAt ?? "-"]
                }, numeric: [2])
        }
    }
}
