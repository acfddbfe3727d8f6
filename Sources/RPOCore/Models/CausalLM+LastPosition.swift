// The next-token distribution after a prompt, at a few tokens: what the local judge (Judging/LocalJudge.swift)
// reads its answer from, with one forward pass and the head applied to the last position only.
import Foundation

extension CausalLM {
    /// log-softmax of the logits after the last token of `inputIds`, at `tokens`: one forward pass, the head
    /// applied to the last position only (1 x V), the normaliser in Double.
    public func lastPositionLogProbs(_ inputIds: [Int], tokens: [Int]) throws(ModelError) -> [Double] {
        let V = config.vocabSize, C = config.hiddenSize
        if let bad = tokens.first(where: { $0 < 0 || $0 >= V }) {
            throw .invalidBatch("token \(bad) outside the vocabulary (\(V))")
        }
        var pb = try pack([ScoredSequence(inputIds: inputIds, labelStart: inputIds.count)])
        pb.rows = [pb.N - 1]
        pb.targets = [0]
        pb.rowSeq = [0]
        pending = nil
        runTrunk(pb, training: false)
        headNorm(pb)
        var logits = [Float](repeating: 0, count: V)
        logits.withUnsafeMutableBufferPointer { o in
            BLAS.sgemm(.none, .transposed, m: 1, n: V, k: C, a: ws.ptr(.ys), lda: C, b: parameters.pointer + headOffset,
                       ldb: C, beta: 0, c: o.baseAddress!, ldc: V)
        }
        let mx = Double(logits.max()!)
        var sum = 0.0
        for x in logits { sum += exp(Double(x) - mx) }
        let lse = mx + log(sum)
        return tokens.map { Double(logits[$0]) - lse }
    }
}
