import Foundation
import RedisClient
import Synchronization

/// A private `redis-server` child process, for tests, the demo and the benchmark.
///
/// It listens on a unix socket in its own temporary folder (and on a loopback TCP port
/// when asked), keeps no data on disk unless `persistence` is on, and is stopped by
/// `stop()`; `kill()` and `restart()` are there for fault tests.
public final class LocalRedisServer: Sendable {
    /// The folder holding the socket, the log and any data files.
    public let directory: URL
    public let socketPath: String
    /// The TCP port on 127.0.0.1, or nil for a socket-only server.
    public let port: Int?
    private let arguments: [String]
    /// The running child (spawned with posix_spawn and reaped with waitpid).
    private let process: Mutex<ChildProcess?>

    /// `unix:///.../redis.sock`
    public var url: String { "unix://\(socketPath)" }
    /// `redis://127.0.0.1:<port>` (only for a server started with `tcp: true`).
    public var tcpURL: String? { port.map { "redis://127.0.0.1:\($0)" } }

    /// Starts a server and waits until it answers `PING`.
    /// - Parameters:
    ///   - tcp: also listen on a free loopback port.
    ///   - persistence: enable the append-only file (`appendfsync everysec`).
    ///   - extraArguments: more `redis-server` options, e.g. `["--requirepass", "secret"]`.
    public static func start(
        tcp: Bool = false, persistence: Bool = false, extraArguments: [String] = []
    ) async throws -> LocalRedisServer {
        // The free port found may be taken by someone else before redis-server binds it
        // (tests run in parallel): then try another one.
        for attempt in 1... {
            let server = try LocalRedisServer(tcp: tcp, persistence: persistence, extraArguments: extraArguments)
            do {
                try await server.launch()
                return server
            } catch let error as LocalRedisServerError where tcp && attempt < 5 && error.description.contains("Address already in use") {
                continue
            }
        }
        fatalError("unreachable")
    }

    private convenience init(tcp: Bool, persistence: Bool, extraArguments: [String]) throws {
        try self.init(port: tcp ? try Self.freeLoopbackPort() : nil, persistence: persistence, extraArguments: extraArguments)
    }

