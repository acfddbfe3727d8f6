// Option groups every rpo tool shares, so that they all take input, output, seeds and verbosity the same way.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment

/// The input: an optional path; absent or "-" reads standard input. zstd, gzip or plain, by magic bytes.
public struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Input JSON Lines (zstd, gzip or plain, recognised by content). Absent or '-' reads standard input.",
                                 valueName: "file"))
    public var input: String?

    @Option(name: .customLong("max-line-bytes"), help: "Longest input line accepted, in bytes.")
    public var maxLineBytes: Int = 256 << 20

    public init() {}

    /// The name used in diagnostics.
    public var sourceName: String { input == nil || input == "-" ? "<stdin>" : input! }

    public func openRecords() throws -> RecordReader {
        try RecordReader(path: input, maxLineBytes: maxLineBytes)
    }

    public func openLines() throws -> LineReader {
        LineReader(try openDecompressed(path: input), maxLineBytes: maxLineBytes)
    }

    public mutating func validate() throws {
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be positive") }
    }
}

/// The output: `-o PATH` or standard output; zstd unless asked otherwise or the file name ends in
/// `.jsonl`/`.json`/`.txt`. Files are written under a temporary name and renamed when complete.
public struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Output file ('-' or absent: standard output). A name ending in .jsonl is written uncompressed.",
                                                    valueName: "file"))
    public var output: String?

    @Flag(name: .customLong("no-compress"), help: "Write plain JSON Lines instead of zstd.")
    public var noCompress = false

    @Option(name: .customLong("level"), help: "zstd compression level (1-19).")
    public var level: Int = 3

    @Flag(name: .customLong("force"), help: "Write compressed data even to a terminal.")
    public var force = false

    public init() {}

    public var compression: Compression {
        if noCompress { return .none }
        if let o = output, o != "-" {
            let lower = o.lowercased()
            if lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") || lower.hasSuffix(".txt") { return .none }
        }
        return .zstd
    }

    public mutating func validate() throws {
        if !(1...22).contains(level) { throw ValidationError("--level must be between 1 and 22") }
        if let o = output, o.lowercased().hasSuffix(".gz") {
            throw ValidationError("gzip output is not supported; name the output .zst or .jsonl")
        }
    }

    /// Opens the record writer. Refuses to write compressed data to a terminal (as zstd does) unless
    /// `--force`.
    public func openRecords() throws -> RecordWriter {
        let file = try FileSink(path: output)
        switch compression {
        case .none, .gzip:
            return RecordWriter(file)
        case .zstd:
            if file.isTerminal && !force {
                throw CLIError.usage("refusing to write compressed data to a terminal (use --no-compress, -o FILE or --force)")
            }
            return RecordWriter(try ZstdSink(file, level: level))
        }
    }
}

/// Verbosity and progress display.
public struct DisplayOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print errors only.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Print more detail on standard error.")
    public var verbose = false

    @Flag(inversion: .prefixedNo, help: "Show a progress line (default: when standard error is a terminal).")
    public var progress: Bool?

    public init() {}

    public var level: Verbosity { quiet ? .quiet : verbose ? .verbose : .normal }

    /// Progress is shown on a terminal (not with TERM=dumb), unless -q or --no-progress; --progress forces it.
    public var showProgress: Bool {
        if let p = progress { return p }
        return !quiet && Terminal.stderrIsInteractive
    }
}

/// The seed of every random choice a tool makes.
public struct SeedOptions: ParsableArguments {
    @Option(name: .customLong("seed"), help: "Seed for every random choice (same seed and input, same output).")
    public var seed: UInt64 = 1

    public init() {}
}

public enum Verbosity: Int, Comparable, Sendable {
    case quiet = 0, normal = 1, verbose = 2
    public static func < (a: Verbosity, b: Verbosity) -> Bool { a.rawValue < b.rawValue }
}

public enum Terminal {
    public static var stderrIsInteractive: Bool {
        isatty(2) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }
}
