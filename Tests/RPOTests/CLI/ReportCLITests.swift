// rpo-report against the Python report it replaces (scripts/fixtures/report_reference.py): the same results.md,
// results.csv and plot data files, byte for byte, from a real run's files (the demo's, with a resumed step and a
// variant with no files added); PNGs drawn when gnuplot is installed; unreadable inputs named.
import Foundation
import Testing

@Suite struct ReportCLITests {
    static let variants = ["start", "dpo", "rpo-paired-0.5", "rpo-uniform"]

    /// A fresh copy of the fixture run (rpo-report writes into it).
    static func copyRun() throws -> TempDir {
        let dir = TempDir()
        let run = dir.file("run")
        try FileManager.default.copyItem(atPath: TestPaths.fixture("report/run"), toPath: run)
        return dir
    }

    static func read(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

    @Test func sameTablesAndPlotDataAsThePythonReport() throws {
        let dir = try Self.copyRun()
        let run = dir.file("run")
        let r = try Tools.run("rpo-report", [run] + Self.variants)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let expected = TestPaths.fixture("report/expected")
        for f in ["results.md", "results.csv"] {
            #expect(Self.read("\(run)/\(f)") == Self.read("\(expected)/\(f)"), "\(f) differs from the reference's")
        }
        let dats = try FileManager.default.contentsOfDirectory(atPath: "\(expected)/plots").filter { $0.hasSuffix(".dat") }.sorted()
        #expect(dats.count == 20)  // 5 plots' series (logps twice) x 2 trained variants x train/eval
        for f in dats {
            #expect(Self.read("\(run)/plots/\(f)") == Self.read("\(expected)/plots/\(f)"), "plots/\(f) differs")
        }
        let gnuplot = ["/usr/bin/gnuplot", "/usr/local/bin/gnuplot"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        if gnuplot {
            for p in ["loss", "margins", "accuracies", "logps"] {
                #expect(Self.read("\(run)/plots/\(p).png").prefix(4) == [0x89, 0x50, 0x4E, 0x47], "\(p).png is not a PNG")
            }
        }
    }

    @Test func noPlotsAndBadInputs() throws {
        var dir = try Self.copyRun()
        var run = dir.file("run")
        var r = try Tools.run("rpo-report", ["--no-plots", run, "start", "dpo"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(run)/plots"))

        // a summary that is not JSON: named, exit 1, no table written
        dir = try Self.copyRun(); run = dir.file("run")
        try Data("{\"pairs\": 12,".utf8).write(to: URL(fileURLWithPath: "\(run)/dpo/heldout.json"))
        r = try Tools.run("rpo-report", [run, "start", "dpo"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("rpo-report: error: \(run)/dpo/heldout.json: invalid JSON"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(run)/results.md"))

        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: "\(run)/dpo/heldout.json"))
        r = try Tools.run("rpo-report", [run, "start", "dpo"])
        #expect(r.status == 1 && r.stderr.contains("heldout.json: not a JSON object (found array)"), "\(r.stderr)")

        // a metrics file with a broken line: file and line
        dir = try Self.copyRun(); run = dir.file("run")
        let metrics = "\(run)/rpo-paired-0.5/metrics.jsonl"
        var lines = String(decoding: Self.read(metrics), as: UTF8.self).split(separator: "\n").map(String.init)
        lines[2] = "{\"step\": 3, \"loss/train\": "
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: metrics))
        r = try Tools.run("rpo-report", [run, "rpo-paired-0.5"])
        #expect(r.status == 1 && r.stderr.hasPrefix("rpo-report: error: \(metrics):3:"), "\(r.stderr)")
        lines[2] = "{\"loss/train\": 0.5}"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: metrics))
        r = try Tools.run("rpo-report", [run, "rpo-paired-0.5"])
        #expect(r.status == 1 && r.stderr.contains("\(metrics):3: missing integer field \"step\""), "\(r.stderr)")

        // a gnuplot that fails: the plot named, exit 1 (the tables are written first); one that is absent: a warning
        dir = try Self.copyRun(); run = dir.file("run")
        let bin = dir.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try Data("#!/bin/sh\n/bin/cat > /dev/null\necho 'line 0: unknown terminal' >&2\nexit 1\n".utf8).write(to: URL(fileURLWithPath: "\(bin)/gnuplot"))
        chmod("\(bin)/gnuplot", 0o755)
        r = try Tools.run("rpo-report", [run, "dpo"], env: ["PATH": bin])
        #expect(r.status == 1 && r.stderr.contains("\(run)/plots/loss.png: gnuplot failed (exit 1): line 0: unknown terminal"), "\(r.stderr)")
        // one that exits without reading its script (a closed pipe for rpo-report): the same clear error, no crash
        try Data("#!/bin/sh\necho 'gnuplot: cannot start' >&2\nexit 2\n".utf8).write(to: URL(fileURLWithPath: "\(bin)/gnuplot"))
        for _ in 0..<5 {
            r = try Tools.run("rpo-report", [run, "dpo"], env: ["PATH": bin])
            #expect(r.status == 1 && r.stderr.contains("gnuplot failed (exit 2): gnuplot: cannot start"), "\(r.stderr)")
        }
        try FileManager.default.removeItem(atPath: "\(bin)/gnuplot")
        r = try Tools.run("rpo-report", [run, "dpo"], env: ["PATH": bin])
        #expect(r.status == 0 && r.stderr.contains("warning: gnuplot not found; no plots"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(run)/results.md"))

        // usage: no such directory, no variant
        r = try Tools.run("rpo-report", [dir.file("nowhere"), "dpo"])
        #expect(r.status == 64 && r.stderr.contains("no such directory"), "\(r.stderr)")
        r = try Tools.run("rpo-report", [run])
        #expect(r.status == 64, "\(r.stderr)")
    }
}