    /// A server not yet launched: on `port` (nil: the unix socket only), in a new folder named
    /// `name` inside `parent` (default: a `redis-<pid>-<random>` folder in the temporary folder).
    /// `LocalRedisCluster` builds its nodes with this and calls `launch()` itself.
    init(
        port: Int?, persistence: Bool, extraArguments: [String], parent: URL? = nil, name: String? = nil
    ) throws {
        let folderName = name ?? "redis-\(getpid())-\(UUID().uuidString.prefix(8))"
        directory = (parent ?? FileManager.default.temporaryDirectory).appendingPathComponent(folderName, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("redis.sock").path
        self.port = port
        var arguments = [
            "--port", "\(port ?? 0)", "--bind", "127.0.0.1",
            "--unixsocket", socketPath, "--unixsocketperm", "700",
            "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path,
            "--daemonize", "no", "--save", "",
        ]
        arguments += persistence ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"]
        self.arguments = arguments + extraArguments
        process = Mutex(nil)
    }

    deinit {
        // Blocks only when the server was never stopped (a test that threw past its `stop()`).
        if let child = process.withLock({ $0 }) {
            child.send(SIGTERM)
            child.wait()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Lifecycle

    /// Stops the server (SIGTERM) and waits for it to exit, without blocking a thread; after
    /// 30 s it is killed (SIGKILL).
    public func stop() async {
        await stopProcess(signal: SIGTERM)
    }

    /// Sends SIGTERM without waiting for the exit (`stop()` waits): to stop several at once.
    func signalStop() {
        process.withLock { $0?.send(SIGTERM) }
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    public func kill() async {
        await stopProcess(signal: SIGKILL)
    }

    /// Stops the server (if running) and starts it again on the same socket and port.
    public func restart() async throws {
        await stop()
        try await launch()
    }

    /// The process id of the running server.
    public var pid: Int32? { process.withLock { $0?.pid } }

    /// Starts the process with this server's arguments and waits until it answers `PING`;
    /// throws (with the end of its log) if it exits or does not answer within 30 s. The server
    /// is asked once more after the deadline: a task not scheduled for a while (a full test run
    /// on two loaded cores) would otherwise fail a server that answered long ago.
    func launch() async throws {
        let executable = try Self.findExecutable()
        try? FileManager.default.removeItem(atPath: socketPath)
        let child = try ChildProcess(executable: executable, arguments: arguments)
        process.withLock { $0 = child }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let status = child.poll() {
                process.withLock { $0 = nil }
                let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
                throw LocalRedisServerError("redis-server exited at start (wait status \(status)): \(log.suffix(600))")
            }
            if FileManager.default.fileExists(atPath: socketPath), await answersPing() { return }
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        await stop()
        throw LocalRedisServerError("redis-server did not answer PING within 30 s on \(socketPath)")
    }

    private func answersPing() async -> Bool {
        let client = RedisClient(configuration: RedisConfiguration(endpoint: .unixSocket(path: socketPath), connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(500)))
        defer { client.close() }
        // LOADING (while an AOF is read back) is an error reply, so it counts as not ready.
        return (try? await client.ping()) == true
    }

    private func stopProcess(signal: Int32) async {
        let child = process.withLock { current -> ChildProcess? in
            let child = current
            current = nil
            return child
        }
        guard let child else { return }
        child.send(signal)
        if await child.wait(timeout: .seconds(30)) == nil {
            child.send(SIGKILL)
            await child.exited()
        }
    }

    // MARK: Helpers

    /// The path of `name` (`redis-server`, `redis-cli`) in the usual folders or PATH.
    static func findExecutable(named name: String = "redis-server") throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] + path.split(separator: ":").map(String.init) {
            let candidate = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw LocalRedisServerError(
            "\(name) not found in PATH: install it with 'apt-get install -y redis-server' (the README's commands do)")
    }

    /// A loopback port no socket of this network namespace uses, picked at random below the
    /// kernel's ephemeral range. Another process may take it before redis-server binds it:
    /// `start` retries on "Address already in use".
    private static func freeLoopbackPort() throws -> Int {
        let used = TCPPorts.inUse()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let port = Int.random(in: 10_000..<32_768, using: &generator)
            if !used.contains(port) { return port }
        }
        throw LocalRedisServerError("cannot find a free port: \(used.count) ports in use")
    }
}

/// The TCP ports of this network namespace, read from the kernel's socket tables
/// (`/proc/net/tcp` and `/proc/net/tcp6`) rather than probed with socket calls.
public enum TCPPorts {
    /// Ports some socket is bound to (listening, connected or closing).
    public static func inUse() -> Set<Int> { ports { _ in true } }

    /// Ports some socket listens on (on any address).
    public static func listening() -> Set<Int> { ports { $0 == "0A" } }

    /// The local ports of the table rows whose state (hex, `0A` = LISTEN) passes `state`.
    private static func ports(_ state: (Substring) -> Bool) -> Set<Int> {
        var ports = Set<Int>()
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let table = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            // "  sl  local_address rem_address   st ...", then "0: 0100007F:1F90 00000000:0000 0A ..."
            for row in table.split(separator: "\n").dropFirst() {
                let columns = row.split(separator: " ")
                guard columns.count > 3, state(columns[3]), let colon = columns[1].lastIndex(of: ":"),
                    let port = Int(columns[1][columns[1].index(after: colon)...], radix: 16)
                else { continue }
                ports.insert(port)
            }
        }
        return ports
    }
}

/// Starting or stopping the private redis-server failed.
public struct LocalRedisServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh private server and stops the server afterwards, even on error.
public func withLocalRedisServer<Result>(
    tcp: Bool = false, persistence: Bool = false, extraArguments: [String] = [],
    _ body: (LocalRedisServer) async throws -> Result
) async throws -> Result {
    let server = try await LocalRedisServer.start(tcp: tcp, persistence: persistence, extraArguments: extraArguments)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
