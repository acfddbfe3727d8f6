// Dataset readers: each reproduces one `get_<name>` of the official loader (docs/method.md §11; upstream
// dataloader.py @ c1b5163) on records in the dataset's published format, read from a file or stdin instead
// of the Hugging Face hub. Two project formats are added: generic `{prompt, chosen, rejected}` pairs and
// unpaired `{prompt, completion, label}` items.
import Foundation
import RPOCore

public enum DatasetKind: String, Sendable, CaseIterable {
    case hh, tldr, shp, oasst, ultrabin, alpacaeval, generic, unpaired

    /// The truncation mode the official loader sets (`keep_end` is its default).
    public var defaultTruncation: TruncationMode {
        switch self {
        case .tldr, .shp, .ultrabin: return .keepStart
        default: return .keepEnd
        }
    }

    /// The split assumed when none is given (AlpacaEval exists only for evaluation).
    public var defaultSplit: String { self == .alpacaeval ? "test" : "train" }
}

/// What to do with HH rows whose rejected transcript does not start with the prompt cut from the chosen
/// transcript (docs/method.md §11.2, §17.15).
public enum HHPrefixPolicy: String, Sendable, CaseIterable {
    /// Cut the rejected transcript at the chosen prompt's length anyway, as upstream does (parity).
    case reproduce
    /// Leave the row out.
    case skip
    /// Stop with an error naming the row.
    case error
}

public struct DatasetOptions: Sendable {
    public var split: String
    public var markers = ChatMarkers()
    /// Overrides the dataset's truncation mode.
    public var truncation: TruncationMode? = nil
    public var hhPrefix: HHPrefixPolicy = .reproduce
    /// Seed of SHP's train-split pair sampling (at most 5 pairs per prompt).
    public var seed: UInt64 = 1
    /// generic/unpaired: use a string prompt as it is, without chat markers.
    public var verbatimPrompt = false
    /// Skip `remove_extra_spaces` (a deviation from upstream, for data that is already clean).
    public var keepSpaces = false

    public init(split: String) { self.split = split }
}

/// What a reader saw besides the examples it returns.
public struct DatasetLoadReport: Sendable {
    public var records = 0
    /// Record numbers of HH rows violating the prefix assumption (whatever the policy did with them).
    public var hhPrefixMismatches: [Int] = []
    /// Rows left out, by reason (SHP's score-ratio filter, OASST rows without a ranked sibling, ...).
    public var skipped: [String: Int] = [:]
    public init() {}
}

public enum DatasetReader {
    /// Reads a whole dataset of kind `kind` from `source`.
    public static func read(_ kind: DatasetKind, from source: DataRecordSource,
                            options: DatasetOptions) throws -> (PreferenceDataset, DatasetLoadReport) {
        var report = DatasetLoadReport()
        var data: PreferenceDataset
        switch kind {
        case .hh: data = try readHH(source, options, &report)
        case .tldr: data = try readTLDR(source, options, &report)
        case .shp: data = try readSHP(source, options, &report)
        case .oasst: data = try readOASST(source, options, &report)
        case .ultrabin: data = try readUltrabin(source, options, &report)
        case .alpacaeval: data = try readAlpacaEval(source, options, &report)
        case .generic: data = try readGeneric(source, options, &report)
        case .unpaired: data = try readUnpaired(source, options, &report)
        }
        if let t = options.truncation { data.mapExamples { $0.truncationMode = t } }
        return (data, report)
    }

    static func clean(_ e: inout PreferenceExample, _ o: DatasetOptions) {
        if !o.keepSpaces { e.removeExtraSpaces() }
    }

    /// Appends a pair (i, i+1) of two new generations, as every paired loader does.
    static func addPair(_ e: inout PreferenceExample, _ preferred: String, _ other: String) {
        let i = e.generations.count
        e.generations += [preferred, other]
        e.pairs.append(PreferencePair(i, i + 1))
    }

    // MARK: - hh (get_hh)

