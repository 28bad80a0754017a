import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

/// `INVENTORY_SEED`: the stock each SKU starts with, as `sku=quantity` entries separated by
/// commas (`sku-1=100,sku-2=5`; spaces around entries are ignored). Empty or absent: no
/// SKUs.
///
/// Guarantees: a value that cannot be meant (an entry without `=`, an empty SKU or one with
/// spaces, a quantity that is not a whole number from 0 to `maximumQuantity`, a SKU given
/// twice, an empty entry) is refused with a `ConfigurationError` naming the variable and the
/// entry, so the service stops at start instead of running with a stock nobody asked for.
public struct InventorySeed: Sendable, Equatable {
    /// One SKU and the stock it starts with.
    public struct Entry: Sendable, Equatable {
        public var sku: String
        public var available: Int

        public init(sku: String, available: Int) {
            self.sku = sku
            self.available = available
        }
    }

    public static let variable = "INVENTORY_SEED"
    /// The largest stock or quantity the service handles (Redis's Lua numbers are exact
    /// well beyond it).
    public static let maximumQuantity = 1_000_000_000_000

    /// In the order given.
    public var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = entries
    }

    /// Parses the `INVENTORY_SEED` text.
    public init(parsing text: String) throws {
        let variable = Self.variable
        entries = []
        guard !text.allSatisfy(\.isWhitespace) else { return }
        var seen = Set<String>()
        for (index, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let entry = part.trimmingCharacters(in: .whitespaces)
            let position = "entry \(index + 1) '\(entry)'"
            guard let equals = entry.firstIndex(of: "=") else {
                throw ConfigurationError(
                    "\(variable) \(position) is not sku=quantity (expected e.g. sku-1=100,sku-2=5)")
            }
            let sku = entry[..<equals].trimmingCharacters(in: .whitespaces)
            let quantity = entry[entry.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !sku.isEmpty else { throw ConfigurationError("\(variable) \(position) has an empty SKU") }
            guard !sku.contains(where: \.isWhitespace) else {
                throw ConfigurationError("\(variable) \(position): the SKU '\(sku)' contains a space")
            }
            guard let available = Int(quantity), (0...Self.maximumQuantity).contains(available) else {
                throw ConfigurationError(
                    "\(variable) \(position): the stock of \(sku) must be a whole number from 0 to \(Self.maximumQuantity), got '\(quantity)'")
            }
            guard seen.insert(sku).inserted else {
                throw ConfigurationError("\(variable) \(position): the SKU \(sku) is given twice")
            }
            entries.append(Entry(sku: sku, available: available))
        }
    }
}

/// Creates the seed's SKUs that do not exist yet, in one script (`InventoryStore.seed`), at
/// most once per process once it succeeded. Existing stock is never touched: a restart, or
/// a second instance, changes nothing.
///
/// The command handlers call `ensureSeeded()` before they touch stock, so no reserve is
/// judged against a SKU the seed is still about to create; the seeding service calls it at
/// start, so `GET /inventory/{sku}` shows the stock before any order came.
public final class InventorySeeder: Sendable {
    let seed: InventorySeed
    let store: InventoryStore
    let logger: Logger
    private let done = Atomic<Bool>(false)

    public init(seed: InventorySeed, store: InventoryStore, logger: Logger) {
        self.seed = seed
        self.store = store
        self.logger = logger
    }

    /// Returns at once when the seed was applied; otherwise applies it (throwing what Redis
    /// answered, e.g. a stock key of the wrong type).
    public func ensureSeeded() async throws {
        if done.load(ordering: .acquiring) { return }
        let created = try await store.seed(seed)
        if !created.isEmpty {
            logger.info(
                "Seeded stock", metadata: ["inventory.created": "\(created.joined(separator: ","))", "inventory.seed_skus": "\(seed.entries.count)"])
        } else {
            logger.debug("Seed stock already present", metadata: ["inventory.seed_skus": "\(seed.entries.count)"])
        }
        done.store(true, ordering: .releasing)
    }
}

/// Applies the seed at start, retrying with a doubling backoff (100 ms to 30 s, logged)
/// while Redis cannot be reached or refuses; then waits for the graceful stop.
struct InventorySeedingService: Service {
    let seeder: InventorySeeder
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var delay = Duration.milliseconds(100)
            while true {
                do {
                    try await seeder.ensureSeeded()
                    return
                } catch {
                    logger.error("Seeding the stock failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(30))
                }
            }
        }
        try? await gracefulShutdown()
    }
}
