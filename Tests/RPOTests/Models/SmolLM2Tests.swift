// SmolLM2-135M-Instruct from models/SmolLM2-135M-Instruct.Q4_1.gguf (dequantized to f32, q/k un-permuted)
// against transformers loading the same GGUF: per-sequence log-probs of 64 real HH-RLHF harmless-base
// prompt/response pairs formatted as docs/method.md §11-12 (token ids from transformers' tokenizer, made by
// scripts/make_lm_fixtures.py smollm), and a slice of logits. The model is loaded once for the suite.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SmolLM2Tests {
    static let ggufPath = TestPaths.models("SmolLM2-135M-Instruct.Q4_1.gguf")
    nonisolated(unsafe) static let model: Result<CausalLM, Error> = Result { try CausalLM.load(gguf: ggufPath) }

    struct Pair { let chosen, rejected: ScoredSequence; let chosenLP, rejectedLP: Double }

    static func fixture() throws -> (pairs: [Pair], firstLogits: [[Float]]) {
        let j = try loadJSONFixture("lm/smollm2/hh-logprobs.json")
        guard let ps = j.member("pairs")?.arrayValue, let fl = j.member("first_logits")?.arrayValue else {
            throw FixtureError(description: "hh-logprobs.json: missing pairs / first_logits")
        }
        let pairs = ps.map { p in
            Pair(chosen: ScoredSequence(inputIds: p.member("chosen_input_ids")!.doubleArray.map { Int($0) },
                                        labelStart: p.member("chosen_label_start")!.intValue!),
                 rejected: ScoredSequence(inputIds: p.member("rejected_input_ids")!.doubleArray.map { Int($0) },
                                          labelStart: p.member("rejected_label_start")!.intValue!),
                 chosenLP: p.member("chosen_logprob")!.doubleValue!, rejectedLP: p.member("rejected_logprob")!.doubleValue!)
        }
        return (pairs, fl.map { $0.doubleArray.map(Float.init) })
    }

    @Test func configFromGGUFMetadata() throws {
        let m = try SmolLM2Tests.model.get()
        let c = m.config
        #expect(c.architecture == .llama && c.numLayers == 30 && c.hiddenSize == 576 && c.numHeads == 9)
        #expect(c.numKVHeads == 3 && c.intermediateSize == 1536 && c.vocabSize == 49152 && c.tiedEmbeddings)
        #expect(c.position == .rotary(theta: 100000, rotaryDim: 64))
        #expect(m.parameterCount == 134_515_008)
    }

    @Test func hhLogProbsMatchTransformers() throws {
        let m = try SmolLM2Tests.model.get()
        let (pairs, firstLogits) = try SmolLM2Tests.fixture()
        #expect(pairs.count == 64)
        let seqs = pairs.flatMap { [$0.chosen, $0.rejected] }
        let want = pairs.flatMap { [$0.chosenLP, $0.rejectedLP] }
        var got: [Double] = []
        for start in stride(from: 0, to: seqs.count, by: 32) {
            got += try m.sequenceLogProbs(Array(seqs[start..<min(seqs.count, start + 32)]))
        }
        var maxDiff = 0.0
        for (a, e) in zip(got, want) { maxDiff = max(maxDiff, abs(a - e)) }
        // fp32 through 30 layers in a different summation order than PyTorch; sums over up to ~90 tokens.
        // Spec bound 1e-3 absolute (the measured maximum is printed).
        #expect(maxDiff <= 1e-3, "max |logprob diff| \(maxDiff)")
        print("SmolLM2 HH log-probs: \(seqs.count) sequences, max |diff| vs transformers = \(maxDiff)")
        let logits = try m.logits(pairs[0].chosen.inputIds)
        let V = m.config.vocabSize, L = pairs[0].chosen.inputIds.count
        for (k, row) in firstLogits.enumerated() {
            let t = L - firstLogits.count + k
            // logits of size ~10-30 after 30 fp32 layers: 1e-3 relative to the row's largest.
            let err = maxNormRelativeError(Array(m.logitsRow(logits, t, V).prefix(row.count)), row)
            #expect(err <= 1e-3, "logits row \(t): relative error \(err)")
        }
    }

    /// Saved as a HF directory: the config transformers was checked to load (make_lm_fixtures.py check-saved
    /// compares the logits of the directory rpo wrote with transformers' own GGUF load), and the directory
    /// reloads to the same parameters.
    @Test func savesAsHuggingFaceDirectory() throws {
        let m = try SmolLM2Tests.model.get()
        let tmp = TempDir()
        let out = ProcessInfo.processInfo.environment["RPO_WRITE_LM_FIXTURES"] == "1" ? "/tmp/rpo-lm-smollm2-saved" : tmp.file("smollm2")
        try m.save(to: out)
        let expectedPath = TestPaths.fixture("lm/saved/smollm2-config.json")
        if ProcessInfo.processInfo.environment["RPO_WRITE_LM_FIXTURES"] == "1" {
            try FileManager.default.removeItem(atPath: expectedPath)
            try FileManager.default.copyItem(atPath: out + "/config.json", toPath: expectedPath)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))
                == Data(contentsOf: URL(fileURLWithPath: expectedPath)))
        let back = try CausalLM.load(directory: out)
        #expect(memcmp(back.parameters.pointer, m.parameters.pointer, 4 * m.layout.count) == 0)
        let check = try loadJSONFixture("lm/saved/check.json")
        #expect(check.member("max_abs_logit_diff")?.member("smollm2-from-gguf")?.doubleValue.map { $0 < 1e-3 } == true,
                "check-saved compared transformers on rpo's SmolLM2 directory with transformers on the GGUF")
    }

    @Test func truncatedGGUFIsAClearError() throws {
        let tmp = TempDir()
        let path = tmp.file("cut.gguf")
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: SmolLM2Tests.ggufPath))
        let head = try h.read(upToCount: 4 << 20) ?? Data()
        try head.write(to: URL(fileURLWithPath: path))
        do { _ = try CausalLM.load(gguf: path); Issue.record("loaded a truncated GGUF") } catch {
            #expect("\(error)".contains("cut.gguf"), "\(error)")
        }
        let notGGUF = tmp.file("x.gguf")
        try Data("not a gguf file at all".utf8).write(to: URL(fileURLWithPath: notGGUF))
        #expect(throws: (any Error).self) { try CausalLM.load(gguf: notGGUF) }
    }
}

extension CausalLM {
    /// Row t of a (L x V) logits array.
    func logitsRow(_ logits: [Float], _ t: Int, _ V: Int) -> ArraySlice<Float> { logits[(t * V)..<((t + 1) * V)] }
}