    static func readHH(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "hh")
        let m = o.markers
        while let row = try src.next() {
            report.records += 1
            let chosen = try src.field(row, "chosen").string()
            let rejected = try src.field(row, "rejected").string()
            guard let split = HHFormat.split(chosen: chosen, rejected: rejected) else {
                throw src.error("the chosen transcript has no \"\\n\\nAssistant: \" to split the prompt at")
            }
            if !split.rejectedSharesPrompt {
                report.hhPrefixMismatches.append(src.recordNumber)
                switch o.hhPrefix {
                case .reproduce: break
                case .skip: report.skipped["hh rejected transcript not starting with the chosen prompt", default: 0] += 1; continue
                case .error: throw src.error("the rejected transcript does not start with the prompt of the chosen transcript (--hh-mismatch reproduce|skip to accept)")
                }
            }
            let prompt = HHFormat.reformat(split.prompt, markers: m)
            data.update(prompt) { e in
                e.prompt = prompt
                addPair(&e, split.chosen + m.assistantSuffix, split.rejected + m.assistantSuffix)
                e.sftIndex = 0
                e.datasetName = "hh"
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        return data
    }

    // MARK: - tldr (OpenAI summarize_from_feedback "comparisons")

    static func readTLDR(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "tldr")
        while let row = try src.next() {
            report.records += 1
            let info = try src.field(row, "info").object()
            let postField = info.field("post", source: src.name, record: src.recordNumber)
            let post = postField.exists ? try postField.string() : ""
            let summaries = try src.field(row, "summaries").array()
            let choice = try src.field(row, "choice").int()
            guard summaries.count >= 2 else { throw src.error("field \"summaries\" must hold two summaries, found \(summaries.count)") }
            guard choice == 0 || choice == 1 else { throw src.error("field \"choice\" must be 0 or 1, found \(choice)") }
            func text(_ k: Int) throws -> String {
                guard case .object(let s) = summaries[k] else { throw src.error("field \"summaries\"[\(k)] must be an object") }
                return try s.field("text", source: src.name, record: src.recordNumber).string()
            }
            let preferred = try text(choice), other = try text(1 - choice)
            let prompt = o.markers.singleTurn(post)
            data.update(prompt) { e in
                e.prompt = prompt
                addPair(&e, preferred + o.markers.assistantSuffix, other + o.markers.assistantSuffix)
                e.sftIndex = 0
                e.truncationMode = .keepStart
                e.datasetName = "tldr"
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        return data
    }

    // MARK: - shp (stanfordnlp/SHP)

    static let shpMaxPairsPerPrompt = 5
    static let shpMinScoreRatio = 2.0

    static func readSHP(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "shp")
        let m = o.markers
        let train = o.split == "train"
        while let row = try src.next() {
            report.records += 1
            let history = try src.field(row, "history").string()
            let a = try src.field(row, "human_ref_A").string(), b = try src.field(row, "human_ref_B").string()
            let sa = try src.field(row, "score_A").double(), sb = try src.field(row, "score_B").double()
            let label = try src.field(row, "labels").int()
            guard label == 0 || label == 1 else { throw src.error("field \"labels\" must be 0 or 1, found \(label)") }
            guard sa > 0 && sb > 0 else { throw src.error("scores must be positive to form a score ratio (score_A \(sa), score_B \(sb))") }
            let ratio = max(sa / sb, sb / sa)
            if ratio < shpMinScoreRatio && train {
                report.skipped["shp score ratio below 2 (train split)", default: 0] += 1
                continue
            }
            let prompt = m.singleTurn(history)
            data.update(prompt) { e in
                let i = e.generations.count, j = i + 1
                e.prompt = prompt
                e.generations += [a + m.assistantSuffix, b + m.assistantSuffix]
                e.pairs.append(label == 1 ? PreferencePair(i, j) : PreferencePair(j, i))
                e.scores += [sa, sb]
                e.truncationMode = .keepStart
                e.sftIndex = 0
                e.datasetName = "shp"
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        // Upstream: random.sample(pairs, min(5, len(pairs))) for every train prompt (a random subset in
        // random order). Our RNG is not Python's, so the subset differs; the rule is the same.
        if train {
            var rng = RNG(seed: o.seed)
            data.mapExamples { e in
                let k = min(shpMaxPairsPerPrompt, e.pairs.count)
                for i in 0..<k {
                    let j = i + rng.below(e.pairs.count - i)
                    if i != j { e.pairs.swapAt(i, j) }
                }
                if e.pairs.count > k { report.skipped["shp pairs beyond 5 per prompt (train split)", default: 0] += e.pairs.count - k }
                e.pairs.removeLast(e.pairs.count - k)
            }
        }
        return data
    }

    // MARK: - ultrabin (HuggingFaceH4/ultrafeedback_binarized)

    /// The content of the last message of a conversation field (`row[key][-1]['content']`).
    static func lastContent(_ src: DataRecordSource, _ row: JSONObject, _ key: String) throws -> String {
        let messages = try src.field(row, key).array()
        guard case .object(let last)? = messages.last else {
            throw src.error("field \"\(key)\" must be a non-empty array of messages")
        }
        return try last.field("content", source: src.name, record: src.recordNumber).string()
    }

    static func readUltrabin(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "ultrabin")
        let m = o.markers
        while let row = try src.next() {
            report.records += 1
            let prompt = m.singleTurn(try src.field(row, "prompt").string())
            let chosen = try lastContent(src, row, "chosen"), rejected = try lastContent(src, row, "rejected")
            data.update(prompt) { e in
                e.prompt = prompt
                addPair(&e, chosen + m.assistantSuffix, rejected + m.assistantSuffix)
                e.sftIndex = 0
                e.datasetName = "ultrabin"
                e.truncationMode = .keepStart
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        return data
    }

    // MARK: - alpacaeval (tatsu-lab/alpaca_eval, evaluation instructions)

    static func readAlpacaEval(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "alpacaeval")
        let m = o.markers
        while let row = try src.next() {
            report.records += 1
            let instruction = try src.field(row, "instruction").string()
            let output = try src.field(row, "output").string()
            let subsetField = src.field(row, "dataset")
            let subset = subsetField.exists ? try subsetField.string() : "alpacaeval"
            let prompt = m.singleTurn(instruction)
            // Upstream neither collapses spaces here nor sets an SFT index (-1: the last output).
            data.update(prompt) { e in
                e.prompt = prompt
                e.generations.append(output + m.assistantSuffix)
                e.datasetName = subset
                e.originalPrompt = instruction
                e.sourceRecords.append(src.recordNumber)
            }
        }
        return data
    }

    // MARK: - oasst (OpenAssistant/oasst1)

    struct OASSTMessage {
        var id: String
        var parent: String?
        var text: String
        var role: String
        var rank: Int?
        var record: Int
    }

    /// Messages from flat oasst1 rows (`message_id, parent_id, text, role, lang, rank`) or from message
    /// trees (`{message_tree_id, prompt: {..., replies: [...]}}`, flattened depth-first), English only.
    static func readOASSTMessages(_ src: DataRecordSource, _ report: inout DatasetLoadReport) throws -> [OASSTMessage] {
        var out: [OASSTMessage] = []
        func message(_ node: JSONObject, parent: String?) throws -> OASSTMessage? {
            let f = { (k: String) in node.field(k, source: src.name, record: src.recordNumber) }
            let lang = try f("lang").string()
            let id = try f("message_id").string()
            let parentField = f("parent_id")
            let parentID = parentField.exists ? try parentField.string() : parent
            let rankField = f("rank")
            let rank = rankField.exists ? try rankField.int() : nil
            let m = OASSTMessage(id: id, parent: parentID, text: try f("text").string(), role: try f("role").string(),
                                 rank: rank, record: src.recordNumber)
            return lang == "en" ? m : nil
        }
        func walk(_ node: JSONObject, parent: String?) throws {
            if let m = try message(node, parent: parent) { out.append(m) }
            let id = try node.field("message_id", source: src.name, record: src.recordNumber).string()
            let replies = node.field("replies", source: src.name, record: src.recordNumber)
            guard replies.exists else { return }
            for (k, r) in try replies.array().enumerated() {
                guard case .object(let child) = r else { throw src.error("replies[\(k)] of message \(id) must be an object") }
                try walk(child, parent: id)
            }
        }
        while let row = try src.next() {
            report.records += 1
            if row["message_tree_id"] != nil && row["prompt"] != nil {
                try walk(try src.field(row, "prompt").object(), parent: nil)
            } else {
                if let m = try message(row, parent: nil) { out.append(m) }
            }
        }
        return out
    }

    static func readOASST(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        let messages = try readOASSTMessages(src, &report)
        var byID: [String: Int] = [:]
        var children: [String: [Int]] = [:]
        for (i, m) in messages.enumerated() {
            byID[m.id] = i
            if let p = m.parent { children[p, default: []].append(i) }
        }
        var data = PreferenceDataset(name: "oasst")
        let mk = o.markers
        for m in messages {
            guard let rank = m.rank, rank != 0 else { continue }
            // Upstream looks the siblings up in a pandas frame indexed by parent_id; a lone row comes back as
            // a Series and the lookup fails (skipped), as does a missing next-best sibling or ancestor.
            guard let parent = m.parent, let sibs = children[parent], sibs.count >= 2,
                  let best = sibs.first(where: { messages[$0].rank == rank - 1 }) else {
                report.skipped["oasst rows without a next-best English sibling", default: 0] += 1
                continue
            }
            var path: [OASSTMessage] = []   // parent of `best` up to the root
            var cur = messages[best].parent
            var broken = false
            while let c = cur {
                guard let k = byID[c] else { broken = true; break }
                path.append(messages[k]); cur = messages[k].parent
            }
            if broken {
                report.skipped["oasst rows with a non-English or missing ancestor", default: 0] += 1
                continue
            }
            var prompt = ""
            for node in path.reversed() {
                prompt += node.role == "assistant" ? mk.assistantPrefix + node.text + mk.assistantSuffix
                                                   : mk.humanPrefix + node.text + mk.humanSuffix
            }
            prompt += mk.assistantPrefix
            let preferred = messages[best]
            data.update(prompt) { e in
                e.prompt = prompt
                addPair(&e, preferred.text + mk.assistantSuffix, m.text + mk.assistantSuffix)
                e.scores += [Double(rank - 1), Double(rank)]
                e.datasetName = "oasst"
                e.sourceRecords.append(m.record)
                clean(&e, o)
            }
        }
        return data
    }

    // MARK: - generic {prompt, chosen, rejected} and unpaired {prompt, completion, label}

    /// A prompt given as a string (wrapped in the chat markers unless `verbatimPrompt`) or as a list of
    /// `{role, content}` messages (each turn marked by role, then the assistant marker).
    static func genericPrompt(_ src: DataRecordSource, _ row: JSONObject, _ o: DatasetOptions) throws -> String {
        let f = src.field(row, "prompt")
        guard case .array(let msgs)? = f.value else {
            let s = try f.string()
            return o.verbatimPrompt ? s : o.markers.singleTurn(s)
        }
        let m = o.markers
        var prompt = ""
        for (k, v) in msgs.enumerated() {
            guard case .object(let msg) = v else { throw src.error("field \"prompt\"[\(k)] must be a message object") }
            let role = try msg.field("role", source: src.name, record: src.recordNumber).string()
            let content = try msg.field("content", source: src.name, record: src.recordNumber).string()
            prompt += role == "assistant" ? m.assistantPrefix + content + m.assistantSuffix
                                          : m.humanPrefix + content + m.humanSuffix
        }
        return prompt + m.assistantPrefix
    }

    /// A completion given as a string or as a list of messages (the last one's content).
    static func genericCompletion(_ src: DataRecordSource, _ row: JSONObject, _ key: String) throws -> String {
        let f = src.field(row, key)
        if case .array = f.value { return try lastContent(src, row, key) }
        return try f.string()
    }

    static func readGeneric(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "generic")
        let suffix = o.markers.assistantSuffix
        while let row = try src.next() {
            report.records += 1
            let prompt = try genericPrompt(src, row, o)
            let chosen = try genericCompletion(src, row, "chosen"), rejected = try genericCompletion(src, row, "rejected")
            data.update(prompt) { e in
                e.prompt = prompt
                addPair(&e, chosen + suffix, rejected + suffix)
                if e.sftIndex < 0 { e.sftIndex = 0 }
                e.datasetName = "generic"
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        return data
    }

    static func readUnpaired(_ src: DataRecordSource, _ o: DatasetOptions, _ report: inout DatasetLoadReport) throws -> PreferenceDataset {
        var data = PreferenceDataset(name: "unpaired")
        let suffix = o.markers.assistantSuffix
        while let row = try src.next() {
            report.records += 1
            let prompt = try genericPrompt(src, row, o)
            let completion = try genericCompletion(src, row, "completion")
            let lf = src.field(row, "label")
            let label: Bool
            switch lf.value {
            case .bool(let b)?: label = b
            case .int(0)?: label = false
            case .int(1)?: label = true
            case nil: throw src.error("missing field \"label\"")
            default: throw src.error("field \"label\" must be true/false (or 1/0)")
            }
            data.update(prompt) { e in
                e.prompt = prompt
                e.generations.append(completion + suffix)
                e.desirable.append(label)
                e.datasetName = "unpaired"
                e.sourceRecords.append(src.recordNumber)
                clean(&e, o)
            }
        }
        return data
    }
}
