// The conventions every tool shares, tried where they break: usage errors in the tools' own format, `-o` onto
// what is not a regular file (/dev/null, a FIFO, a symlink), closed standard streams, a reader that goes away
// (`| head -1`), and a signal during a write.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ConventionsCLITests {
    static let paired = ["--layout", "paired", "--batch-size", "2", "--micro-batch", "2", "--weighting", "none"]

    /// `n` pair records as JSON Lines.
    static func pairs(_ n: Int) -> [UInt8] { PairsCLITests.jsonl((0..<n).map { PairsCLITests.pair($0) }) }

    static func input(_ dir: TempDir, _ n: Int = 8) throws -> String {
        let path = dir.file("in.jsonl")
        try Data(pairs(n)).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `script` with /bin/sh in `cwd`, the tools' directory first on PATH (standard output discarded).
    static func sh(_ script: String, cwd: String) throws -> ToolResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = Tools.binDir.path + ":/usr/bin:/bin"
        p.environment = env
        let errPath = cwd + "/.sh-stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? err.close(); try? FileManager.default.removeItem(atPath: errPath) }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return ToolResult(status: p.terminationStatus, stdout: [], stderr: text)
    }

    /// The batch records of a file (plain or zstd).
    static func batches(_ path: String) throws -> [TrainingBatch] {
        let reader = try RecordReader(path: path)
        var out: [TrainingBatch] = []
        while let rec = try reader.read() {
            out.append(try TrainingBatch(record: rec, source: reader.name, record: reader.recordNumber))
        }
        return out
    }

    @Test func usageErrorsUseTheToolsFormat() throws {
        let r = try Tools.run("rpo-pairs", ["--layout", "triplets"])
        #expect(r.status == 64 && r.stderr.hasPrefix("rpo-pairs: error: ") && !r.stderr.contains("Error:"), "\(r.stderr)")
        let missing = try Tools.run("rpo-tokenize", [])
        #expect(missing.status == 64 && missing.stderr.hasPrefix("rpo-tokenize: error: "), "\(missing.stderr)")
        let unknown = try Tools.run("rpo-embed", ["--no-such-option"])
        #expect(unknown.status == 64 && unknown.stderr.hasPrefix("rpo-embed: error: ") && unknown.stderr.contains("--no-such-option"),
                "\(unknown.stderr)")
        let help = try Tools.run("rpo-pairs", ["--help"])
        #expect(help.status == 0 && help.stdoutText.contains("USAGE") && help.stderr.isEmpty)
    }

    @Test func outputOntoDevNullIsWrittenNotReplaced() throws {
        let dir = TempDir()
        let input = try Self.input(dir)
        var before = stat(), after = stat()
        #expect(stat("/dev/null", &before) == 0)
        let r = try Tools.run("rpo-pairs", Self.paired + ["-o", "/dev/null", "--no-compress", input])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(stat("/dev/null", &after) == 0 && (after.st_mode & S_IFMT) == S_IFCHR && after.st_rdev == before.st_rdev,
                "/dev/null is still the character device")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: "/dev")).contains { $0.hasPrefix(".null.") })
    }

    @Test func outputOntoAFIFOIsWrittenThrough() throws {
        let dir = TempDir()
        _ = try Self.input(dir)
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader gives up after 60 s (a tool that replaced the FIFO would leave it waiting for ever).
        let r = try Self.sh("timeout 60 cat fifo > got.jsonl & rpo-pairs \(Self.paired.joined(separator: " ")) --no-compress -o fifo in.jsonl; s=$?; wait; exit $s",
                            cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still a FIFO")
        #expect(try Self.batches(dir.file("got.jsonl")).count == 4, "the reader got the batches")
    }

    @Test func outputOntoASymlinkKeepsTheLink() throws {
        let dir = TempDir()
        let input = try Self.input(dir)
        // A link to a regular file: the target is replaced whole, the link stays.
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: dir.file("target.jsonl")))
        #expect(symlink("target.jsonl", dir.file("link.jsonl")) == 0)
        let r = try Tools.run("rpo-pairs", Self.paired + ["-o", dir.file("link.jsonl"), input])
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(lstat(dir.file("link.jsonl"), &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK, "the link is still a link")
        #expect(try Self.batches(dir.file("target.jsonl")).count == 4)
        // A link to a pipe (as /proc/self/fd/1 is): written through, the link untouched.
        let viaProc = try Self.sh("ln -s /proc/self/fd/1 out && rpo-pairs \(Self.paired.joined(separator: " ")) --no-compress -o out in.jsonl | cat > piped.jsonl; test -L out",
                                  cwd: dir.path)
        #expect(viaProc.status == 0, "\(viaProc.stderr)")
        #expect(try Self.batches(dir.file("piped.jsonl")).count == 4)
        // A directory is an error.
        try FileManager.default.createDirectory(atPath: dir.file("d"), withIntermediateDirectories: false)
        let d = try Tools.run("rpo-pairs", Self.paired + ["-o", dir.file("d"), input])
        #expect(d.status == 1 && d.stderr.contains("is a directory"), "\(d.stderr)")
    }

    @Test func closedStandardErrorDoesNotReachTheOutput() throws {
        let dir = TempDir()
        _ = try Self.input(dir)
        for out in ["out.jsonl", "out.zst"] {
            let r = try Self.sh("rpo-pairs \(Self.paired.joined(separator: " ")) --stats -o \(out) in.jsonl 2>&-", cwd: dir.path)
            #expect(r.status == 0, "\(out): \(r.stderr)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file(out)))
            #expect(!String(decoding: bytes, as: UTF8.self).contains("rpo-pairs:"), "\(out) holds the notes")
            #expect(try Self.batches(dir.file(out)).count == 4, "\(out) is a valid output")
        }
        // Closed standard input reads as empty.
        let r = try Self.sh("rpo-pairs \(Self.paired.joined(separator: " ")) -o none.jsonl <&-", cwd: dir.path)
        #expect(r.status == 0 && r.stderr.contains("no batch written"), "\(r.stderr)")
    }

    @Test func aReaderThatGoesAwayEndsTheToolQuietly() throws {
        let dir = TempDir()
        _ = try Self.input(dir, 20_000)  // megabytes of batch records: far more than a pipe holds
        let r = try Self.sh("rpo-pairs --layout paired --batch-size 1 --micro-batch 1 --weighting none --no-compress in.jsonl 2>err | head -1 > first.jsonl",
                            cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let err = try String(contentsOfFile: dir.file("err"), encoding: .utf8)
        #expect(err.isEmpty, "stderr: \(err)")
        #expect(try Self.batches(dir.file("first.jsonl")).count == 1)
    }

    @Test func aSignalDuringAWriteLeavesNoTemporaryFile() throws {
        let dir = TempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tools.path("rpo-pairs"))
        p.arguments = Self.paired + ["-o", dir.file("out.zst")]
        let stdin = Pipe()
        p.standardInput = stdin
        p.standardError = FileHandle.nullDevice
        try p.run()
        // One record lets the tool past format detection: it opens the output, then waits for more input.
        stdin.fileHandleForWriting.write(Data(Self.pairs(1)))
        let temp = dir.file(".out.zst.\(p.processIdentifier).tmp")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: temp) && Date() < deadline { usleep(10_000) }
        #expect(FileManager.default.fileExists(atPath: temp), "the tool writes under a temporary name")
        kill(p.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(60)
        while p.isRunning && Date() < end { usleep(10_000) }
        if p.isRunning {
            Issue.record("SIGTERM did not end the tool")
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.isEmpty, "left \(left)")
    }
}
