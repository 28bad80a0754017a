import ArgumentParser
import Foundation
import SagaRuntime

/// `streamsctl sagas list|show`
struct SagasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sagas", abstract: "Saga instances: list them by status, show one's timeline.",
        subcommands: [SagasListCommand.self, SagasShowCommand.self])
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
            let store = SagaStore(type: saga.type, client: client)
            var sagas: [SagaView] = []
            for status in status.map({ [$0] }) ?? SagaStatus.allCases {
                for id in try await store.ids(in: status, limit: limit) {
                    if let state = try await store.load(id) { sagas.append(SagaView(state, type: saga.type)) }
                }
            }
            sagas = Array(sagas.sorted { $0.updatedAt > $1.updatedAt }.prefix(limit))
            let counts = try await store.counts()
            if options.json {
                Output.printEncodable(
                    SagaList(sagas: sagas, counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })))
                return
            }
            print(SagaStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", "))
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
            guard let state = try await SagaStore(type: saga.type, client: client).load(id) else {
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
