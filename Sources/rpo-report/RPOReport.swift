// rpo-report: the results table (Markdown and CSV) and the training plots of a pipeline run (pipelines/hh.mk
// `results`), from the files the other tools wrote: rpo-train eval's held-out summaries and paired differences,
// rpo-judge's summaries and its validation, rpo-train's metrics. Missing files give "n/a" cells, not errors (a
// run in progress can be reported); a file that is there but unreadable is an error naming it (and its line).
// The plots are drawn by gnuplot (Debian gnuplot-nox) from data files written next to them.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

@main
struct RPOReport: ParsableCommand {
    static func main() { Tool.main(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "rpo-report",
        abstract: "Write the results table and plots of a pipeline run.",
        discussion: """
        Reads, for each VARIANT (`start` is the untrained starting policy):
          OUT/VARIANT/heldout.json    rpo-train eval --summary: held-out preference accuracy, margin and
                                      log-prob changes on the test pairs, each with its 95% interval
          OUT/VARIANT/vs-start.json   rpo-train eval --against start: paired differences from the start
          OUT/VARIANT/vs-dpo.json     the same against dpo (when dpo was trained)
          OUT/VARIANT/summary.json    rpo-judge --summary: win rate against the dataset's chosen response
          OUT/VARIANT/metrics.jsonl   rpo-train's step records and its "mode": "eval" records
        and OUT/judge/validation.json, OUT/judge/sanity.json (rpo-judge --validate --summary).

        Writes (nothing on standard output):
          OUT/results.md, OUT/results.csv               the tables (CSV: one row per variant)
          OUT/plots/{loss,margins,accuracies,logps}.png  training (lines) and validation (points) curves,
                                                         with their data files OUT/plots/*.dat
        A resumed run repeats the steps after its last checkpoint: the later record of a step wins.

        EXAMPLE:
          make -f pipelines/hh.mk heldout judgments OUT=out/hh
          rpo-report out/hh start dpo rpo-paired-0.5 && cat out/hh/results.md
        """)

    @Argument(help: ArgumentHelp("The run's output directory (pipelines/hh.mk OUT).", valueName: "out"))
    var out: String

    @Argument(help: ArgumentHelp("The variants, in table order.", valueName: "variant"))
    var variants: [String]

    @Flag(inversion: .prefixedNo, help: "Draw the plots with gnuplot (default: when gnuplot is installed).")
    var plots = true

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if variants.isEmpty { throw ValidationError("give at least one variant") }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: out, isDirectory: &isDir) || !isDir.boolValue {
            throw ValidationError("\(out): no such directory")
        }
    }

    func run() throws {
        try Tool.run("rpo-report", display: display) { diag in
            let report = try RunReport(out: out, variants: variants)
            try write(report.csv(), to: "\(out)/results.csv")
            try write(report.markdown(), to: "\(out)/results.md")
            if plots, !report.curves.isEmpty {
                if let gnuplot = Gnuplot.find() {
                    try report.plot(into: "\(out)/plots", gnuplot: gnuplot)
                } else {
                    diag.warning("gnuplot not found; no plots (make setup installs gnuplot-nox)")
                }
            }
        }
    }

    func write(_ text: String, to path: String) throws {
        let sink = try FileSink(path: path)
        try Array(text.utf8).withUnsafeBytes { try sink.write($0) }
        try sink.finish()
    }
}

// MARK: - Reading

/// A JSON object read from a file, with typed lookups by key path ("accuracy.mean").
struct Doc {
    let root: JSONObject

    static let empty = Doc(root: JSONObject())

    /// The file's object; `empty` when the file does not exist.
    static func load(_ path: String) throws -> Doc {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw IOError(path, "cannot be read") }
            return .empty
        }
        let json: JSON
        do { json = try JSONParser.parse(String(decoding: data, as: UTF8.self)) } catch { throw IOError(path, error.description) }
        guard let o = json.objectValue else { throw IOError(path, "not a JSON object (found \(json.typeName))") }
        return Doc(root: o)
    }

    func value(_ path: String) -> JSON? {
        var cur: JSON = .object(root)
        for key in path.split(separator: ".") {
            guard let o = cur.objectValue, let v = o[String(key)] else { return nil }
            cur = v
        }
        return cur.isNull ? nil : cur
    }

    func number(_ path: String) -> Double? { value(path)?.doubleValue }
    func string(_ path: String) -> String? { value(path)?.stringValue }
    func int(_ path: String) -> Int? { value(path)?.intValue }
    /// An estimate {mean, lower, upper}.
    func estimate(_ path: String) -> (mean: Double, lower: Double, upper: Double)? {
        guard let m = number("\(path).mean"), let l = number("\(path).lower"), let u = number("\(path).upper") else { return nil }
        return (m, l, u)
    }
}

