/// Where and how to connect to Redis.
///
/// Built from a URL (`redis://[user:password@]host[:port][/db]` or
/// `unix:///path/to/redis.sock[?db=N]`) or field by field. A malformed URL is rejected with
/// a `RedisError` of code `.invalidURL` that names what is wrong.
public struct RedisConfiguration: Sendable, Hashable {
    /// The server's address.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixSocket(let path): "unix:\(path)"
            }
        }
    }

    public var endpoint: Endpoint
    /// Every node given (`endpoint` first): where a cluster client loads its slot map from.
    public var seeds: [Endpoint]
    /// Whether commands are routed over a Redis Cluster (see `ClusterMode`).
    public var cluster: ClusterMode

    /// When a client routes commands by their keys' slots (`ClusterRouter`).
    public enum ClusterMode: String, Sendable, Hashable {
        /// From the first command: a URL that lists several nodes.
        case always
        /// From the first `MOVED` or `ASK` the node answers (the default for one node: a
        /// cluster node given alone is discovered).
        case automatic
        /// Never: a redirection is an error reply like any other.
        case never
    }
    /// ACL user name (Redis 6+); nil with a password means `AUTH password`.
    public var username: String?
    public var password: String?
    /// The database selected after connecting (`SELECT`), 0 by default.
    public var database: Int
    /// How long connecting (and the `AUTH`/`SELECT` handshake) may take.
    public var connectTimeout: Duration
    /// How long to wait for a reply before the connection is declared dead.
    /// Blocking commands add their own block time to this.
    public var commandTimeout: Duration
    /// First delay between reconnect attempts; it doubles up to `maximumReconnectDelay`.
    public var initialReconnectDelay: Duration
    public var maximumReconnectDelay: Duration
    /// Sent with `CLIENT SETNAME` so `CLIENT LIST` shows who is connected.
    public var clientName: String?

    public init(
        endpoint: Endpoint,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(5),
        initialReconnectDelay: Duration = .milliseconds(50),
        maximumReconnectDelay: Duration = .seconds(2),
        clientName: String? = nil
    ) {
        self.endpoint = endpoint
        self.seeds = [endpoint]
        self.cluster = .automatic
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.initialReconnectDelay = initialReconnectDelay
        self.maximumReconnectDelay = maximumReconnectDelay
        self.clientName = clientName
    }

    /// Parses a `redis://` or `unix://` URL.
    public init(url: String) throws(RedisError) {
        let parsed = try RedisURLParser.parse(url)
        self.init(
            endpoint: parsed.endpoints[0], username: parsed.username, password: parsed.password,
            database: parsed.database)
        seeds = parsed.endpoints
        if parsed.endpoints.count > 1 { cluster = .always }
    }

    /// The URL form of this configuration, with the password masked.
    public var redactedURL: String {
        var credentials = ""
        if let password {
            _ = password
            credentials = "\(username ?? ""):***@"
        } else if let username {
            credentials = "\(username)@"
        }
        switch endpoint {
        case .tcp:
            let hosts = seeds.compactMap { seed -> String? in
                guard case .tcp(let host, let port) = seed else { return nil }
                return (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
            }
            return "redis://\(credentials)\(hosts.joined(separator: ","))/\(database)"
        case .unixSocket(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        }
    }
}

/// Milliseconds in a `Duration`, rounded down, at least 1 for any positive duration.
extension Duration {
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        return ms == 0 && attoseconds > 0 ? 1 : ms
    }
}
