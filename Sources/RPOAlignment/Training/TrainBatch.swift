// A batch record of rpo-pairs (docs/records.md, decoded by TrainingBatch) as the trainer runs it: every sequence
// the model scores, the contrast groups (micro-batches) with their matrices, and the precomputed reference
// log-probs if the record carries them, checked against the loss before any compute. Paired examples carry
// chosen_/rejected_ input_ids and label_start; items (sft, unpaired) input_ids, label_start and status. Reference
// log-probs written by `rpo-train score`: reference_chosen_logp / reference_rejected_logp (pairs), reference_logp
// (items; reference_<status>_logp of a scored pair that rpo-pairs split into items is accepted), reference_kl_logp
// (items of kto batches), with reference_model naming the weights that produced them.
import Foundation
import RPOCore

/// What a sequence of a batch is to the loss.
public enum SequenceRole: String, Sendable { case chosen, rejected, kl }

/// One sequence the model scores.
public struct TrainSequence: Sendable {
    public var tokens: ScoredSequence
    /// Position of its example in the batch record.
    public var example: Int
    public var role: SequenceRole
    /// The precomputed reference log-prob, when the record carries it.
    public var reference: Double?
    /// Scored tokens (positions >= max(label start, 1)).
    public var scoredTokens: Int { max(0, tokens.inputIds.count - max(tokens.labelStart, 1)) }
}

/// One contrast scope (a micro-batch of the record): its sequences by role and its matrix.
public struct TrainGroup: Sendable {
    /// Example positions of the group, in batch order.
    public var examples: [Int]
    /// Sequence indices: paired, the chosen and rejected sequence of each pair in group order; unpaired, the
    /// chosen items and the rejected items, each in batch order; sft, the targets (in `chosen`).
    public var chosen: [Int]
    public var rejected: [Int]
    /// kto: the KL sequence of each example of the group, in group order.
    public var kl: [Int]
    /// RPO's contrast matrix (rows chosen, columns rejected): the record's (embedding) or nil (uniform: ones).
    public var weights: ContrastMatrix?
    /// rpo-diagonal's α for this record.
    public var diagonalWeight: Double?
}

public struct TrainBatch: Sendable {
    public var source: String
    /// The record's line number in its source.
    public var record: Int?
    public var step: Int
    public var epoch: Int
    public var layout: BatchLayout
    public var weighting: ContrastWeighting
    public var batchSize: Int
    /// Example ids ("id" field, or "examples[k]").
    public var exampleIds: [String]
    /// Unpaired items' status ("chosen" / "rejected"), nil otherwise.
    public var statuses: [String]?
    public var sequences: [TrainSequence]
    public var groups: [TrainGroup]
    /// The `reference_model` the records' reference log-probs name (nil when they carry none).
    public var referenceModel: String?

    /// True when every sequence that needs a reference log-prob has one from the record.
    public var hasReference: Bool { !sequences.isEmpty && sequences.allSatisfy { $0.reference != nil } }
    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.tokens.inputIds.count } }
    /// "<source>:<record>" for messages.
    public var location: String { record.map { "\(source):\($0)" } ?? source }

    /// An upstream-style skip: an unpaired batch whose items all have one status (trainers.py:404-411).
    public var isSingleStatus: Bool {
        guard let s = statuses, let first = s.first else { return false }
        return s.allSatisfy { $0 == first }
    }
}

