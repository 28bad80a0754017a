/// Parses Redis connection URLs into their parts, with an error that says what is wrong.
enum RedisURLParser {
    struct Parsed: Equatable {
        /// One, or several for a cluster's seed nodes (`redis://h1:p1,h2:p2`).
        var endpoints: [RedisConfiguration.Endpoint]
        var endpoint: RedisConfiguration.Endpoint { endpoints[0] }
        var username: String?
        var password: String?
        var database: Int
    }

    static func parse(_ url: String) throws(RedisError) -> Parsed {
        guard let schemeEnd = url.range(of: "://") else {
            throw invalid(url, "missing scheme: expected redis://host[:port][/db] or unix:///path/to/redis.sock")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        switch scheme {
        case "redis": return try parseTCP(rest, url: url)
        case "unix": return try parseUnix(rest, url: url)
        case "rediss": throw invalid(url, "TLS (rediss://) is not supported; use redis:// or unix://")
        default: throw invalid(url, "unknown scheme '\(scheme)': expected redis:// or unix://")
        }
    }

    // MARK: redis://[user:password@]host[:port][/db]

    private static func parseTCP(_ rest: Substring, url: String) throws(RedisError) -> Parsed {
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        if authority.contains("?") || path.contains("?") {
            throw invalid(url, "query parameters are not supported in redis:// URLs")
        }
        let (username, password, hostPorts) = try splitCredentials(authority, url: url)
        var endpoints: [RedisConfiguration.Endpoint] = []
        for hostPort in hostPorts.split(separator: ",", omittingEmptySubsequences: false) {
            let (host, port) = try splitHostPort(hostPort, url: url)
            endpoints.append(.tcp(host: host, port: port))
        }
        let database = try parseDatabase(path, url: url)
        if endpoints.count > 1 && database != 0 {
            throw invalid(url, "a cluster has database 0 only (SELECT is refused): drop the /\(database)")
        }
        return Parsed(endpoints: endpoints, username: username, password: password, database: database)
    }

    private static func splitHostPort(_ text: Substring, url: String) throws(RedisError) -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid(url, "unclosed '[' in IPv6 host") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid(url, "unexpected text after IPv6 host: '\(after)'") }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        if host.isEmpty { throw invalid(url, "missing host") }
        if host.contains(where: { $0 == " " || $0 == "@" }) { throw invalid(url, "invalid host '\(host)'") }
        var port = 6379
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid(url, "invalid port '\(portText)': expected a number from 1 to 65535")
            }
            port = value
        }
        return (String(host), port)
    }

    // MARK: unix:///path/to/redis.sock[?db=N&username=U&password=P]

    private static func parseUnix(_ rest: Substring, url: String) throws(RedisError) -> Parsed {
        var location = rest
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            location = rest[..<mark]
            query = rest[rest.index(after: mark)...]
        }
        var username: String?
        var password: String?
        var pathPart = location
        if let at = location.firstIndex(of: "@"), !location.hasPrefix("/") {
            (username, password) = try parseUserInfo(location[..<at], url: url)
            pathPart = location[location.index(after: at)...]
        }
        guard pathPart.hasPrefix("/"), pathPart.count > 1 else {
            throw invalid(url, "missing socket path: expected unix:///path/to/redis.sock")
        }
        var database = 0
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = pair[0]
            let value = pair.count > 1 ? pair[1] : ""
            switch key {
            case "db": database = try parseDatabase(value, url: url)
            case "username", "user": username = try percentDecoded(value, url: url)
            case "password": password = try percentDecoded(value, url: url)
            default: throw invalid(url, "unknown query parameter '\(key)': expected db, username or password")
            }
        }
        return Parsed(
            endpoints: [.unixSocket(path: try percentDecoded(pathPart, url: url))], username: username,
            password: password, database: database)
    }

    // MARK: Shared parts

    private static func splitCredentials(
        _ authority: Substring, url: String
    ) throws(RedisError) -> (String?, String?, Substring) {
        guard let at = authority.lastIndex(of: "@") else { return (nil, nil, authority) }
        let (username, password) = try parseUserInfo(authority[..<at], url: url)
        return (username, password, authority[authority.index(after: at)...])
    }

    /// `user:password`, `:password` or `password` (read as a password, as redis-cli does).
    private static func parseUserInfo(_ userInfo: Substring, url: String) throws(RedisError) -> (String?, String?) {
        if let colon = userInfo.firstIndex(of: ":") {
            let user = userInfo[..<colon]
            let password = userInfo[userInfo.index(after: colon)...]
            return (user.isEmpty ? nil : try percentDecoded(user, url: url), try percentDecoded(password, url: url))
        }
        return (nil, userInfo.isEmpty ? nil : try percentDecoded(userInfo, url: url))
    }

    private static func parseDatabase(_ text: Substring, url: String) throws(RedisError) -> Int {
        if text.isEmpty { return 0 }
        guard let value = Int(text), value >= 0 else {
            throw invalid(url, "invalid database '\(text)': expected a number >= 0")
        }
        return value
    }

    private static func percentDecoded(_ text: Substring, url: String) throws(RedisError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw invalid(url, "invalid percent-escape in '\(text)'")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw invalid(url, "percent-escapes in '\(text)' are not valid UTF-8")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func invalid(_ url: String, _ reason: String) -> RedisError {
        RedisError(.invalidURL, "invalid Redis URL '\(redact(url))': \(reason)")
    }

    /// The URL with any password replaced by `***`, so errors never print secrets.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else {
            return url
        }
        let userInfo = url[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else {
            return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
        }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
