import RedisClient

/// Prints the stream's state and the redis-cli commands that show it.
enum Inspection {
    /// Returns the number of entries pending in all groups.
    static func show(client: RedisClient, stream: String, configuration: RedisConfiguration, keepsRunning: Bool) async throws
        -> Int
    {
        var pending = 0
        let cli = redisCLI(configuration)
        print("\nStream \(stream): \(try await client.xlen(stream)) entries. The first one, as redis-cli shows it:")
        if let first = try await client.xrange(stream, count: 1).first {
            print("  \(first.id)")
            for (name, value) in first.fields { print("    \(name): \(value)") }
        }
        print("\nConsumer groups (XINFO GROUPS \(stream)):")
        for group in try await client.send("XINFO", "GROUPS", stream).array ?? [] {
            let fields = group.array ?? []
            var info: [String: String] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                info[fields[index].string ?? ""] = fields[index + 1].string ?? fields[index + 1].int.map(String.init) ?? ""
            }
            pending += Int(info["pending"] ?? "") ?? 0
            print(
                "  \(info["name"] ?? "?"): consumers=\(info["consumers"] ?? "?") pending=\(info["pending"] ?? "?") last-delivered=\(info["last-delivered-id"] ?? "?") lag=\(info["lag"] ?? "?")"
            )
        }
        print(keepsRunning ? "\nInspect it yourself:" : "\nInspect a stack of your own the same way (this private server stops with the demo):")
        print("  \(cli) XRANGE \(stream) - + COUNT 3")
        print("  \(cli) XINFO GROUPS \(stream)")
        print("  \(cli) XINFO CONSUMERS \(stream) notification-service")
        print("  \(cli) XPENDING \(stream) analytics-service")
        return pending
    }

    /// The redis-cli invocation for a configuration (password left as a placeholder).
    static func redisCLI(_ configuration: RedisConfiguration) -> String {
        var parts = ["redis-cli"]
        switch configuration.endpoint {
        case .tcp(let host, let port): parts += ["-h", host, "-p", "\(port)"]
        case .unixSocket(let path): parts += ["-s", path]
        }
        if let username = configuration.username { parts += ["--user", username] }
        if configuration.password != nil { parts += ["--pass", "'<password>'"] }
        if configuration.database != 0 { parts += ["-n", "\(configuration.database)"] }
        return parts.joined(separator: " ")
    }
}