/// rpo-train's metrics file: step records and evaluation records, each in step order, the later record of a
/// step winning (a resumed run repeats the steps since its last checkpoint).
struct Metrics {
    var train: [JSONObject] = []
    var eval: [JSONObject] = []

    static func load(_ path: String) throws -> Metrics {
        guard FileManager.default.fileExists(atPath: path) else { return Metrics() }
        let reader = try RecordReader(path: path)
        var train: [Int: JSONObject] = [:], eval: [Int: JSONObject] = [:]
        while let r = try reader.read() {
            guard let step = r["step"]?.intValue else {
                throw RecordError(source: path, record: reader.recordNumber, "missing integer field \"step\"")
            }
            if r["mode"]?.stringValue == "eval" { eval[step] = r } else { train[step] = r }
        }
        return Metrics(train: train.keys.sorted().map { train[$0]! }, eval: eval.keys.sorted().map { eval[$0]! })
    }

    /// The mean of `key` over `records` (records without it skipped); nil when none has it.
    static func mean(_ records: ArraySlice<JSONObject>, _ key: String) -> Double? {
        let v = records.compactMap { $0[key]?.doubleValue }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }
}

// MARK: - Formatting (as the tables have always printed them)

enum Cell {
    static func fmt(_ x: Double?, _ digits: Int = 3, _ scale: Double = 1, sign: Bool = false) -> String {
        guard let x, !x.isNaN else { return "n/a" }
        return String(format: sign ? "%+.\(digits)f" : "%.\(digits)f", x * scale)
    }

    /// "mean [lower, upper]".
    static func est(_ e: (mean: Double, lower: Double, upper: Double)?, _ digits: Int = 3, _ scale: Double = 1,
                    sign: Bool = false) -> String {
        guard let e else { return "n/a" }
        return "\(fmt(e.mean, digits, scale, sign: sign)) [\(fmt(e.lower, digits, scale, sign: sign)), \(fmt(e.upper, digits, scale, sign: sign))]"
    }

    /// Whether an interval excludes zero.
    static func verdict(_ e: (mean: Double, lower: Double, upper: Double)?) -> String {
        guard let e else { return "" }
        if e.lower > 0 { return "higher" }
        if e.upper < 0 { return "lower" }
        return "no detectable difference"
    }

    /// A number as JSON wrote it, for the plots' data files: integers as integers, floats in Swift's shortest
    /// round-trip form, which is also Python's repr (exponent form below 1e-4 and from 1e16).
    static func plain(_ v: JSON) -> String? {
        switch v {
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .float(let f): return "\(Double(f))"
        default: return nil
        }
    }
}

// MARK: - The report

struct RunReport {
    /// One variant's row: CSV columns in order, the Markdown tables read them by name.
    struct Row {
        var fields: [(String, String?)] = []
        subscript(_ key: String) -> String { (fields.first { $0.0 == key }?.1) ?? "" }
        mutating func set(_ key: String, _ value: String?) { fields.append((key, value)) }
    }

    let out: String
    var rows: [Row] = []
    var curves: [(variant: String, metrics: Metrics)] = []
    let judge: Doc, sanity: Doc

    init(out: String, variants: [String]) throws {
        self.out = out
        judge = try Doc.load("\(out)/judge/validation.json")
        sanity = try Doc.load("\(out)/judge/sanity.json")
        for v in variants {
            let h = try Doc.load("\(out)/\(v)/heldout.json")
            let vs = try Doc.load("\(out)/\(v)/vs-start.json")
            let vd = try Doc.load("\(out)/\(v)/vs-dpo.json")
            let s = try Doc.load("\(out)/\(v)/summary.json")
            let m = try Metrics.load("\(out)/\(v)/metrics.jsonl")
            rows.append(Self.row(v, h, vs, vd, s, m))
            if !m.train.isEmpty || !m.eval.isEmpty { curves.append((v, m)) }
        }
    }

