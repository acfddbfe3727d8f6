// The three architectures against PyTorch autograd (fixtures from scripts/make_lm_fixtures.py): logits,
// per-sequence log-probs and every parameter gradient of L = Σ_n c_n S_n, for a packed batch of different
// lengths and label starts. The reference runs the same fp32 weights in fp64, so the differences are rpo's
// fp32 rounding; they are measured relative to each tensor's largest magnitude (max-norm relative error),
// because elementwise relative error is meaningless for entries that are ~0.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// max |a - e| / max |e|.
func maxNormRelativeError(_ a: [Float], _ e: [Float]) -> Double {
    precondition(a.count == e.count)
    var d = 0.0, s = 0.0
    for i in 0..<a.count { d = max(d, abs(Double(a[i]) - Double(e[i]))); s = max(s, abs(Double(e[i]))) }
    return s == 0 ? d : d / s
}

@Suite struct CausalLMTests {
    @Test(arguments: TinyFixture.names)
    func logitsLogProbsAndGradientsMatchPyTorch(_ name: String) throws {
        let f = try TinyFixture(name)
        let m = try f.model()
        // Logits of each sequence on its own.
        for (n, s) in f.batch.enumerated() {
            let got = try m.logits(s.inputIds)
            let want = try f.ref.floats("logits.\(n)")
            // fp32 forward through 2 small blocks vs fp64: relative error ~1e-6; 1e-4 is the spec's bound.
            let err = maxNormRelativeError(got, want)
            #expect(err <= 1e-4, "\(name) logits.\(n): relative error \(err)")
        }
        // Per-sequence log-probs of the packed batch (inference path).
        let lp = try m.sequenceLogProbs(f.batch)
        for (a, e) in zip(lp, f.logprobs) {
            // Sums of <= 12 fp32 log-softmax terms of size ~4: 1e-4 relative (spec bound), 1e-6 floor for S = 0.
            #expect(abs(a - e) <= 1e-4 * abs(e) + 1e-6, "\(name) logprob \(a) vs \(e)")
        }
        #expect(lp.last == 0, "a sequence with label start == length scores nothing")
        // Gradients of L = Σ c_n S_n.
        m.zeroGrad()
        let tlp = try m.trainingLogProbs(f.batch)
        #expect(tlp == lp, "training and inference forwards agree exactly")
        try m.backward(dLogProbs: f.coefficients)
        let grads = m.checkpointTensors(gradients: true)
        #expect(Set(grads.map(\.name)) == Set(f.parameterNames), "\(name): the gradients cover every PyTorch parameter")
        for g in grads {
            let want = try f.ref.floats("grad.\(g.name)")
            // Backward in fp32 vs fp64 autograd: ~1e-6 observed; 1e-4 is the spec's bound.
            let err = maxNormRelativeError(g.values, want)
            #expect(err <= 1e-4, "\(name) grad \(g.name): relative error \(err)")
        }
    }

    /// Gradient checkpointing recomputes each block from its input: the same arithmetic in the same
    /// order, so the gradients are bit-identical. A second forward/backward accumulates (2x).
    @Test(arguments: ["neox", "llama-gqa-tied"])
    func checkpointingGivesIdenticalGradientsAndBackwardAccumulates(_ name: String) throws {
        let f = try TinyFixture(name)
        let m = try f.model()
        m.zeroGrad()
        _ = try m.trainingLogProbs(f.batch)
        try m.backward(dLogProbs: f.coefficients)
        let plain = m.gradients!.pointer.withMemoryRebound(to: Float.self, capacity: m.layout.count) {
            Array(UnsafeBufferPointer(start: $0, count: m.layout.count))
        }
        m.gradientCheckpointing = true
        m.zeroGrad()
        _ = try m.trainingLogProbs(f.batch)
        try m.backward(dLogProbs: f.coefficients)
        let ckpt = Array(UnsafeBufferPointer(start: m.gradients!.pointer, count: m.layout.count))
        #expect(plain == ckpt)
        _ = try m.trainingLogProbs(f.batch)
        try m.backward(dLogProbs: f.coefficients)
        let twice = Array(UnsafeBufferPointer(start: m.gradients!.pointer, count: m.layout.count))
        // sgemm accumulates into the existing gradient (beta = 1), so the second pass rounds differently
        // from a separate sum: equal to fp32 rounding.
        #expect(maxNormRelativeError(twice, plain.map { 2 * $0 }) <= 1e-6)
    }

    /// Packing: each sequence's log-prob does not depend on its batch mates.
    @Test func packedBatchEqualsSequencesAlone() throws {
        let f = try TinyFixture("qwen2-bias")
        let m = try f.model()
        let together = try m.sequenceLogProbs(f.batch)
        for (n, s) in f.batch.enumerated() {
            let alone = try m.sequenceLogProbs([s])
            // Same per-row arithmetic except the attention split over threads: equal to fp32 rounding.
            #expect(abs(alone[0] - together[n]) <= 1e-5 * max(1, abs(together[n])))
        }
    }
}
