// Runs the built rpo tools as a user would (a child process with stdin, stdout, stderr), for the CLI
// tests: exit codes, diagnostics, byte-identical outputs. The tools are found next to the test binary
// (`swift build --build-tests` builds every executable into the same directory).
import Foundation
import Testing

struct ToolResult {
    let status: Int32
    let stdout: [UInt8]
    let stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

enum Tools {
    static let binDir: URL = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // On Linux the test binary is <bin>/rpoPackageTests.xctest; on macOS a bundle inside <bin>.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("rpoPackageTests.xctest").path) {
            dir.deleteLastPathComponent()
        }
        return dir
    }()

    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    static func path(_ tool: String) -> String { binDir.appendingPathComponent(tool).path }

    /// Runs `tool args...` with `stdin` as standard input (in directory `cwd` when given); waits at most
    /// `timeout` seconds.
    static func run(_ tool: String, _ args: [String], stdin: [UInt8] = [], env: [String: String] = [:],
                    cwd: String? = nil, timeout: TimeInterval = 300) throws -> ToolResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path(tool))
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let inPipe = Pipe(), outPipe = Pipe()
        // stderr goes to a file: no reader thread needed, and no deadlock on a chatty tool.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("rpo-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close(); try? FileManager.default.removeItem(at: errURL) }
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errHandle
        try p.run()
        // A tool may exit before reading all of its input (a usage error): the write then fails with EPIPE,
        // which must not end the test process by SIGPIPE.
        _ = ignoreSIGPIPE
        let writer = Thread {
            try? inPipe.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? inPipe.fileHandleForWriting.close()
        }
        writer.start()
        let deadline = Date().addingTimeInterval(timeout)
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate(); Issue.record("\(tool) timed out after \(timeout) s") }
        p.waitUntilExit()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return ToolResult(status: p.terminationStatus, stdout: [UInt8](out),
                          stderr: String(decoding: errData, as: UTF8.self))
    }
}