    static func row(_ v: String, _ h: Doc, _ vs: Doc, _ vd: Doc, _ s: Doc, _ m: Metrics) -> Row {
        typealias C = Cell
        var r = Row()
        let train = m.train, ev = m.eval
        let q = max(1, (train.count + 3) / 4)  // training metrics: means over the first and the last quarter of steps
        let first = train.prefix(q), last = train.suffix(q)
        func trainMean(_ part: ArraySlice<JSONObject>, _ key: String) -> String {
            train.isEmpty ? "n/a" : C.fmt(Metrics.mean(part, key))
        }
        func evalValue(_ rec: JSONObject?, _ key: String, _ digits: Int = 3) -> String {
            guard let rec else { return "n/a" }
            return C.fmt(rec[key]?.doubleValue, digits)
        }
        let ci0 = s.value("win_rate_ci95")?.arrayValue?.first?.doubleValue
        let ci1 = s.value("win_rate_ci95")?.arrayValue?.dropFirst().first?.doubleValue
        r.set("variant", v)
        r.set("heldout_pairs", h.int("pairs").map(String.init))
        r.set("accuracy_pct", C.fmt(h.number("accuracy.mean"), 1, 100))
        r.set("accuracy_ci95_pct", C.est(h.estimate("accuracy"), 1, 100))
        r.set("accuracy_vs_start_points", C.est(vs.estimate("accuracy_difference"), 1, 100, sign: true))
        r.set("accuracy_vs_dpo_points", C.est(vd.estimate("accuracy_difference"), 1, 100, sign: true))
        r.set("margin", C.est(h.estimate("margin"), 4))
        r.set("margin_vs_start", C.est(vs.estimate("margin_difference"), 4, 1, sign: true))
        r.set("margin_vs_dpo", C.est(vd.estimate("margin_difference"), 4, 1, sign: true))
        r.set("chosen_logp_change", C.est(h.estimate("chosen_logp_change"), 2, 1, sign: true))
        r.set("rejected_logp_change", C.est(h.estimate("rejected_logp_change"), 2, 1, sign: true))
        r.set("accuracy_vs_start_verdict", C.verdict(vs.estimate("accuracy_difference")))
        r.set("margin_vs_start_verdict", C.verdict(vs.estimate("margin_difference")))
        r.set("accuracy_vs_dpo_verdict", C.verdict(vd.estimate("accuracy_difference")))
        r.set("margin_vs_dpo_verdict", C.verdict(vd.estimate("margin_difference")))
        r.set("comparisons", s.int("attempts").map(String.init))
        r.set("win_rate_pct", C.fmt(s.number("win_rate"), 1, 100))
        r.set("win_rate_ci95_pct", "[\(C.fmt(ci0, 1, 100)), \(C.fmt(ci1, 1, 100))]")
        r.set("wins", s.int("candidate.wins").map(String.init))
        r.set("losses", s.int("baseline.wins").map(String.init))
        r.set("ties", String(s.int("ties") ?? 0))
        r.set("failed", String((s.int("failed") ?? 0) + (s.int("unparsed") ?? 0)))
        r.set("policy_mean_chars", C.fmt(s.number("candidate.mean_chars"), 1))
        r.set("chosen_mean_chars", C.fmt(s.number("baseline.mean_chars"), 1))
        r.set("steps", String(train.count))
        r.set("first_loss", trainMean(first, "loss/train"))
        r.set("last_loss", trainMean(last, "loss/train"))
        r.set("first_train_accuracy", trainMean(first, "rewards_train/accuracies_elementwise"))
        r.set("last_train_accuracy", trainMean(last, "rewards_train/accuracies_elementwise"))
        r.set("first_eval_loss", evalValue(ev.first, "loss/eval"))
        r.set("last_eval_loss", evalValue(ev.last, "loss/eval"))
        r.set("first_eval_accuracy", evalValue(ev.first, "rewards_eval/accuracies_elementwise"))
        r.set("last_eval_accuracy", evalValue(ev.last, "rewards_eval/accuracies_elementwise"))
        r.set("last_eval_chosen_logp", evalValue(ev.last, "logps_eval/chosen", 2))
        r.set("first_eval_chosen_logp", evalValue(ev.first, "logps_eval/chosen", 2))
        return r
    }

