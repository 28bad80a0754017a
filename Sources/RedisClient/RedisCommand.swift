/// One Redis command, encoded once as RESP (`*N\r\n$len\r\narg\r\n...`) when it is built.
///
/// Arguments are binary-safe byte strings; nothing is interpolated into a format string.
/// Building a command never touches the connection, so commands can be built on any task
/// and handed to a `RedisClient`.
public struct RedisCommand: Sendable {
    /// The encoded arguments (without the `*N` header, which `header` adds).
    private(set) var body: [UInt8]
    /// How many arguments have been appended.
    public private(set) var argumentCount: Int

    /// Starts a command with its name; `capacity` is a hint for the encoded size.
    public init(_ name: String, capacity: Int = 64) {
        body = []
        body.reserveCapacity(capacity)
        argumentCount = 0
        append(name)
    }

    /// A command from its name and string arguments, e.g. `RedisCommand("XLEN", "todo-events")`.
    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments: arguments)
    }

    public init(_ name: String, arguments: [String]) {
        self.init(name, capacity: 16 + arguments.reduce(0) { $0 + $1.utf8.count + 8 })
        for argument in arguments { append(argument) }
    }

    // MARK: Appending arguments

    public mutating func append(_ argument: String) {
        var argument = argument
        argument.withUTF8 { append(bytes: $0) }
    }

    public mutating func append(_ argument: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits in
            let count = DecimalFormatting.write(argument, into: UnsafeMutableRawBufferPointer(digits))
            append(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[0..<count]))
        }
    }

    public mutating func append(_ argument: [UInt8]) {
        argument.withUnsafeBytes { append(bytes: $0) }
    }

    public mutating func append(_ argument: ArraySlice<UInt8>) {
        argument.withUnsafeBytes { append(bytes: $0) }
    }

    /// Appends `argument`'s bytes as one argument (copied now; the span is not kept).
    public mutating func append(_ argument: Span<UInt8>) {
        argument.withUnsafeBufferPointer { append(bytes: $0) }
    }

    // Internal: RedisClient's public API takes and hands out only safe views (issue 18 §6).
    mutating func append(bytes argument: UnsafeRawBufferPointer) {
        argumentCount += 1
        // `$<length>\r\n<bytes>\r\n`, written with one reservation and three copies.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { header in
            header[0] = UInt8(ascii: "$")
            let digits = DecimalFormatting.write(
                argument.count, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(header)[1...]))
            header[digits + 1] = 13
            header[digits + 2] = 10
            // Grow geometrically: reserveCapacity alone allocates exactly what is asked, so a
            // command longer than its hint would be copied once per argument.
            let needed = body.count + digits + 5 + argument.count
            if needed > body.capacity { body.reserveCapacity(Swift.max(needed, 2 * body.capacity)) }
            body.append(contentsOf: UnsafeBufferPointer(rebasing: header[0..<(digits + 3)]))
        }
        body.append(contentsOf: argument)
        body.append(13)
        body.append(10)
    }

    mutating func append(bytes argument: UnsafeBufferPointer<UInt8>) {
        append(bytes: UnsafeRawBufferPointer(argument))
    }

    /// Appends every argument of `command`, its name included, as arguments of this one
    /// (e.g. to pass a command to a Lua script that runs it with `redis.call`).
    public mutating func append(argumentsOf command: RedisCommand) {
        argumentCount += command.argumentCount
        body.append(contentsOf: command.body)
    }

    /// Appends `command` as a Lua script takes a command to run: its argument count, then
    /// its arguments (the script calls `redis.call(unpack(ARGV, i + 1, i + count))`).
    public mutating func append(countedArgumentsOf command: RedisCommand) {
        append(command.argumentCount)
        append(argumentsOf: command)
    }

    /// Appends name-value pairs as a Lua script takes a variable list of them: the number
    /// of arguments that follow (twice the pairs), then each name and its value.
    public mutating func append(countedPairs pairs: [(String, String)]) {
        append(pairs.count * 2)
        for (name, value) in pairs {
            append(name)
            append(value)
        }
    }

    /// The RESP array header for this command.
    func appendHeader(to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        DecimalFormatting.append(argumentCount, to: &buffer)
        buffer.append(13)
        buffer.append(10)
    }

    /// Reserves room for `count` more encoded bytes (arguments plus their framing).
    public mutating func reserveCapacity(additionalBytes count: Int) {
        body.reserveCapacity(body.count + count)
    }

    /// Appends the whole encoded command (header and body) to `buffer`.
    func encode(into buffer: inout [UInt8]) {
        appendHeader(to: &buffer)
        buffer.append(contentsOf: body)
    }

    /// The encoded size in bytes, header included.
    var encodedCount: Int { body.count + 16 }
}

/// Decimal formatting of integers without going through `String`.
enum DecimalFormatting {
    /// Writes `value` in decimal into `buffer` (at least 20 bytes) and returns the length.
    static func write(_ value: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = value.magnitude
        // Count the digits first, then write them from the end.
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        let sign = value < 0 ? 1 : 0
        if sign == 1 { buffer[0] = UInt8(ascii: "-") }
        var position = sign + digits
        repeat {
            position -= 1
            buffer[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        return sign + digits
    }

    static func append(_ value: Int, to buffer: inout [UInt8]) {
        if value >= 0 && value < 10 {
            buffer.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { scratch in
            let count = write(value, into: UnsafeMutableRawBufferPointer(scratch))
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<count]))
        }
    }

    static func append(_ value: UInt64, to buffer: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { scratch in
            var magnitude = value
            var position = 24
            repeat {
                position -= 1
                scratch[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[position..<24]))
        }
    }
}
