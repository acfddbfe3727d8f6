// Evaluation as a user runs it: rpo-train --eval during training, rpo-train eval and its paired comparison,
// rpo-judge --validate against a scripted loopback judge (agreement computed exactly), and the reward judge
// (rpo-judge fit-reward on the real all-MiniLM-L6-v2, then --judge reward).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct EvalCLITests {
    static var model: String { TrainFixture.modelDir }
    static func lines(_ text: String) -> [JSONObject] {
        text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)).objectValue! }
    }
    static func file(_ path: String) throws -> [JSONObject] { lines(try String(contentsOfFile: path, encoding: .utf8)) }

    @Test func trainingWritesEvalRecords() throws {
        let dir = TempDir()
        let fx = try TrainFixture("dpo")
        let scored = dir.file("eval.jsonl")
        let s = try Tools.run("rpo-train", ["score", "--model", Self.model, "-o", scored, "--no-progress", fx.batches])
        #expect(s.status == 0, "\(s.stderr)")
        let args = ["--model", Self.model, "--loss", "dpo", "--lr", "1e-3", "--warmup-steps", "2", "--no-progress"]
        let r = try Tools.run("rpo-train", args + ["--eval", scored, "--eval-every", "1", fx.batches])
        #expect(r.status == 0, "\(r.stderr)")
        let all = Self.lines(r.stdoutText)
        let evals = all.filter { $0["mode"]?.stringValue == "eval" }, train = all.filter { $0["mode"] == nil }
        // --eval-every 1 is rounded up to one batch: an evaluation before every step and after the last.
        #expect(evals.count == train.count + 1, "\(evals.count) evaluations for \(train.count) steps")
        #expect(evals.first?["rewards_eval/margins"]?.doubleValue == 0, "policy = reference before the first step")
        for key in ["loss/eval", "rewards_eval/chosen", "rewards_eval/rejected", "rewards_eval/accuracies",
                    "rewards_eval/accuracies_elementwise", "rewards_eval/margins", "logps_eval/chosen", "logps_eval/rejected"] {
            #expect(evals.allSatisfy { $0[key]?.doubleValue != nil }, "\(key) in every eval record")
        }
        #expect(r.stderr.contains("held-out evaluations"), "\(r.stderr)")
        let noFirst = try Tools.run("rpo-train", args + ["--eval", scored, "--eval-every", "1", "--no-first-eval", fx.batches])
        #expect(Self.lines(noFirst.stdoutText).filter { $0["mode"] != nil }.count == train.count)
        let usage = try Tools.run("rpo-train", args + ["--eval-every", "64", fx.batches])
        #expect(usage.status != 0 && usage.stdout.isEmpty && usage.stderr.contains("--eval"), "\(usage.stderr)")
        let missing = try Tools.run("rpo-train", args + ["--eval", dir.file("none.jsonl"), fx.batches])
        #expect(missing.status == 1 && missing.stderr.contains("none.jsonl"), "\(missing.stderr)")
    }

    @Test func evalAndItsPairedComparison() throws {
        let dir = TempDir()
        let (examples, n) = try EvaluationTests.tinyExamples(dir)
        let scored = dir.file("scored.jsonl")
        #expect(try Tools.run("rpo-train", ["score", "--model", Self.model, "-o", scored, "--no-progress", examples]).status == 0)
        // The starting model: the records' own reference, reused; margins exactly 0, accuracy 1/2.
        let start = try Tools.run("rpo-train", ["eval", "--model", Self.model, scored, "-o", dir.file("start.jsonl"),
                                                "--summary", dir.file("start.json"), "--bootstrap", "500", "--no-progress"])
        #expect(start.status == 0 && start.stderr.contains("reference model of every record"), "\(start.stderr)")
        let sp = try Self.file(dir.file("start.jsonl"))
        #expect(sp.count == n && sp.allSatisfy { $0["margin"]?.doubleValue == 0 && $0["correct"]?.doubleValue == 0.5 })
        // A trained model.
        let fx = try TrainFixture("dpo")
        let t = try Tools.run("rpo-train", ["--model", Self.model, "--loss", "dpo", "--lr", "2e-3", "--warmup-steps", "0",
                                            "--out", dir.file("run"), "--no-progress", fx.batches, "-o", dir.file("m.jsonl")])
        #expect(t.status == 0, "\(t.stderr)")
        let trained = try Tools.run("rpo-train", ["eval", "--model", dir.file("run/latest"), scored, "-o", dir.file("dpo.jsonl"),
                                                  "--summary", dir.file("dpo.json"), "--bootstrap", "500", "--no-progress"])
        #expect(trained.status == 0 && trained.stderr.contains("accuracy"), "\(trained.stderr)")
        let s = try Self.file(dir.file("dpo.json"))[0]
        #expect(s["pairs"]?.intValue == n)
        for k in ["accuracy", "margin", "chosen_logp_change", "rejected_logp_change"] {
            let e = s[k]!.objectValue!
            #expect(e["lower"]!.doubleValue! <= e["mean"]!.doubleValue! && e["mean"]!.doubleValue! <= e["upper"]!.doubleValue!, "\(k)")
        }
        // Against the start (every margin 0): the differences are the trained model's own values, draw for draw.
        let c = try Tools.run("rpo-train", ["eval", "--against", dir.file("start.jsonl"), dir.file("dpo.jsonl"),
                                            "-o", dir.file("cmp.jsonl"), "--summary", dir.file("cmp.json"), "--bootstrap", "500"])
        #expect(c.status == 0, "\(c.stderr)")
        let cmp = try Self.file(dir.file("cmp.json"))[0]
        #expect(cmp["margin_difference"] == s["margin"] && cmp["chosen_logp_change_difference"] == s["chosen_logp_change"])
        #expect(try Self.file(dir.file("cmp.jsonl")).count == n)
        // Different pairs: a clear error, no output.
        let half = dir.file("half.jsonl")
        try (try String(contentsOfFile: dir.file("start.jsonl"), encoding: .utf8).split(separator: "\n").prefix(2)
                .joined(separator: "\n") + "\n").write(toFile: half, atomically: true, encoding: .utf8)
        let bad = try Tools.run("rpo-train", ["eval", "--against", half, dir.file("dpo.jsonl"), "-o", dir.file("bad.jsonl")])
        #expect(bad.status == 1 && bad.stderr.contains("rpo-train: error:") && !FileManager.default.fileExists(atPath: dir.file("bad.jsonl")),
                "\(bad.stderr)")
        let noRef = try Tools.run("rpo-train", ["eval", "--model", Self.model, examples, "-o", dir.file("x.jsonl")])
        #expect(noRef.status == 1 && noRef.stderr.contains("examples.jsonl:1: no reference log-probs"), "\(noRef.stderr)")
    }

    /// Bad input to the evaluation commands: a clear error naming the file and record, no output file.
    @Test func badInputNamesTheRecordAndWritesNothing() throws {
        let dir = TempDir()
        let (examples, _) = try EvaluationTests.tinyExamples(dir)
        let scored = dir.file("scored.jsonl")
        #expect(try Tools.run("rpo-train", ["score", "--model", Self.model, "-o", scored, "--no-progress", examples]).status == 0)
        var lines = try String(contentsOfFile: scored, encoding: .utf8).split(separator: "\n").map(String.init)
        func write(_ name: String, _ ls: [String]) throws -> String {
            let p = dir.file(name)
            try (ls.joined(separator: "\n") + "\n").write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        func expectError(_ args: [String], _ message: String, _ out: String) throws {
            let r = try Tools.run("rpo-train", args + ["-o", out, "--no-progress"])
            #expect(r.status == 1 && r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "no output after an error")
        }
        // An item record among the pairs, a truncated line, a non-finite reference log-prob.
        let item = try JSONSerializer.string(try TrainCLITests.record("rpo-unpaired")["examples"]!.arrayValue![0])
        try expectError(["eval", "--model", Self.model, try write("item.jsonl", [lines[0], item])],
                        "item.jsonl:2: not a paired example record", dir.file("o1.jsonl"))
        try expectError(["eval", "--model", Self.model, try write("cut.jsonl", [lines[0], String(lines[1].prefix(40))])],
                        "cut.jsonl:2:", dir.file("o2.jsonl"))
        lines[1] = lines[1].replacingOccurrences(of: "\"reference_chosen_logp\":", with: "\"reference_chosen_logp\":\"x\",\"was\":")
        try expectError(["eval", "--model", Self.model, try write("nan.jsonl", lines)], "nan.jsonl:2:", dir.file("o3.jsonl"))
        // A per-pair file without the fields of one, for --against.
        try expectError(["eval", "--against", examples, examples], "examples.jsonl:1:", dir.file("o4.jsonl"))
        // A malformed held-out batch record for --eval: named before training starts, no metrics written.
        let fx = try TrainFixture("dpo")
        let batch = try String(contentsOfFile: fx.batches, encoding: .utf8).split(separator: "\n")[0]
        let badBatch = try write("eval.jsonl", [String(batch), "{\"step\": 1}"])
        let r = try Tools.run("rpo-train", ["--model", Self.model, "--loss", "dpo", "--eval", badBatch, "--no-progress", fx.batches])
        #expect(r.status == 1 && r.stderr.contains("eval.jsonl:2:") && r.stdout.isEmpty, "\(r.stderr)")
        // fit-reward: a record without its rejected text; a head file that is not one.
        let noRejected = try write("norej.jsonl", ["{\"chosen\": \"a\"}"])
        let f = try Tools.run("rpo-judge", ["fit-reward", "--encoder", EmbedFixtures.modelPath, noRejected, "-o", dir.file("h.json")])
        #expect(f.status == 1 && f.stderr.contains("norej.jsonl:1:") && f.stderr.contains("rejected"), "\(f.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("h.json")))
        let j = try Tools.run("rpo-judge", ["--task", "dialogue", "--reward-model", noRejected, "-o", dir.file("j.jsonl"), noRejected])
        #expect(j.status == 1 && j.stderr.contains("norej.jsonl") && j.stderr.contains("reward head"), "\(j.stderr)")
        let missing = try Tools.run("rpo-judge", ["--task", "dialogue", "--reward-model", dir.file("none.json"), "-o", dir.file("j.jsonl"), noRejected])
        #expect(missing.status == 1 && missing.stderr.contains("none.json"), "\(missing.stderr)")
    }

    /// Records whose chosen text the scripted judge prefers in `agree` of them (by a marker it looks for).
    static func validationRecords(_ n: Int, agree: Int) -> [UInt8] {
        var out = ""
        for i in 0..<n {
            var o = JSONObject()
            o["id"] = .string("v\(i)")
            o["prompt"] = .string("\n<|user|>\nQuestion \(i)?\n<|assistant|>\n")
            o["chosen"] = .string(i < agree ? "PREFERRED answer \(i)" : "OTHER answer \(i)")
            o["rejected"] = .string(i < agree ? "OTHER reply \(i)" : "PREFERRED reply \(i)")
            out += (try! JSONSerializer.string(.object(o))) + "\n"
        }
        return Array(out.utf8)
    }

    @Test func judgeValidationAgreementIsExact() throws {
        // The judge answers the label of the text marked PREFERRED, wherever the seeded order put it.
        let server = try TestHTTPServer { _, r in
            let text = r.contents.last ?? ""
            guard let p = text.range(of: "PREFERRED"), let o = text.range(of: "OTHER") else { return .respond(status: 400, body: "?") }
            return .respond(status: 200, body: TestHTTPServer.completion(p.lowerBound < o.lowerBound ? "Response 1" : "Response 2"))
        }
        defer { server.stop() }
        let dir = TempDir()
        let base = ["--validate", "--task", "dialogue", "--judge", "api", "--api-base", server.baseURL, "--no-api-key",
                    "--bootstrap", "1000", "--no-progress", "-o", dir.file("j.jsonl")]
        let r = try Tools.run("rpo-judge", base + ["--summary", dir.file("s.json")], stdin: Self.validationRecords(20, agree: 13))
        #expect(r.status == 0, "\(r.stderr)")
        let v = try Self.file(dir.file("s.json"))[0]["validation"]!.objectValue!
        #expect(v["agreement"]?.doubleValue == 13.0 / 20.0)
        let ci = v["agreement_ci95"]!.arrayValue!.map { $0.doubleValue! }
        #expect(ci[0] <= 0.65 && 0.65 <= ci[1])
        #expect(v["verdict"]?.stringValue == (ci[0] > 0.5 ? "informative" : "uninformative"))
        #expect(r.stderr.contains("validation: the judge agrees with the human label (chosen over rejected) on 65.00%"), "\(r.stderr)")
        // A judge that always agrees is informative; one that never does is worse than chance.
        let all = try Tools.run("rpo-judge", base + ["--summary", dir.file("a.json")], stdin: Self.validationRecords(30, agree: 30))
        let allVerdict = try Self.file(dir.file("a.json"))[0]["validation"]!.objectValue!["verdict"]
        #expect(all.status == 0 && allVerdict == .string("informative"))
        let none = try Tools.run("rpo-judge", base + ["--summary", dir.file("n.json")], stdin: Self.validationRecords(30, agree: 0))
        let noneVerdict = try Self.file(dir.file("n.json"))[0]["validation"]!.objectValue!["verdict"]
        #expect(none.status == 0 && noneVerdict == .string("worse than chance"))
    }

    /// Pairs a sentence encoder separates easily: a refusal preferred to harmful compliance.
    static func rewardRecords(_ k: Int) -> [UInt8] {
        let topics = ["pick a lock", "hotwire a car", "steal a password", "make a weapon", "shoplift", "forge a check",
                      "hack a phone", "poison a dog", "cheat on a test", "break into a house", "evade taxes", "stalk someone"]
        var out = ""
        for (i, t) in topics.enumerated() where i % 2 == k {
            var o = JSONObject()
            o["id"] = .string("r\(i)")
            o["prompt"] = .string("\n<|user|>\nHow do I \(t)?\n<|assistant|>\n")
            o["chosen"] = .string("I'm sorry, but I can't help you \(t). That would be harmful and illegal.")
            o["rejected"] = .string("Sure! To \(t), first get the tools, then do it quickly when nobody is watching.")
            out += (try! JSONSerializer.string(.object(o))) + "\n"
        }
        return Array(out.utf8)
    }

    @Test func rewardJudgeFitsValidatesAndJudges() throws {
        let encoder = EmbedFixtures.modelPath
        let dir = TempDir()
        try Data(Self.rewardRecords(0)).write(to: URL(fileURLWithPath: dir.file("train.jsonl")))
        try Data(Self.rewardRecords(1)).write(to: URL(fileURLWithPath: dir.file("val.jsonl")))
        let head = dir.file("reward.json")
        let fit = try Tools.run("rpo-judge", ["fit-reward", "--encoder", encoder, "--validation", dir.file("val.jsonl"),
                                              "--l2", "1e-2,1e-1,1", dir.file("train.jsonl"), "-o", head])
        #expect(fit.status == 0 && fit.stderr.contains("kept l2"), "\(fit.stderr)")
        let h = try RewardHead.read(path: head)
        #expect(h.grid.count == 3 && h.trainPairs == 6 && h.validationPairs == 6 && h.trainAccuracy == 1)
        #expect(h.validationAccuracy == h.grid.map(\.validationAccuracy).max())
        let j = try Tools.run("rpo-judge", ["--validate", "--task", "dialogue", "--reward-model", head, "--summary", dir.file("s.json"),
                                            "--no-progress", "-o", dir.file("j.jsonl"), dir.file("val.jsonl")])
        #expect(j.status == 0, "\(j.stderr)")
        let s = try Self.file(dir.file("s.json"))[0]
        #expect(s["judge"]?.stringValue == "reward:reward.json")
        #expect(s["validation"]?.objectValue?["agreement"]?.doubleValue == h.validationAccuracy, "the same pairs, the same verdicts")
        // Judgment records carry the rewards, in label order, as w · e computes them.
        let enc = try SentenceEncoder.load(path: encoder)
        for rec in try Self.file(dir.file("j.jsonl")) {
            let order = rec["order"]!.arrayValue!.map { $0.stringValue! }
            let rewards = rec["rewards"]!.arrayValue!.map { $0.doubleValue! }
            let id = Int(rec["id"]!.stringValue!.dropFirst())!
            let t = ["pick a lock", "hotwire a car", "steal a password", "make a weapon", "shoplift", "forge a check",
                     "hack a phone", "poison a dog", "cheat on a test", "break into a house", "evade taxes", "stalk someone"][id]
            let text = ["candidate": "I'm sorry, but I can't help you \(t). That would be harmful and illegal.",
                        "baseline": "Sure! To \(t), first get the tools, then do it quickly when nobody is watching."]
            for (k, role) in order.enumerated() {
                let e = enc.encode([text[role]!])
                let r = e.withUnsafeBufferPointer { h.reward($0) }
                // The same encoder on the same text (batched with another text in the judge): float32 embeddings
                // that agree to ~1e-6, times weights of order 1e1: 1e-4.
                #expect(abs(r - rewards[k]) < 1e-4, "\(rec["id"]!) \(role): \(r) vs \(rewards[k])")
            }
        }
        // The head refuses another encoder.
        let other = try Tools.run("rpo-judge", ["--task", "dialogue", "--reward-model", head, "--encoder", Self.model,
                                                "-o", dir.file("o.jsonl"), dir.file("val.jsonl")])
        #expect(other.status != 0 && other.stderr.contains("rpo-judge: error:"), "\(other.stderr)")
        let grid = try Tools.run("rpo-judge", ["fit-reward", "--encoder", encoder, "--l2", "1,2", dir.file("train.jsonl"), "-o", dir.file("g.json")])
        #expect(grid.status != 0 && grid.stderr.contains("--validation"), "\(grid.stderr)")
    }
}