    /// RFC 4180 CSV (CRLF line ends; a field with a comma, quote or line break quoted, quotes doubled).
    func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [rows[0].fields.map { field($0.0) }.joined(separator: ",")]
        for r in rows { lines.append(r.fields.map { field($0.1 ?? "") }.joined(separator: ",")) }
        return lines.map { $0 + "\r\n" }.joined()
    }

    func markdown() -> String {
        let n = rows[0]["heldout_pairs"].isEmpty ? "None" : rows[0]["heldout_pairs"]
        let hasDPO = rows.contains { $0["accuracy_vs_dpo_points"] != "n/a" }
        var L = ["### Held-out preference metrics (\(n) test pairs)", "",
                 "| variant | accuracy % [95% CI] | vs start, points | " + (hasDPO ? "vs dpo, points | " : "")
                 + "mean margin | vs start | " + (hasDPO ? "vs dpo | " : "") + "chosen log-prob change | rejected log-prob change |",
                 "|---|---|---|" + (hasDPO ? "---|" : "") + "---|---|" + (hasDPO ? "---|" : "") + "---|---|"]
        for r in rows {
            L.append("| \(r["variant"]) | \(r["accuracy_ci95_pct"]) | \(r["accuracy_vs_start_points"]) | "
                     + (hasDPO ? "\(r["accuracy_vs_dpo_points"]) | " : "")
                     + "\(r["margin"]) | \(r["margin_vs_start"]) | " + (hasDPO ? "\(r["margin_vs_dpo"]) | " : "")
                     + "\(r["chosen_logp_change"]) | \(r["rejected_logp_change"]) |")
        }
        L += ["", "Accuracy: the share of pairs whose implicit reward beta * (log pi - log pi_ref) is larger for the chosen "
              + "response (ties count half, so `start`, the reference itself, is 50%); margin: the mean reward difference; "
              + "log-prob changes: log pi - log pi_ref of each response, summed over its tokens. Intervals: percentile "
              + "bootstrap over pairs; differences are paired (the same resampled pairs for both models)."]
        var findings: [String] = []
        for r in rows where r["variant"] != "start" {
            let vsStart = "- \(r["variant"]): held-out accuracy vs start: \(r["accuracy_vs_start_verdict"].isEmpty ? "n/a" : r["accuracy_vs_start_verdict"]); "
                + "margin vs start: \(r["margin_vs_start_verdict"].isEmpty ? "n/a" : r["margin_vs_start_verdict"])"
            let vsDPO = r["accuracy_vs_dpo_verdict"].isEmpty ? "" : "; vs dpo: accuracy \(r["accuracy_vs_dpo_verdict"]), margin \(r["margin_vs_dpo_verdict"])"
            findings.append(vsStart + vsDPO)
        }
        if !findings.isEmpty { L += ["", "At the 95% level (an interval that excludes 0):", ""] + findings }

        let informative = judge.string("validation.verdict") == "informative"
        let aci = judge.value("validation.agreement_ci95")?.arrayValue
        let comparisons = rows[0]["comparisons"].isEmpty ? "None" : rows[0]["comparisons"]
        L += ["", "### Judged win rate against the dataset's chosen response (\(comparisons) test prompts)", ""]
        let attempts = judge.value("attempts").map { $0.intValue.map(String.init) ?? "\($0)" } ?? "n/a"
        L.append("Judge: \(judge.string("judge") ?? "n/a"); validated on \(attempts) test pairs (chosen vs "
                 + "rejected): agrees with the human label on \(Cell.fmt(judge.number("validation.agreement"), 1, 100))% "
                 + "[\(Cell.fmt(aci?.first?.doubleValue, 1, 100)), \(Cell.fmt(aci?.dropFirst().first?.doubleValue, 1, 100))]: "
                 + "**\(judge.string("validation.verdict") ?? "not validated")**."
                 + (informative ? "" : " Its win rates below say nothing about quality and are not the result."))
        if !sanity.root.isEmpty {
            let wins = sanity.int("candidate.wins") ?? 0, n = sanity.int("attempts") ?? 0
            L.append("")
            L.append("Sanity check (data/judge-sanity: a correct one-line answer against \"zxq vrr blorp\"): the judge prefers the "
                     + "correct answer in \(wins) of \(n) pairs"
                     + (wins == n ? "." : ": it rewards something other than quality (what the training labels reward), and a degenerate "
                        + "policy could fool it."))
        }
        L += ["", "| variant | win rate % [95% CI] | wins / losses / ties | failed | mean chars (policy / chosen) |",
              "|---|---|---|---|---|"]
        func orNone(_ s: String) -> String { s.isEmpty ? "None" : s }
        for r in rows {
            L.append("| \(r["variant"]) | \(r["win_rate_pct"]) \(r["win_rate_ci95_pct"]) | \(orNone(r["wins"])) / \(orNone(r["losses"])) / "
                     + "\(r["ties"]) | \(r["failed"]) | \(r["policy_mean_chars"]) / \(r["chosen_mean_chars"]) |")
        }
        L += ["", "Win rate = wins / comparisons (ties and failures count against both sides, as the official compare.py); "
              + "interval: percentile bootstrap over comparisons."]
        let trained = rows.filter { $0["steps"] != "0" }
        if !trained.isEmpty {
            L += ["", "### Training (first quarter -> last quarter of the steps) and validation (first -> last evaluation)", "",
                  "| variant | steps | train loss | train accuracy | validation loss | validation accuracy | validation chosen log-prob |",
                  "|---|---|---|---|---|---|---|"]
            for r in trained {
                L.append("| \(r["variant"]) | \(r["steps"]) | \(r["first_loss"]) -> \(r["last_loss"]) | "
                         + "\(r["first_train_accuracy"]) -> \(r["last_train_accuracy"]) | \(r["first_eval_loss"]) -> "
                         + "\(r["last_eval_loss"]) | \(r["first_eval_accuracy"]) -> \(r["last_eval_accuracy"]) | "
                         + "\(r["first_eval_chosen_logp"]) -> \(r["last_eval_chosen_logp"]) |")
            }
        }
        return L.joined(separator: "\n") + "\n"
    }

    // MARK: Plots

    /// Writes the data files and draws the four plots into `dir`.
    func plot(into dir: String, gnuplot: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let terminal = Gnuplot.terminal(gnuplot)
        func series(_ name: String, _ v: String, _ mode: String, _ recs: [JSONObject], _ key: String, side: String? = nil) throws -> String {
            let data = "\(dir)/\(name).\(v).\(mode).dat"
            var text = ""
            for r in recs { if let x = r[key], let s = Cell.plain(x), let step = r["step"]?.intValue { text += "\(step) \(s)\n" } }
            try Data(text.utf8).write(to: URL(fileURLWithPath: data))
            let style = mode == "train" ? "lines lw 2" : "linespoints pt 7 ps 1.2 dt 2"
            return "'\(data)' using 1:2 with \(style) title '\(v) \(side.map { "\($0) " } ?? "")\(mode == "train" ? "train" : "validation")'"
        }
        let plots: [(String, String, (String) -> String)] = [
            ("loss", "loss (lines: training steps; points: validation)", { "loss/\($0)" }),
            ("margins", "reward margin beta * (chosen - rejected log-ratio)", { "rewards_\($0)/margins" }),
            ("accuracies", "reward accuracy (chosen > rejected)", { "rewards_\($0)/accuracies_elementwise" }),
        ]
        for (name, title, key) in plots {
            var s: [String] = []
            for (v, m) in curves {
                for (mode, recs) in [("train", m.train), ("eval", m.eval)] where !recs.isEmpty {
                    s.append(try series(name, v, mode, recs, key(mode)))
                }
            }
            try Gnuplot.draw(gnuplot, terminal: terminal, output: "\(dir)/\(name).png", title: title, series: s)
        }
        var s: [String] = []
        for (v, m) in curves {
            for (mode, recs) in [("train", m.train), ("eval", m.eval)] where !recs.isEmpty {
                for side in ["chosen", "rejected"] {
                    s.append(try series("logps-\(side)", v, mode, recs, "logps_\(mode)/\(side)", side: side))
                }
            }
        }
        try Gnuplot.draw(gnuplot, terminal: terminal, output: "\(dir)/logps.png",
                         title: "policy log-prob of the chosen and rejected responses (a falling chosen log-prob: trl#800)", series: s)
    }
}

