// Diagnostics on standard error in one format (`rpo-<tool>: error: <source>:<record>: <message>`), exit
// codes (0 ok, 1 data or runtime error, 64 usage), and a progress line that only a terminal sees.
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RPOCore
import RPOAlignment

/// Errors the tools raise themselves (library errors carry their own types).
public enum CLIError: Error, CustomStringConvertible {
    /// Wrong use of the tool: exit 64.
    case usage(String)
    /// Anything else that stops the run: exit 1.
    case failure(String)

    public var description: String {
        switch self {
        case .usage(let m), .failure(let m): return m
        }
    }
}

/// Writes messages to standard error, prefixed with the tool's name.
public struct Diagnostics: Sendable {
    public let tool: String
    public let level: Verbosity

    public init(tool: String, level: Verbosity = .normal) { self.tool = tool; self.level = level }

    public func error(_ message: String) { emit("\(tool): error: \(message)\n") }

    public func warning(_ message: String) {
        if level >= .normal { emit("\(tool): warning: \(message)\n") }
    }

    /// A result or summary line (shown unless -q).
    public func note(_ message: String) {
        if level >= .normal { emit("\(tool): \(message)\n") }
    }

    /// Detail shown with -v only.
    public func info(_ message: String) {
        if level >= .verbose { emit("\(tool): \(message)\n") }
    }

    func emit(_ s: String) { Stderr.write(s) }
}

/// Unbuffered writes to file descriptor 2 (no stdio state shared between threads).
public enum Stderr {
    public static func write(_ s: String) {
        var s = s
        s.withUTF8 { u in
            var off = 0
            while off < u.count {
                let n = Glibc.write(2, u.baseAddress! + off, u.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                off += n
            }
        }
    }
}

public enum Tool {
    /// The entry point of every tool (`static func main() { Tool.main(Self.self) }` or a top-level
    /// `Tool.main(Command.self)`): standard descriptors made safe, then parsing, validation and the command's
    /// `run()`. Usage errors print as every other error, `rpo-<tool>: error: <message>` (exit 64), not
    /// ArgumentParser's `Error: ...`; help and version print as ArgumentParser prints them.
    public static func main<C: ParsableCommand>(_ command: C.Type, arguments: [String]? = nil) -> Never {
        prepareProcess()
        let parsed: ParsableCommand
        do { parsed = try command.parseAsRoot(arguments) } catch { exit(command, error) }
        var cmd = parsed
        do { try cmd.run() } catch { exit(command, error) }
        Foundation.exit(0)
    }

    /// `main` for asynchronous commands (network clients).
    public static func mainAsync<C: AsyncParsableCommand>(_ command: C.Type, arguments: [String]? = nil) async -> Never {
        prepareProcess()
        let parsed: ParsableCommand
        do { parsed = try command.parseAsRoot(arguments) } catch { exit(command, error) }
        do {
            if var a = parsed as? AsyncParsableCommand { try await a.run() } else { var c = parsed; try c.run() }
        } catch { exit(command, error) }
        Foundation.exit(0)
    }

    /// Process-wide setup before anything is opened: file descriptors 0, 1 and 2 exist (/dev/null stands in
    /// for a closed one, so that no output file can become "standard error" and receive its notes), and
    /// SIGPIPE is ignored (a closed pipe is seen as EPIPE; see `exitCode(for:_:)`).
    public static func prepareProcess() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if n >= 0 && n != fd { dup2(n, fd); close(n) }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Ends the process for an error of parsing or of the command: help and version on standard output
    /// (exit 0), exit codes the command already reported passed on, anything else printed once.
    static func exit<C: ParsableCommand>(_ command: C.Type, _ error: Error) -> Never {
        if let e = error as? ExitCode { Foundation.exit(e.rawValue) }
        let code = command.exitCode(for: error)
        if code == .success { command.exit(withError: error) }  // --help, --version: ArgumentParser prints them
        let tool = command.configuration.commandName ?? "rpo"
        var message = command.message(for: error)
        if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase == true {
            message = first.lowercased() + message.dropFirst()
        }
        Stderr.write("\(tool): error: \(message)\n")
        if code.rawValue == ExitCode.validationFailure.rawValue {
            Stderr.write("\(tool): see '\(tool) --help'\n")
        }
        Foundation.exit(code.rawValue)
    }

