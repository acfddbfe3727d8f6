// rpo-judge as a user runs it, against the test HTTP server: a full run with the summary file, the API key
// never printed or written (even when the server echoes it back), resuming, and clear usage and data errors.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct JudgeCLITests {
    static let key = "sk-cli-VERY-SECRET-987654321"
    static let env = ["RPO_JUDGE_TEST_KEY": key]

    static func input(_ n: Int) -> [UInt8] { judgeLines(JudgeRunTests.samples(n)) }

    static func args(_ server: TestHTTPServer, _ extra: [String]) -> [String] {
        ["--task", "dialogue", "--judge", "api", "--api-base", server.baseURL, "--api-key-env", "RPO_JUDGE_TEST_KEY",
         "--timeout", "2", "--retries", "1", "--backoff", "0.01", "--bootstrap", "200", "--no-progress"] + extra
    }

    @Test func fullRunWritesJudgmentsAndSummaryAndNeverTheKey() throws {
        let dir = TempDir()
        // The server echoes the Authorization header in answers and in error bodies.
        let server = try TestHTTPServer { n, r in
            let auth = r.headers["authorization"] ?? ""
            switch n % 3 {
            case 0: return .respond(status: 200, body: TestHTTPServer.completion("Response 1, says \(auth)"))
            case 1: return .respond(status: 400, body: #"{"error":{"message":"bad request from \#(auth)"}}"#)
            default: return .respond(status: 200, body: TestHTTPServer.completion("Neither \(auth)"))
            }
        }
        let summaryPath = dir.file("summary.json")
        let r = try Tools.run("rpo-judge", Self.args(server, ["--concurrency", "1", "--summary", summaryPath, "--no-compress"]),
                              stdin: Self.input(6), env: Self.env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(server.requests.count == 6 && server.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(Self.key)" })
        let summary = try String(contentsOfFile: summaryPath, encoding: .utf8)
        for (name, text) in [("stdout", r.stdoutText), ("stderr", r.stderr), ("summary", summary)] {
            #expect(!text.contains(Self.key) && !text.contains("VERY-SECRET"), "the key leaked into \(name)")
        }
        #expect(r.stdoutText.contains("<redacted>"))
        let records = r.stdoutText.split(separator: "\n").map { try! JSONParser.parse(String($0)).objectValue! }
        #expect(records.count == 6)
        #expect(records.map { $0["status"]!.stringValue! } == ["ok", "failed", "unparsed", "ok", "failed", "unparsed"])
        let s = try JSONParser.parse(summary).objectValue!
        #expect(s["attempts"] == .int(6) && s["failed"] == .int(2) && s["unparsed"] == .int(2) && s["decided"] == .int(2))
        #expect(r.stderr.contains("rpo-judge: win rate of policy:"))
    }

    /// The deadlines, measured on the tool in its own process: a server that never answers costs each
    /// comparison (retries + 1) deadlines and the backoffs between them, comparisons overlapping.
    @Test func deadlinesHoldInTheTool() throws {
        let server = try TestHTTPServer { _, _ in .hang }
        let start = Date()
        let r = try Tools.run("rpo-judge", Self.args(server, ["--timeout", "0.3", "--retries", "1", "--backoff", "0.05",
                                                              "--concurrency", "3", "--no-compress"]),
                              stdin: Self.input(3), env: Self.env, timeout: 60)
        let t = Date().timeIntervalSince(start)
        // Every comparison failed: the run is an error, its records kept for --resume --retry-failed.
        #expect(r.status == 1 && r.stderr.contains("rpo-judge: error: every one of the 3 comparisons failed"), "\(r.stderr)")
        let records = r.stdoutText.split(separator: "\n").map { try! JSONParser.parse(String($0)).objectValue! }
        #expect(records.count == 3 && records.allSatisfy { $0["status"] == .string("failed") && $0["attempts"] == .int(2) })
        #expect(records.allSatisfy { $0["error"]?.stringValue?.hasPrefix("timeout: no complete answer within 0.3 s") == true })
        #expect(server.requests.count == 6)
        // Nominal 0.65 s (two 0.3 s deadlines and a backoff under 0.05 s, the three comparisons at once) plus
        // the tool's start. Without working deadlines the tool would wait for answers that never come; 10 s
        // leaves room for a heavily loaded machine (its own process: no other suite shares its threads).
        #expect(t >= 0.6 && t < 10, "\(t) s")
        server.stop()
    }

    @Test func resumeThroughTheCommandLine() throws {
        let dir = TempDir()
        let server = try TestHTTPServer { _, r in JudgeRunTests.prefersPolicy(r) }
        let out = dir.file("judged.jsonl")
        let input = dir.file("samples.jsonl")
        try Data(Self.input(5)).write(to: URL(fileURLWithPath: input))
        let first = try Tools.run("rpo-judge", Self.args(server, [input, "-o", out, "--resume", "--max-comparisons", "3"]), env: Self.env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(server.requests.count == 3)
        let second = try Tools.run("rpo-judge", Self.args(server, [input, "-o", out, "--resume"]), env: Self.env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(server.requests.count == 5)
        #expect(second.stderr.contains("3 comparisons resumed from the output"))
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        let bad = try Tools.run("rpo-judge", Self.args(server, [input, "--resume"]), env: Self.env)
        #expect(bad.status == 64 && bad.stderr.contains("--resume appends to a plain JSON Lines file"))
    }

    @Test func usageErrors() throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 1")) }
        let task = try Tools.run("rpo-judge", ["--task", "poetry", "--judge", "api", "--no-api-key"], stdin: Self.input(1))
        #expect(task.status == 64 && task.stderr.hasPrefix("rpo-judge: error: unknown task \"poetry\""), "\(task.stderr)")
        let noKey = try Tools.run("rpo-judge", ["--task", "dialogue", "--judge", "api", "--api-base", server.baseURL,
                                                "--api-key-env", "RPO_JUDGE_SURELY_UNSET"], stdin: Self.input(1))
        #expect(noKey.status == 64 && noKey.stderr.contains("RPO_JUDGE_SURELY_UNSET is not set"), "\(noKey.stderr)")
        let labels = try Tools.run("rpo-judge", ["--task", "dialogue", "--labels", "111", "--no-api-key", "--judge", "api"], stdin: Self.input(1))
        #expect(labels.status == 64 && labels.stderr.contains("labels must be two different characters"))
        let sides = try Tools.run("rpo-judge", ["--task", "dialogue", "--candidate", "chosen", "--judge", "api", "--no-api-key"], stdin: Self.input(1))
        #expect(sides.status == 64 && sides.stderr.contains("name the same field"))
        let calibrate = try Tools.run("rpo-judge", ["--task", "dialogue", "--judge", "api", "--api-base", server.baseURL,
                                                    "--no-api-key", "--calibrate"], stdin: Self.input(1))
        #expect(calibrate.status == 64 && calibrate.stderr.contains("--calibrate needs the judge's label log-probabilities"),
                "\(calibrate.stderr)")
        #expect(server.requests.isEmpty)
        let noModel = try Tools.run("rpo-judge", ["--task", "dialogue", "--judge", "local"], stdin: Self.input(1))
        #expect(noModel.status == 64 && noModel.stderr.contains("--judge local needs --local-model"), "\(noModel.stderr)")
        let missing = try Tools.run("rpo-judge", ["--task", "dialogue", "--local-model", "/nonexistent/m.gguf"], stdin: Self.input(1))
        #expect(missing.status == 1 && missing.stderr.hasPrefix("rpo-judge: error: /nonexistent/m.gguf"), "\(missing.stderr)")
    }

    @Test func dataErrorsNameTheRecord() throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 1")) }
        var lines = Self.input(3)
        lines += Array(#"{"id":"x","prompt":"p","chosen":"c"}"#.utf8) + [0x0A]
        let r = try Tools.run("rpo-judge", Self.args(server, []), stdin: lines, env: Self.env)
        #expect(r.status == 1 && r.stderr == "rpo-judge: error: <stdin>:4: missing field \"policy\"\n", "\(r.stderr)")
        #expect(server.requests.isEmpty, "input is checked before the first request")
        #expect(r.stdout.isEmpty)
    }

    @Test func rejectedKeyStopsTheRunWithoutPrintingIt() throws {
        let server = try TestHTTPServer { _, r in
            .respond(status: 401, body: #"{"error":{"message":"Incorrect API key provided: \#(r.headers["authorization"] ?? "")"}}"#)
        }
        let r = try Tools.run("rpo-judge", Self.args(server, ["--concurrency", "1"]), stdin: Self.input(3), env: Self.env)
        #expect(r.status == 1 && r.stderr.contains("HTTP 401") && !r.stderr.contains(Self.key), "\(r.stderr)")
        #expect(server.requests.count == 1)
    }

    @Test func helpShowsTheSchemasAndAnExample() throws {
        let r = try Tools.run("rpo-judge", ["--help"])
        #expect(r.status == 0)
        for s in ["\"winner\"", "\"order\"", "\"prompt\"", "--resume", "rpo-sample"] { #expect(r.stdoutText.contains(s), "\(s)") }
    }
}