enum Gnuplot {
    /// gnuplot on PATH.
    static func find() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// pngcairo when this gnuplot has it, else png.
    static func terminal(_ gnuplot: String) -> String {
        let (_, err) = (try? run(gnuplot, ["-e", "set terminal"], input: "")) ?? (0, "")
        return err.contains("pngcairo") ? "pngcairo size 900,540" : "png size 900,540"
    }

    static func draw(_ gnuplot: String, terminal: String, output: String, title: String, series: [String]) throws {
        let script = "set terminal \(terminal)\nset output '\(output)'\nset title '\(title)'\nset xlabel 'optimizer step'\n"
            + "set grid\nset key outside right\nplot \(series.joined(separator: ", "))\n"
        let (status, err) = try run(gnuplot, [], input: script)
        if status != 0 { throw IOError(output, "gnuplot failed (exit \(status)): \(err.split(separator: "\n").last ?? "")") }
    }

    /// Runs `path args` with `input` on its standard input; returns its exit status and standard error.
    static func run(_ path: String, _ args: [String], input: String) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let stdin = Pipe(), stderr = Pipe()
        p.standardInput = stdin
        p.standardError = stderr
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // gnuplot may exit before reading its script (EPIPE, SIGPIPE being ignored): its status says what happened
        try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: err, as: UTF8.self))
    }
}
