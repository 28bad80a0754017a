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
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes is enough for any Int
        let count = withUnsafeMutableBytes(of: &digits) { raw in
            DecimalFormatting.write(argument, into: raw)
        }
        withUnsafeBytes(of: &digits) { raw in
            append(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    public mutating func append(_ argument: [UInt8]) {
        argument.withUnsafeBytes { append(bytes: $0) }
    }

    public mutating func append(_ argument: ArraySlice<UInt8>) {
        argument.withUnsafeBytes { append(bytes: $0) }
    }

    public mutating func append(bytes argument: UnsafeRawBufferPointer) {
        argumentCount += 1
        body.append(UInt8(ascii: "$"))
        DecimalFormatting.append(argument.count, to: &body)
        body.append(13)
        body.append(10)
        body.append(contentsOf: argument)
        body.append(13)
        body.append(10)
    }

    public mutating func append(bytes argument: UnsafeBufferPointer<UInt8>) {
        append(bytes: UnsafeRawBufferPointer(argument))
    }

    /// The RESP array header for this command.
    func appendHeader(to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        DecimalFormatting.append(argumentCount, to: &buffer)
        buffer.append(13)
        buffer.append(10)
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
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var length = 0
        withUnsafeMutableBytes(of: &scratch) { digits in
            repeat {
                digits[length] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                length += 1
            } while magnitude > 0
        }
        var position = 0
        if value < 0 {
            buffer[0] = UInt8(ascii: "-")
            position = 1
        }
        withUnsafeBytes(of: &scratch) { digits in
            for index in stride(from: length - 1, through: 0, by: -1) {
                buffer[position] = digits[index]
                position += 1
            }
        }
        return position
    }

    static func append(_ value: Int, to buffer: inout [UInt8]) {
        if value >= 0 && value < 10 {
            buffer.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { raw in
            let count = write(value, into: raw)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    static func append(_ value: UInt64, to buffer: inout [UInt8]) {
        var magnitude = value
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var length = 0
        withUnsafeMutableBytes(of: &scratch) { digits in
            repeat {
                digits[length] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                length += 1
            } while magnitude > 0
        }
        withUnsafeBytes(of: &scratch) { digits in
            for index in stride(from: length - 1, through: 0, by: -1) { buffer.append(digits[index]) }
        }
    }
}