extension TrainBatch {
    /// Decodes and checks a batch record for `loss`: layout and weighting fit the loss, groups partition the
    /// examples, every token id is in the vocabulary, matrices have their groups' shapes, reference log-probs
    /// are present for every sequence or for none. Errors name the source, record, example and field.
    public init(record o: JSONObject, source: String, record n: Int?, loss: LossKind, parameters: LossParameters,
                vocabSize: Int, prefix: String = "reference") throws {
        func fail(_ m: String) -> RecordError { RecordError(source: source, record: n, "batch record: " + m) }
        // What the loss needs, checked on the raw fields first (clearer than the generic decoder's messages).
        let expected: BatchLayout = loss.family == .sft ? .sft : loss.family == .paired ? .paired : .unpaired
        if let l = o["layout"]?.stringValue, let layout = BatchLayout(rawValue: l), layout != expected {
            throw fail("layout \"\(l)\" does not fit --loss \(loss.rawValue), which trains on \(expected.rawValue) batches (rpo-pairs --layout \(expected.rawValue))")
        }
        let w = o["weighting"]?.stringValue
        if loss == .rpoPaired || loss == .rpoUnpaired, let w, w != "embedding" && w != "uniform" {
            throw fail("\(loss.rawValue) needs contrast weights, but the weighting is \"\(w)\" (rpo-pairs --weighting embedding or uniform)")
        }
        if w == "embedding" && (o["weights"] == nil || o["weights"] == .null) {
            throw fail("embedding weighting without \"weights\" (one contrast matrix per group)")
        }
        let tb = try TrainingBatch(record: o, source: source, record: n)
        self.source = source
        record = n
        step = tb.step
        epoch = tb.epoch
        layout = tb.layout
        weighting = tb.weighting
        batchSize = tb.batchSize
        let rawExamples = tb.examples
        if rawExamples.isEmpty { throw fail("no examples") }
        // Examples and their sequences.
        var ids: [String] = [], sts: [String] = [], seqs: [TrainSequence] = []
        var refModels = Set<String>()
        var chosenSeq = [Int](repeating: -1, count: rawExamples.count), rejectedSeq = chosenSeq
        for (k, e) in rawExamples.enumerated() {
            let id = e["id"]?.stringValue ?? "examples[\(k)]"
            ids.append(id)
            func ef(_ key: String) -> RecordField {
                RecordField(key: "examples[\(k)].\(key)", value: e[key], source: source, record: n)
            }
            func sequence(_ side: String?) throws -> ScoredSequence {
                let idsKey = side.map { "\($0)_input_ids" } ?? "input_ids"
                let lsKey = side.map { "\($0)_label_start" } ?? "label_start"
                let tokens = try ef(idsKey).intArray()
                let ls = try ef(lsKey).int()
                if tokens.isEmpty { throw fail("examples[\(k)] (\(id)) \(idsKey) is empty") }
                if ls < 0 || ls > tokens.count {
                    throw fail("examples[\(k)] (\(id)) \(lsKey) \(ls) is outside 0...\(tokens.count)")
                }
                if let bad = tokens.firstIndex(where: { $0 < 0 || $0 >= vocabSize }) {
                    throw fail("examples[\(k)] (\(id)) \(idsKey)[\(bad)]: token id \(tokens[bad]) is outside the model's vocabulary (0..<\(vocabSize))")
                }
                return ScoredSequence(inputIds: tokens, labelStart: ls)
            }
            func reference(_ keys: [String]) throws -> Double? {
                for key in keys where e[key] != nil && e[key] != .null {
                    let v = try ef(key).double()
                    if !v.isFinite { throw fail("examples[\(k)] (\(id)) \(key) is not finite") }
                    return v
                }
                return nil
            }
            if e["\(prefix)_model"] != nil { refModels.insert(try ef("\(prefix)_model").string()) }
            switch layout {
            case .paired:
                chosenSeq[k] = seqs.count
                seqs.append(TrainSequence(tokens: try sequence("chosen"), example: k, role: .chosen,
                                          reference: try reference(["\(prefix)_chosen_logp"])))
                rejectedSeq[k] = seqs.count
                seqs.append(TrainSequence(tokens: try sequence("rejected"), example: k, role: .rejected,
                                          reference: try reference(["\(prefix)_rejected_logp"])))
            case .sft, .unpaired:
                var status = "chosen"
                if layout == .unpaired {
                    status = try ef("status").string()
                    if status != "chosen" && status != "rejected" {
                        throw fail("examples[\(k)] (\(id)) status \"\(status)\" is neither \"chosen\" nor \"rejected\"")
                    }
                    sts.append(status)
                }
                let role: SequenceRole = status == "chosen" ? .chosen : .rejected
                if role == .chosen { chosenSeq[k] = seqs.count } else { rejectedSeq[k] = seqs.count }
                seqs.append(TrainSequence(tokens: try sequence(nil), example: k, role: role,
                                          reference: try reference(["\(prefix)_logp", "\(prefix)_\(status)_logp"])))
            }
        }
        exampleIds = ids
        statuses = layout == .unpaired ? sts : nil
        // kto: item k's prompt with item (k+1 mod M)'s completion (UnpairedPreferenceDataLoader's KL fields), built
        // from ids: prompt tokens of k + scored tokens of k+1, scored from k's label start.
        var klSeq = [Int](repeating: -1, count: rawExamples.count)
        if loss == .kto {
            let m = rawExamples.count
            for k in 0..<m {
                let a = seqs[max(chosenSeq[k], rejectedSeq[k])], b = seqs[max(chosenSeq[(k + 1) % m], rejectedSeq[(k + 1) % m])]
                let prompt = Array(a.tokens.inputIds[0..<a.tokens.labelStart])
                let completion = Array(b.tokens.inputIds[b.tokens.labelStart...])
                if prompt.isEmpty && completion.isEmpty { throw fail("examples[\(k)] (\(ids[k])): empty KL sequence") }
                let e = rawExamples[k]
                var ref: Double? = nil
                if let v = e["\(prefix)_kl_logp"], v != .null {
                    guard let d = v.doubleValue, d.isFinite else { throw fail("examples[\(k)] (\(ids[k])) \(prefix)_kl_logp is not a finite number") }
                    ref = d
                }
                klSeq[k] = seqs.count
                seqs.append(TrainSequence(tokens: ScoredSequence(inputIds: prompt + completion, labelStart: prompt.count),
                                          example: k, role: .kl, reference: ref))
            }
        }
        sequences = seqs
        // Reference log-probs: all or none (a partly scored record is a mistake upstream of us).
        if loss.usesReference {
            let have = seqs.filter { $0.reference != nil }.count
            if have > 0 && have < seqs.count {
                let missing = seqs.first { $0.reference == nil }!
                throw fail("examples[\(missing.example)] (\(ids[missing.example])) has no \(prefix) log-prob for its \(missing.role.rawValue) sequence while others of the batch have one (score the whole stream with rpo-train score\(loss == .kto ? " --loss kto" : ""))")
            }
            if have > 0 {
                if refModels.count > 1 { throw fail("the examples' reference log-probs come from different models (\(refModels.sorted().joined(separator: ", ")))") }
                referenceModel = refModels.first
            } else {
                referenceModel = nil
            }
        } else {
            referenceModel = nil
        }
        // Groups and matrices as TrainingBatch checked them; rpo-diagonal's α from a diagonal-weighted record.
        let gs = tb.groups
        let alpha = tb.weighting == .diagonal ? (tb.diagonalWeight ?? parameters.diagonalWeight) : parameters.diagonalWeight
        let mats: [ContrastMatrix]? = tb.weights
        groups = gs.enumerated().map { gi, g in
            var t = TrainGroup(examples: g, chosen: [], rejected: [], kl: [], weights: mats?[gi],
                               diagonalWeight: loss == .rpoDiagonal ? alpha : nil)
            for k in g {
                if chosenSeq[k] >= 0 { t.chosen.append(chosenSeq[k]) }
                if rejectedSeq[k] >= 0 { t.rejected.append(rejectedSeq[k]) }
                if klSeq[k] >= 0 { t.kl.append(klSeq[k]) }
            }
            return t
        }
    }
}
