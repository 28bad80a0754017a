import Foundation
import Synchronization

/// A child process started with `posix_spawn`, for tests and scripts that run real
/// processes (redis-server, our executables) and kill them on purpose.
///
/// The child starts with no blocked signals and default signal handlers (threads of the
/// Swift runtime block most signals, and a child would otherwise inherit that and ignore
/// SIGTERM). It is reaped with `waitpid`, never left as a zombie once waited for.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let executable: String
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`. Standard input is /dev/null; standard output
    /// and error go to `outputPath` (appended) or to /dev/null. With `newSession` the child
    /// leads a session of its own (`setsid`): it outlives this process and its terminal.
    public init(
        executable: String, arguments: [String] = [], environment: [String: String]? = nil, outputPath: String? = nil,
        newSession: Bool = false
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let output = outputPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        let setsid: Int32 = newSession ? 0x80 : 0  // POSIX_SPAWN_SETSID (glibc)
        posix_spawnattr_setflags(&attributes, Int16(Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | setsid))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environmentStrings = environment.map { variables in
            variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { for pointer in environmentStrings ?? [] { free(pointer) } }
        var pid: pid_t = 0
        let status: Int32
        if let environmentStrings {
            status = posix_spawn(&pid, executable, &actions, &attributes, argv, environmentStrings)
        } else {
            status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        }
        guard status == 0 else {
            throw LocalRedisServerError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        self.executable = executable
    }

    /// Sends `signal` (e.g. `SIGTERM`, `SIGKILL`) unless the child has been reaped.
    public func send(_ signal: Int32) {
        if exitStatus.withLock({ $0 }) == nil { Foundation.kill(pid, signal) }
    }

    /// The wait status once the child has exited, without waiting; nil while it runs.
    public func poll() -> Int32? {
        exitStatus.withLock { status in
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            }
            return status
        }
    }

    /// Waits for the child to exit and returns its wait status, blocking the calling thread:
    /// for synchronous code only (a `deinit`). Async code calls `exited()`, which blocks no
    /// thread of the cooperative pool (two on this machine: a blocked one stalls every test).
    @discardableResult
    public func wait() -> Int32 {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            status = raw
            return raw
        }
    }

    /// Suspends until the child exits (polling every 10 ms) and returns its wait status. A
    /// cancelled task falls back to `wait()`, which blocks: signal the child first.
    @discardableResult
    public func exited() async -> Int32 {
        while true {
            if let status = poll() { return status }
            if Task.isCancelled { return wait() }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Polls until the child exits or `timeout` passes; returns the wait status or nil.
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = poll() { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return poll()
    }

    /// The exit code of a child that exited normally (nil if it was killed by a signal).
    public static func exitCode(of status: Int32) -> Int32? {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }

    /// Runs `executable` to completion and returns its exit code (or 128 + signal) and its
    /// combined standard output and error.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil
    ) async throws -> (exitCode: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("child-\(getpid())-\(UUID().uuidString.prefix(8)).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try ChildProcess(
            executable: executable, arguments: arguments, environment: environment, outputPath: outputPath)
        var status: Int32?
        while status == nil {
            status = child.poll()
            if status == nil { try await Task.sleep(for: .milliseconds(5)) }
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let code = exitCode(of: status!) ?? (128 + (status! & 0x7f))
        return (code, output)
    }
}

extension ChildProcess {
    /// The path of one of this package's executables built next to the running binary
    /// (`.build/debug/<name>` when run by `swift test`).
    public static func builtExecutable(named name: String) throws -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: me).deletingLastPathComponent()
        // The test bundle may sit inside `<name>.xctest/` folders on some platforms.
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        throw LocalRedisServerError("executable \(name) not found next to \(me): build it first ('swift build --build-tests')")
    }
}
