// Per-example telemetry of rpo-train (--per-example): for every example of every batch record, its log-probs,
// rewards, loss and d(loss)/d(logp) within its group, and the RPO contrast weights its row sees, so that "chosen
// reward goes down" (eric-mitchell/direct-preference-optimization#32, huggingface/trl#800) and NaN hunts are
// answerable with jq. Non-finite values are written as null and listed in "nonfinite".
// Schema: docs/records.md (rpo-train).
import Foundation
import RPOCore

extension Trainer {
    static func number(_ x: Double) -> JSON { x.isFinite ? .double(x) : .null }

    /// One record per example of the batch (--per-example): log-probs, rewards, its loss and d(loss)/d(logp) within
    /// its group, and the contrast weights it sees. Non-finite values are written as null and listed in "nonfinite".
    func telemetry(_ b: TrainBatch, _ P: [Double], _ R: [Double], outputs: [(Int, LossOutput)], sinks: TrainerSinks) throws {
        guard let write = sinks.perExample else { return }
        let beta = configuration.parameters.beta, usesRef = configuration.loss.usesReference
        var byGroup: [Int: LossOutput] = [:]
        for (gi, o) in outputs { byGroup[gi] = o }
        for (gi, g) in b.groups.enumerated() {
            let out = byGroup[gi]
            for (pos, k) in g.examples.enumerated() {
                var o = JSONObject()
                var bad: [String] = []
                func put(_ key: String, _ x: Double?) {
                    guard let x else { return }
                    if !x.isFinite { bad.append(key) }
                    o[key] = Trainer.number(x)
                }
                o["step"] = .int(progress.updates + 1)
                o["batch"] = .int(b.step)
                o["group"] = .int(gi)
                o["id"] = .string(b.exampleIds[k])
                switch b.layout {
                case .paired:
                    let c = g.chosen[pos], r = g.rejected[pos]
                    put("policy_chosen_logp", P[c]); put("policy_rejected_logp", P[r])
                    if usesRef { put("reference_chosen_logp", R[c]); put("reference_rejected_logp", R[r]) }
                    if let out {
                        put("reward_chosen", out.chosenRewards[pos]); put("reward_rejected", out.rejectedRewards[pos])
                        put("margin", out.chosenRewards[pos] - out.rejectedRewards[pos])
                        put("loss", out.losses[pos])
                        put("dloss_dchosen", out.dPolicyChosen[pos]); put("dloss_drejected", out.dPolicyRejected[pos])
                    }
                    o["chosen_tokens"] = .int(b.sequences[c].scoredTokens)
                    o["rejected_tokens"] = .int(b.sequences[r].scoredTokens)
                    if configuration.loss == .rpoPaired { weightFields(&o, g.weights, row: pos, cols: g.rejected.count, beta: beta) }
                case .unpaired, .sft:
                    let isChosen = b.statuses.map { $0[k] == "chosen" } ?? true
                    let list = isChosen ? g.chosen : g.rejected
                    let q = b.layout == .sft ? g.chosen[pos] : list.firstIndex { b.sequences[$0].example == k }.map { list[$0] }!
                    let i = list.firstIndex(of: q)!
                    if b.layout == .unpaired { o["status"] = .string(isChosen ? "chosen" : "rejected") }
                    put("policy_logp", P[q])
                    if usesRef { put("reference_logp", R[q]) }
                    if let out {
                        if b.layout == .unpaired {
                            put("reward", isChosen ? out.chosenRewards.at(i) : out.rejectedRewards.at(i))
                        }
                        switch configuration.loss {
                        case .rpoUnpaired: if isChosen { put("loss", out.losses.at(i)) }
                        case .kto, .ktoSimple, .ktoZero: put("loss", out.losses.at(isChosen ? i : g.chosen.count + i))
                        default: put("loss", out.losses.at(i))
                        }
                        put("dloss_dlogp", isChosen ? out.dPolicyChosen[i] : out.dPolicyRejected[i])
                    }
                    if let kq = g.kl.isEmpty ? nil : g.kl[pos] {
                        put("policy_kl_logp", P[kq])
                        if usesRef { put("reference_kl_logp", R[kq]) }
                    }
                    o["tokens"] = .int(b.sequences[q].scoredTokens)
                    if configuration.loss == .rpoUnpaired && isChosen {
                        weightFields(&o, g.weights, row: i, cols: g.rejected.count, beta: beta)
                    }
                }
                if !bad.isEmpty { o["nonfinite"] = .array(bad.map { .string($0) }) }
                try write(o)
            }
        }
    }

    /// RPO row statistics of a chosen row: its own-pair weight W_ii (square matrices), the row's entropy, and
    /// the effective inverse temperature β·W_ii of its own pair.
    func weightFields(_ o: inout JSONObject, _ w: ContrastMatrix?, row: Int, cols: Int, beta: Double) {
        let r = w?.row(row) ?? [Double](repeating: 1, count: cols)  // uniform: ones
        let sum = r.reduce(0, +)
        var h = 0.0
        if sum > 0 { for x in r where x > 0 { let p = x / sum; h -= p * log(p) } }
        o["row_entropy"] = Trainer.number(h)
        if let w, w.rows == w.cols { o["weight_self"] = .double(w[row, row]); o["effective_beta"] = .double(beta * w[row, row]) }
        else if w == nil && row < cols { o["weight_self"] = .double(1); o["effective_beta"] = .double(beta) }
    }
}

fileprivate extension Array where Element == Double {
    /// The element at `i`, nil outside the array (per-example vectors of one-sided groups).
    func at(_ i: Int) -> Double? { indices.contains(i) ? self[i] : nil }
}
