import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TCP ports on 127.0.0.1 for tests that start servers: never a fixed port, so that test
/// runs, stacks and other programs on the machine cannot collide.
public enum TestPorts {
    /// `count` distinct ports nobody listened on a moment ago, all held until every one is
    /// chosen, then released. They are picked at random below the kernel's ephemeral range
    /// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768 and up by default): a port from that
    /// range, once released, can be taken at any moment by an outgoing connection (every Redis
    /// client of a test run makes some) before the server meant to use it binds it.
    /// Never the same port twice in one test process (tests run in parallel, and a port handed
    /// out a moment ago may not be bound yet).
    public static func free(_ count: Int = 1) -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        var generator = SystemRandomNumberGenerator()
        let range = 20_000..<min(32_768, ephemeralRangeStart())
        while ports.count < count {
            let candidate = Int.random(in: range, using: &generator)
            if ports.contains(candidate) || !handedOut.withLock({ $0.insert(candidate).inserted }) { continue }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(candidate).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if bound && !isListening(candidate) {
                sockets.append(fd)
                ports.append(candidate)
            } else {
                close(fd)
            }
        }
        return ports
    }

    private static let handedOut = Mutex<Set<Int>>([])

    /// The first port of the kernel's ephemeral range (32768 when it cannot be read).
    static func ephemeralRangeStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
            let first = text.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) }), first > 21_000
        else { return 32_768 }
        return first
    }

    /// Whether something accepts connections on 127.0.0.1:`port`.
    public static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
