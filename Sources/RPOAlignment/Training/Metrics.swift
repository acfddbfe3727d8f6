// The per-batch metrics of the official trainers (docs/method.md §7), under their official names, as per-example
// lists (upstream gathers the lists and averages everything accumulated since the last log).
import Foundation
import RPOCore

/// One logged metric: its official name and its per-example values.
public struct Metric: Equatable, Sendable {
    public let name: String
    public let values: [Double]
    public init(_ name: String, _ values: [Double]) { self.name = name; self.values = values }
}

extension LossOutput {
    /// The metrics upstream logs for this micro-batch, `mode` being "train" or "eval":
    /// - sft (trainers.py:559-566): `logps_{mode}/chosen`, `loss/{mode}`.
    /// - paired (693-709): `rewards_{mode}/chosen`, `/rejected`, `/accuracies` — upstream's FLIPPED accuracy
    ///   (β·Δc_i > β·Δr_{B−1−i}, chosen i against the reversed rejected vector) — then
    ///   `rewards_{mode}/accuracies_elementwise` (the standard β·Δc_i > β·Δr_i, not logged upstream), `/margins`
    ///   (same pair), `logps_{mode}/rejected`, `logps_{mode}/chosen`, `loss/{mode}`. SLiC's rewards are raw policy
    ///   log-probs, as upstream.
    /// - unpaired (618-624): the same keys without the elementwise duplicate; `accuracies` and `margins` compare
    ///   chosen item k with rejected item k (unrelated prompts) and are left out when Nc ≠ Nr.
    /// - kto (1043-1058): rewards chosen/rejected, `margins` (one value: mean chosen − mean rejected reward, an
    ///   empty side counting 0), `KL_estimate`, loss.
    /// A skipped step (RPO-unpaired without both statuses) logs nothing, as upstream's `continue`.
    public func metrics(mode: String = "train") -> [Metric] {
        if skipped { return [] }
        let r = "rewards_\(mode)/", l = "logps_\(mode)/", loss = "loss/\(mode)"
        switch kind.family {
        case .sft:
            return [Metric(l + "chosen", policyChosen), Metric(loss, losses)]
        case .paired:
            let n = chosenRewards.count
            let flipped = (0..<n).map { chosenRewards[$0] > rejectedRewards[n - 1 - $0] ? 1.0 : 0.0 }
            let elementwise = (0..<n).map { chosenRewards[$0] > rejectedRewards[$0] ? 1.0 : 0.0 }
            return [Metric(r + "chosen", chosenRewards), Metric(r + "rejected", rejectedRewards),
                    Metric(r + "accuracies", flipped), Metric(r + "accuracies_elementwise", elementwise),
                    Metric(r + "margins", (0..<n).map { chosenRewards[$0] - rejectedRewards[$0] }),
                    Metric(l + "rejected", policyRejected), Metric(l + "chosen", policyChosen), Metric(loss, losses)]
        case .unpaired:
            var m = [Metric(r + "chosen", chosenRewards), Metric(r + "rejected", rejectedRewards)]
            if chosenRewards.count == rejectedRewards.count {
                let n = chosenRewards.count
                m.append(Metric(r + "accuracies", (0..<n).map { chosenRewards[$0] > rejectedRewards[$0] ? 1.0 : 0.0 }))
                m.append(Metric(r + "margins", (0..<n).map { chosenRewards[$0] - rejectedRewards[$0] }))
            }
            m += [Metric(l + "rejected", policyRejected), Metric(l + "chosen", policyChosen), Metric(loss, losses)]
            return m
        case .kto:
            let mc = chosenRewards.isEmpty ? 0 : LossMath.mean(chosenRewards)
            let mr = rejectedRewards.isEmpty ? 0 : LossMath.mean(rejectedRewards)
            return [Metric(r + "chosen", chosenRewards), Metric(r + "rejected", rejectedRewards),
                    Metric(r + "margins", [mc - mr]), Metric(r + "KL_estimate", [klEstimate ?? 0]), Metric(loss, losses)]
        }
    }
}
