// From a loaded dataset to the records of rpo-tokenize (docs/records.md): example records (one per preference
// pair; pairs of one prompt share `prompt_id`) or item records (one per completion, for unpaired losses),
// tokenised in parallel blocks and written in dataset order.
import Foundation
import RPOCore
import RPOAlignment

public struct RecordOptions: Sendable {
    /// The `dataset` field of every record (the reader's name: hh, tldr, ...).
    public var dataset: String
    public var split: String
    /// Item records (one per completion) instead of example records.
    public var unpaired = false
    /// Work units tokenised per parallel block (bounds the memory held besides the dataset).
    public var blockSize = 512

    public init(dataset: String, split: String) { self.dataset = dataset; self.split = split }
}

public struct TokenizeReport: Sendable {
    public var prompts = 0
    public var records = 0
    public var elements = 0
    public var promptsTruncated = 0
    public var completionsTruncated = 0
    /// official mode: (record id, side) of every element whose combined ids do not start with its prompt ids.
    public var drift: [(id: String, side: String)] = []
    public init() {}
}

public enum ExampleRecords {
    enum Unit: Sendable {
        case pair(example: Int, pair: Int)
        /// An example without pairs (AlpacaEval): its SFT generation only.
        case single(example: Int)
        case item(example: Int, generation: Int, status: Bool, tag: String)
    }

    static func units(_ data: PreferenceDataset, unpaired: Bool) -> [Unit] {
        var u: [Unit] = []
        for (e, ex) in data.examples.enumerated() {
            if !ex.desirable.isEmpty {
                for g in ex.generations.indices { u.append(.item(example: e, generation: g, status: ex.desirable[g], tag: "\(g)")) }
            } else if ex.pairs.isEmpty {
                if ex.resolvedSFTIndex != nil { u.append(.single(example: e)) }
            } else if unpaired {
                for (k, p) in ex.pairs.enumerated() {
                    u.append(.item(example: e, generation: p.chosen, status: true, tag: "\(k):chosen"))
                    u.append(.item(example: e, generation: p.rejected, status: false, tag: "\(k):rejected"))
                }
            } else {
                for k in ex.pairs.indices { u.append(.pair(example: e, pair: k)) }
            }
        }
        return u
    }

    struct Built: Sendable {
        var record: JSONObject
        var elements: [(side: String, element: TokenizedElement)]
    }

    /// Tokenises `data` and writes its records to `writer`; `progress` is called with the number written.
    public static func write(_ data: PreferenceDataset, tokenizer: ElementTokenizer, options: RecordOptions,
                             to writer: RecordWriter, progress: ((Int) -> Void)? = nil) throws -> TokenizeReport {
        var report = TokenizeReport()
        report.prompts = data.examples.count
        let all = units(data, unpaired: options.unpaired)
        var start = 0
        while start < all.count {
            let block = Array(all[start..<min(all.count, start + max(1, options.blockSize))])
            let built = try OrderedParallel.map(block.count) { i in
                try build(block[i], data, tokenizer, options)
            }
            for b in built {
                try writer.write(b.record)
                report.records += 1
                for (side, el) in b.elements {
                    report.elements += 1
                    if el.promptTruncated { report.promptsTruncated += 1 }
                    if el.completionTruncated { report.completionsTruncated += 1 }
                    if el.boundaryDrift, case .string(let id)? = b.record["id"] { report.drift.append((id, side)) }
                }
            }
            start += block.count
            progress?(report.records)
        }
        return report
    }

    static func build(_ unit: Unit, _ data: PreferenceDataset, _ tok: ElementTokenizer, _ o: RecordOptions) throws -> Built {
        let promptID: (Int) -> String = { "\(o.dataset):\(o.split):\($0)" }
        switch unit {
        case .pair(let e, let k):
            let ex = data.examples[e]
            let pair = ex.pairs[k]
            let c = try tok.tokenize(prompt: ex.prompt, completion: ex.generations[pair.chosen], truncation: ex.truncationMode)
            let r = try tok.tokenize(prompt: ex.prompt, completion: ex.generations[pair.rejected], truncation: ex.truncationMode)
            let sft = ex.resolvedSFTIndex
            var rec = JSONObject([
                ("id", .string("\(promptID(e)):\(k)")),
                ("prompt_id", .string(promptID(e))),
                ("dataset", .string(o.dataset)),
                ("split", .string(o.split)),
                // Upstream merges the chosen then the rejected tokenisation into one dict: prompt_text and
                // prompt_input_ids are the rejected element's (docs/method.md §8.2).
                ("prompt", .string(r.promptText)),
                ("chosen", .string(ex.generations[pair.chosen])),
                ("rejected", .string(ex.generations[pair.rejected])),
                ("prompt_ids", .ints(r.promptIds)),
                ("chosen_input_ids", .ints(c.inputIds)),
                ("chosen_label_start", .int(c.labelStart)),
                ("rejected_input_ids", .ints(r.inputIds)),
                ("rejected_label_start", .int(r.labelStart)),
            ])
            // The SFT stage trains on generations[sft_index] once per prompt: it is marked on the first pair
            // holding it, on whichever side (SHP's first response and OASST's last one can be a rejected one).
            let sftPair = sft.flatMap { s in ex.pairs.firstIndex { $0.chosen == s || $0.rejected == s } }
            rec["sft_target"] = .bool(sftPair == k)
            if sftPair == k, let s = sft, pair.chosen != s { rec["sft_completion"] = .string("rejected") }
            return Built(record: rec, elements: [("chosen", c), ("rejected", r)])
        case .single(let e):
            let ex = data.examples[e]
            let gen = ex.generations[ex.resolvedSFTIndex!]
            let c = try tok.tokenize(prompt: ex.prompt, completion: gen, truncation: ex.truncationMode)
            var rec = JSONObject([
                ("id", .string("\(promptID(e)):0")),
                ("prompt_id", .string(promptID(e))),
                ("dataset", .string(o.dataset)),
                ("split", .string(o.split)),
                ("prompt", .string(c.promptText)),
                ("chosen", .string(gen)),
                ("prompt_ids", .ints(c.promptIds)),
                ("chosen_input_ids", .ints(c.inputIds)),
                ("chosen_label_start", .int(c.labelStart)),
                ("sft_target", .bool(true)),
            ])
            if !ex.originalPrompt.isEmpty { rec["instruction"] = .string(ex.originalPrompt) }
            if ex.datasetName != o.dataset && !ex.datasetName.isEmpty { rec["subset"] = .string(ex.datasetName) }
            return Built(record: rec, elements: [("chosen", c)])
        case .item(let e, let g, let status, let tag):
            let ex = data.examples[e]
            let el = try tok.tokenize(prompt: ex.prompt, completion: ex.generations[g], truncation: ex.truncationMode)
            let rec = JSONObject([
                ("id", .string("\(promptID(e)):\(tag)")),
                ("prompt_id", .string(promptID(e))),
                ("dataset", .string(o.dataset)),
                ("split", .string(o.split)),
                ("prompt", .string(el.promptText)),
                ("completion", .string(ex.generations[g])),
                ("status", .string(status ? "chosen" : "rejected")),
                ("prompt_ids", .ints(el.promptIds)),
                ("input_ids", .ints(el.inputIds)),
                ("label_start", .int(el.labelStart)),
            ])
            return Built(record: rec, elements: [(status ? "chosen" : "rejected", el)])
        }
    }
}
