extension RedisClient {
    /// `HGETALL key` as a dictionary (empty when the key does not exist). Values are text;
    /// invalid UTF-8 is repaired.
    public func hgetall(_ key: String) async throws -> [String: String] {
        let values = try await send("HGETALL", key).array ?? []
        var hash: [String: String] = [:]
        for index in stride(from: 0, to: values.count - 1, by: 2) {
            if let name = values[index].string, let value = values[index + 1].string { hash[name] = value }
        }
        return hash
    }
}
