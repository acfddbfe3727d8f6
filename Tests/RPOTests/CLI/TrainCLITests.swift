// rpo-train as a user runs it: training with checkpoints, an interrupted run resumed to the same bits, SIGTERM
// (checkpoint, exit 0), rpo-train score (and its deprecated spelling --score) and training on its output, and clear errors that leave checkpoints intact.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct TrainCLITests {
    static var model: String { TrainFixture.modelDir }
    static func batches(_ run: String) -> String { TestPaths.fixture("train/\(run)/batches.jsonl") }
    static let dpoArgs = ["--loss", "dpo", "--lr", "1e-3", "--warmup-steps", "2", "--max-grad-norm", "0.7", "--no-progress"]

    static func lines(_ r: ToolResult) -> [JSONObject] {
        r.stdoutText.split(separator: "\n").map { try! JSONParser.parse(String($0)).objectValue! }
    }

    static func bytes(_ path: String) -> [UInt8] { [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()) }

    /// Every file under `dir` with its bytes.
    static func snapshot(_ dir: String) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for f in (FileManager.default.subpaths(atPath: dir) ?? []) {
            let p = dir + "/" + f
            if !ModelFiles.isDirectory(p) { out[f] = bytes(p) }
        }
        return out
    }

    /// The records of `run` with `edit` applied to record `k`, written to `path`.
    static func edited(_ run: String, _ path: String, record k: Int, _ edit: (inout JSONObject) -> Void) throws -> String {
        var lines = try String(contentsOfFile: batches(run), encoding: .utf8).split(separator: "\n").map(String.init)
        var o = try JSONParser.parse(lines[k]).objectValue!
        edit(&o)
        lines[k] = try JSONSerializer.string(.object(o))
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func setExample(_ o: inout JSONObject, _ k: Int, _ key: String, _ value: JSON?) {
        var exs = o["examples"]!.arrayValue!
        var e = exs[k].objectValue!
        e[key] = value
        exs[k] = .object(e)
        o["examples"] = .array(exs)
    }

    @Test func trainsWithCheckpointsAndTelemetry() throws {
        let dir = TempDir()
        let r = try Tools.run("rpo-train", ["--model", Self.model, "--gradient-accumulation", "2", "--out", dir.file("run"),
                                            "--checkpoint-every", "2", "--per-example", dir.file("pe.jsonl"), Self.batches("dpo")] + Self.dpoArgs)
        #expect(r.status == 0, "\(r.stderr)")
        let m = Self.lines(r)
        #expect(m.map { $0["step"]!.intValue! } == [1, 2, 3, 4, 5])
        let fx = try TrainFixture("dpo")
        let loss = m[4]["loss/train"]!.doubleValue!, want = fx.steps[4]["loss/train"]!.doubleValue!
        #expect(abs(loss - want) <= 1e-4 * want, "the CLI trains as the library: \(loss) vs PyTorch \(want)")
        for key in ["grad_norm", "lr", "tokens_per_s", "examples_per_s", "counters/examples", "counters/updates",
                    "rewards_train/accuracies", "rewards_train/accuracies_elementwise"] {
            #expect(m[0][key] != nil, "metrics have \(key)")
        }
        #expect(r.stderr.contains("rpo-train: 5 steps (5 in the run) from 10 batch records"))
        #expect(try RunDirectory(resuming: dir.file("run")).checkpoints().map(\.step) == [5], "only the newest is kept")
        for f in ["config.json", "model.safetensors", "rpo_state/state.json", "rpo_state/optimizer.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("run/latest/\(f)")), "checkpoint has \(f)")
        }
        let pe = try String(contentsOfFile: dir.file("pe.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(pe.count == 40, "one telemetry record per example and batch")
        let e = try JSONParser.parse(String(pe[0])).objectValue!
        for key in ["step", "batch", "group", "id", "policy_chosen_logp", "reference_rejected_logp", "loss", "dloss_dchosen", "margin"] {
            #expect(e[key] != nil, "telemetry has \(key)")
        }
    }

    @Test func resumedRunEndsBitIdentical() throws {
        let dir = TempDir()
        let args = ["--model", Self.model, "--gradient-accumulation", "1", Self.batches("dpo")] + Self.dpoArgs
        let full = try Tools.run("rpo-train", args + ["--max-steps", "6", "--out", dir.file("full")])
        let first = try Tools.run("rpo-train", args + ["--max-steps", "3", "--out", dir.file("split")])
        let second = try Tools.run("rpo-train", ["--resume", dir.file("split"), "--max-steps", "6", "--no-progress", Self.batches("dpo")])
        for r in [full, first, second] { #expect(r.status == 0, "\(r.stderr)") }
        #expect(second.stderr.contains("resuming") && second.stderr.contains("at step 3 (3 batch records consumed)"))
        let strip = { (ms: [JSONObject]) in ms.map { m -> JSONObject in var o = m; o["tokens_per_s"] = nil; o["examples_per_s"] = nil; return o } }
        #expect(strip(Self.lines(first) + Self.lines(second)) == strip(Self.lines(full)))
        for f in ["model.safetensors", "rpo_state/optimizer.safetensors"] {
            #expect(Self.bytes(dir.file("full/latest/\(f)")) == Self.bytes(dir.file("split/latest/\(f)")), "\(f) bit-identical")
        }
        // A resumed run keeps its configuration.
        let changed = try Tools.run("rpo-train", ["--resume", dir.file("split"), "--lr", "0.5", Self.batches("dpo")])
        #expect(changed.status == 1 && changed.stderr.contains("a resumed run keeps its configuration") && changed.stderr.contains("--lr 0.5 (the run has 0.001)"),
                "\(changed.stderr)")
    }

    @Test func sigtermWritesACheckpointAndExitsZero() throws {
        let dir = TempDir()
        // A long plan: the fixture's records 400 times over.
        let one = try String(contentsOfFile: Self.batches("dpo"), encoding: .utf8)
        let input = dir.file("long.jsonl")
        try String(repeating: one.hasSuffix("\n") ? one : one + "\n", count: 400).write(toFile: input, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tools.path("rpo-train"))
        p.arguments = ["--model", Self.model, "--out", dir.file("run"), "--checkpoint-every", "100000", input] + Self.dpoArgs
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        // Wait for the first metrics line (flushed per step), then ask the run to stop.
        var received = Data()
        while !received.contains(0x0A) {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            received.append(d)
        }
        p.terminate()  // SIGTERM
        received.append(out.fileHandleForReading.readDataToEndOfFile())
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let steps = String(decoding: received, as: UTF8.self).split(separator: "\n").count
        #expect(steps >= 1 && steps < 2000, "stopped early, after \(steps) steps")
        let run = try RunDirectory(resuming: dir.file("run"))
        #expect(try run.checkpoints().map(\.step) == [steps], "a checkpoint at the last completed step")
        let state = try SavedTrainingState.readState(checkpoint: try run.latestCheckpoint()!)
        #expect(state.progress.updates == steps && state.progress.recordsConsumed == steps)
    }

    @Test func scoredRecordsTrainWithoutTheReferenceModel() throws {
        let dir = TempDir()
        let scored = dir.file("scored.jsonl")
        let s = try Tools.run("rpo-train", ["score", "--model", Self.model, "-o", scored, "--no-progress", Self.batches("rpo-paired")])
        #expect(s.status == 0 && s.stderr.contains("scored 5 records (60 sequences"), "\(s.stderr)")
        #expect(!s.stderr.contains("deprecated"))
        // The old spelling writes the same bytes, with a deprecation note.
        let old = dir.file("scored-old.jsonl")
        let o = try Tools.run("rpo-train", ["--score", "--model", Self.model, "-o", old, "--no-progress", Self.batches("rpo-paired")])
        #expect(o.status == 0 && o.stderr.contains("rpo-train: warning: --score is deprecated: use `rpo-train score`"), "\(o.stderr)")
        #expect(FileManager.default.contents(atPath: old) == FileManager.default.contents(atPath: scored))
        let fx = try TrainFixture("rpo-paired")
        let args = ["--model", Self.model, "--loss", "rpo-paired", "--lr", "2e-3", "--warmup-steps", "3", "--max-grad-norm", "0.3", "--no-progress"]
        let plain = try Tools.run("rpo-train", args + [fx.batches])
        let pre = try Tools.run("rpo-train", args + [scored])
        #expect(plain.status == 0 && pre.status == 0, "\(pre.stderr)")
        #expect(pre.stderr.contains("precomputed reference log-probs in 5 records"))
        let strip = { (ms: [JSONObject]) in ms.map { m -> JSONObject in var o = m; o["tokens_per_s"] = nil; o["examples_per_s"] = nil; return o } }
        #expect(strip(Self.lines(plain)) == strip(Self.lines(pre)))
        // Against another reference the scored log-probs are refused, unless allowed.
        let other = dir.file("other")
        let m = try ModelFiles.load(Self.model)
        m.parameters.pointer[0] += 0.01
        try ModelFiles.save(m, to: other, companionsFrom: nil)
        let refused = try Tools.run("rpo-train", args + ["--reference", other, scored])
        #expect(refused.status == 1 && refused.stderr.contains("scored.jsonl:1: batch record: its reference log-probs come from sha256:"), "\(refused.stderr)")
        let allowed = try Tools.run("rpo-train", args + ["--reference", other, "--allow-reference-mismatch", scored])
        #expect(allowed.status == 0)
        // Example and item records get their own fields.
        let pair = try JSONSerializer.string(try Self.record("dpo")["examples"]!.arrayValue![0])
        let item = try JSONSerializer.string(try Self.record("rpo-unpaired")["examples"]!.arrayValue![0])
        let r = try Tools.run("rpo-train", ["score", "--model", Self.model, "--no-compress", "--prefix", "init"],
                              stdin: Array((pair + "\n" + item + "\n").utf8))
        let out = Self.lines(r)
        #expect(r.status == 0 && out.count == 2)
        #expect(out[0]["init_chosen_logp"]?.doubleValue != nil && out[0]["init_rejected_logp"]?.doubleValue != nil)
        #expect(out[1]["init_logp"]?.doubleValue != nil && out[1]["init_model"]?.stringValue?.hasPrefix("sha256:") == true)
    }

    static func record(_ run: String) throws -> JSONObject {
        try JSONParser.parse(String(try String(contentsOfFile: batches(run), encoding: .utf8).split(separator: "\n")[0])).objectValue!
    }

    @Test func badInputIsAClearErrorAndLeavesCheckpointsIntact() throws {
        let dir = TempDir()
        let base = ["--model", Self.model, "--no-progress"]
        // paired batches to kto
        let kto = try Tools.run("rpo-train", base + ["--loss", "kto", Self.batches("dpo")])
        #expect(kto.status == 1 && kto.stderr.hasPrefix("rpo-train: error: ")
                && kto.stderr.contains("batches.jsonl:1: batch record: layout \"paired\" does not fit --loss kto"), "\(kto.stderr)")
        // rpo-paired with embedding weighting but no matrices
        let noW = try Self.edited("rpo-paired", dir.file("noweights.jsonl"), record: 0) { $0["weights"] = nil }
        let r1 = try Tools.run("rpo-train", base + ["--loss", "rpo-paired", noW])
        #expect(r1.status == 1 && r1.stderr.contains("noweights.jsonl:1: batch record: embedding weighting without \"weights\""), "\(r1.stderr)")
        // a missing model
        let r2 = try Tools.run("rpo-train", ["--model", dir.file("nope"), "--loss", "dpo", Self.batches("dpo")])
        #expect(r2.status == 1 && r2.stderr.contains("nope: no such model file or directory"), "\(r2.stderr)")
        // A run with a checkpoint, then a resume whose next record has a token outside the vocabulary.
        let run = dir.file("run")
        let ok = try Tools.run("rpo-train", base + Self.dpoArgs + ["--gradient-accumulation", "2", "--max-steps", "2", "--out", run, Self.batches("dpo")])
        #expect(ok.status == 0, "\(ok.stderr)")
        let before = Self.snapshot(run)
        let bad = try Self.edited("dpo", dir.file("badtoken.jsonl"), record: 5) { o in
            Self.setExample(&o, 3, "chosen_input_ids", .array([.int(5), .int(6), .int(70_000)]))
            Self.setExample(&o, 3, "chosen_label_start", .int(1))
        }
        let r3 = try Tools.run("rpo-train", ["--resume", run, "--no-progress", bad])
        #expect(r3.status == 1 && r3.stderr.contains("badtoken.jsonl:6: batch record: examples[3] (tiny:train:23:0) chosen_input_ids[2]: token id 70000 is outside the model's vocabulary (0..<64)"),
                "\(r3.stderr)")
        #expect(Self.snapshot(run) == before, "the checkpoint is untouched")
        // --out over an existing run
        let r4 = try Tools.run("rpo-train", base + ["--loss", "dpo", "--out", run, Self.batches("dpo")])
        #expect(r4.status == 1 && r4.stderr.contains("already holds a run (step-000002)"), "\(r4.stderr)")
        #expect(Self.snapshot(run) == before)
        // usage errors
        let r5 = try Tools.run("rpo-train", ["--model", Self.model, Self.batches("dpo")])
        #expect(r5.status == 64 && r5.stderr.contains("--model and --loss are required"), "\(r5.stderr)")
        let r6 = try Tools.run("rpo-train", base + ["--loss", "dpo", "--micro-batch", "0", Self.batches("dpo")])
        #expect(r6.status == 64)
    }

    @Test func nanStopsTheRunAndKeepsTheLastGoodCheckpoint() throws {
        let dir = TempDir()
        // A model whose embedding row of a token first used in batch 2 is NaN (see TrainerStateTests).
        let lines = try String(contentsOfFile: Self.batches("rpo-paired"), encoding: .utf8).split(separator: "\n").map(String.init)
        func tokens(_ line: String) -> Set<Int> {
            var s = Set<Int>()
            for e in try! JSONParser.parse(line).objectValue!["examples"]!.arrayValue! {
                for k in ["chosen_input_ids", "rejected_input_ids"] { s.formUnion(e.objectValue![k]!.arrayValue!.map { $0.intValue! }) }
            }
            return s
        }
        let token = tokens(lines[2]).subtracting(tokens(lines[0]).union(tokens(lines[1]))).sorted().first!
        let m = try ModelFiles.load(Self.model)
        m.parameter("embed")!.pointer[token * m.config.hiddenSize + 1] = .nan
        try ModelFiles.save(m, to: dir.file("nanmodel"), companionsFrom: nil)
        let r = try Tools.run("rpo-train", ["--model", dir.file("nanmodel"), "--reference", Self.model, "--loss", "rpo-paired",
                                            "--lr", "1e-3", "--out", dir.file("run"), "--checkpoint-every", "1", "--no-progress",
                                            Self.batches("rpo-paired")])
        #expect(r.status == 1 && r.stderr.contains("batches.jsonl:3: batch 2: the policy log-prob of example tiny:train:")
                && r.stderr.contains("is nan; stopped without taking the step"), "\(r.stderr)")
        #expect(Self.lines(r).count == 2, "the metrics of the two good steps were written")
        #expect(try RunDirectory(resuming: dir.file("run")).checkpoints().map(\.step) == [2])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("run/latest")) == "step-000002")
    }

    @Test func helpShowsSchemasAndAPipeline() throws {
        let r = try Tools.run("rpo-train", ["--help"])
        #expect(r.status == 0)
        for s in ["\"groups\": [[positions]]", "rewards_train/accuracies", "GradCache", "rpo_state/", "SIGINT/SIGTERM",
                  "reference_chosen_logp", "rpo-pairs --layout paired", "not TRL's rpo_alpha nor NeMo"] {
            #expect(r.stdoutText.contains(s), "--help mentions \(s)")
        }
    }

    @Test func benchTrainRunsOnATinyShape() throws {
        let r = try Tools.run("rpo-bench", ["train", "--shape", "tiny", "--pairs", "2", "--seq", "16", "--steps", "1", "--precomputed",
                                           "--loss", "rpo-paired"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONParser.parse(r.stdoutText).objectValue!
        #expect(o["bench"]?.stringValue == "train" && o["reference"]?.stringValue == "precomputed")
        #expect((o["s_per_step"]?.doubleValue ?? -1) > 0 && o["parameters"]?.intValue == 19616)
    }
}
