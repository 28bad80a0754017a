import EventBus
import Hummingbird
import Logging
import OrderEvents
import RedisClient
import SagaRuntime
import ServiceKit

/// inventory-service's configuration: the common service settings (`HTTP_PORT` default
/// 8085), its two consumers (group `inventory-service` on `inventory-commands`, and on
/// `order-events` acknowledging the types it does not handle), and `INVENTORY_SEED`.
public struct InventoryServiceConfiguration: Sendable {
    public static let defaultPort = 8085
    public var service: ServiceSettings
    /// `inventory.reserve`, `inventory.release`.
    public var commands: EventConsumer.Configuration
    /// `order.confirmed`.
    public var orderEvents: EventConsumer.Configuration
    public var seed: InventorySeed

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        // Ordered: an order's reserve and release are applied in the order the saga sent them.
        commands = service.consumer(stream: OrderStreams.inventoryCommands, group: InventoryHandlers.group, ordered: true)
        orderEvents = service.consumer(stream: OrderStreams.orderEvents, group: InventoryHandlers.group)
        orderEvents.unhandledTypes = .acknowledge  // only order.confirmed matters here
        seed = try InventorySeed(parsing: environment.string(InventorySeed.variable) ?? "")
    }
}

/// The inventory-service application: the seed applied at start (missing SKUs only), the
/// saga's inventory commands answered on `inventory-events`, confirmed orders' reservations
/// turned into sales, and `GET /inventory/{sku}`, with `/health`, `/ready` and `/metrics`.
/// Its `main` and its tests both run this.
public func buildApplication(
    configuration: InventoryServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "inventory-service", settings: configuration.service, redis: redis, logger: logger)
    let store = InventoryStore(client: parts.client, clusterLayout: configuration.service.partitions.count > 1)
    let seeder = InventorySeeder(seed: configuration.seed, store: store, logger: logger)
    let replies = SagaReplyPublisher(
        client: parts.client, stream: OrderStreams.inventoryEvents, logger: logger, publishing: configuration.service.publisher())
    let commands = try EventConsumer(
        redis: redis, configuration: configuration.commands,
        handlers: InventoryHandlers.commands(store: store, seeder: seeder, replies: replies), logger: logger)
    let orderEvents = try EventConsumer(
        redis: redis, configuration: configuration.orderEvents,
        handlers: InventoryHandlers.orderEvents(store: store, logger: logger), logger: logger)
    InventoryRoutes(store: store).add(to: parts.router)
    return parts.makeApplication(consumers: [InventorySeedingService(seeder: seeder, logger: logger), commands, orderEvents])
}