    /// Runs a tool's body with the conventions every rpo tool follows: SIGPIPE ignored (a closed pipe ends
    /// the tool quietly), errors printed once as `<tool>: error: <message>`, exit code 1 for data and
    /// runtime errors and 64 for usage errors. Throws `ExitCode` for ArgumentParser to exit with.
    /// `display` must be the tool's parsed `@OptionGroup` (an unparsed `DisplayOptions()` traps when read);
    /// without one, verbosity is normal.
    public static func run(_ tool: String, display: DisplayOptions? = nil,
                           _ body: (Diagnostics) throws -> Void) throws {
        signal(SIGPIPE, SIG_IGN)
        let diag = Diagnostics(tool: tool, level: display?.level ?? .normal)
        do {
            try body(diag)
        } catch {
            throw exitCode(for: error, diag)
        }
    }

    /// `run` for tools whose body is asynchronous (e.g. network clients).
    public static func runAsync(_ tool: String, display: DisplayOptions? = nil,
                                _ body: (Diagnostics) async throws -> Void) async throws {
        signal(SIGPIPE, SIG_IGN)
        let diag = Diagnostics(tool: tool, level: display?.level ?? .normal)
        do {
            try await body(diag)
        } catch {
            throw exitCode(for: error, diag)
        }
    }

    /// Prints `error` once (unless it is already an exit code) and returns the exit code to throw.
    static func exitCode(for error: Error, _ diag: Diagnostics) -> ExitCode {
        switch error {
        case let e as ExitCode:
            return e
        case is BrokenPipe:
            // The reader went away (`| head -1`): end quietly, as a filter killed by SIGPIPE does.
            TempFiles.removeAll()
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
            return ExitCode(128 + SIGPIPE)
        case CLIError.usage(let m):
            diag.error(m)
            return ExitCode(64)
        case let e as ValidationError:
            diag.error(e.message)
            return ExitCode(64)
        default:
            diag.error(describe(error))
            return ExitCode(1)
        }
    }

    /// A one-line description of any error (library errors describe themselves with their location).
    public static func describe(_ error: Error) -> String {
        String(describing: error)
    }
}

/// A progress line on standard error: count, rate, and ETA when the total is known. Redrawn at most about
/// six times a second; disabled entirely when not requested (not a terminal, -q, --no-progress).
public final class ProgressLine {
    let enabled: Bool
    let label: String
    let unit: String
    public var total: Int?
    let start = Date()
    var lastDraw = Date.distantPast
    var drawn = false
    public private(set) var count = 0

    public init(enabled: Bool, label: String, unit: String = "records", total: Int? = nil) {
        self.enabled = enabled; self.label = label; self.unit = unit; self.total = total
    }

    public func update(_ count: Int) {
        self.count = count
        guard enabled else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 1.0 / 6.0 { return }
        lastDraw = now
        draw(now)
    }

    public func advance(by n: Int = 1) { update(count + n) }

    func draw(_ now: Date) {
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(count) / elapsed : 0
        var s = "\r\u{1B}[K\(label) \(count)"
        if let t = total { s += "/\(t)" }
        s += " \(unit)  \(ProgressLine.format(rate))/s"
        if let t = total, rate > 0, t > count { s += "  ETA \(ProgressLine.clock(Double(t - count) / rate))" }
        Stderr.write(s)
        drawn = true
    }

    /// Erases the line (the tool prints its own summary).
    public func finish() {
        guard enabled, drawn else { return }
        Stderr.write("\r\u{1B}[K")
    }

    static func format(_ x: Double) -> String {
        if x >= 100 { return String(Int(x.rounded())) }
        return String(format: "%.1f", x)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
