// The elements of one epoch, held compactly for rpo-pairs: each element's record serialized once into one byte
// arena (what the batch record will carry), its status (unpaired), and its prompt embedding as float32 in one
// table. Loading validates every record and names the record of any error. Records are parsed and checked in
// parallel chunks (JSON parsing is the cost of a run) and merged in input order, so errors and output do not
// depend on the thread count.
import Foundation
import RPOCore
import RPOAlignment

struct ElementStore {
    /// Element k's JSON bytes are arena[starts[k]..<starts[k+1]].
    private(set) var arena: [UInt8] = []
    private(set) var starts: [Int] = [0]
    /// Per element: its status is "chosen" (always true in the paired layout, where it is unused).
    private(set) var isChosen: [Bool] = []
    /// Per element: its row in `table` (−1 without embeddings). Both items of a pair share their pair's row.
    private(set) var rows: [Int] = []
    private(set) var table: [Float] = []
    private(set) var dim = 0
    private(set) var records = 0

    var count: Int { isChosen.count }

    func embedding(of k: Int) -> ArraySlice<Float> {
        let r = rows[k]
        return table[(r * dim)..<((r + 1) * dim)]
    }

    func appendBytes(of k: Int, to out: inout [UInt8]) {
        out.append(contentsOf: arena[starts[k]..<starts[k + 1]])
    }

    /// Every element's embedding, row k for element k (pairs of the paired layout have one row each).
    func elementEmbeddings() -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count * dim)
        for k in 0..<count { out.append(contentsOf: embedding(of: k)) }
        return out
    }

    mutating func release() { arena = []; table = [] }

    // MARK: - One record

    /// What one input record contributes, worked out independently of the others (in parallel).
    struct Parsed {
        var record = 0
        /// Serialized elements: the pair, its two items, the SFT target item, or nothing (an SFT non-target).
        var elements: [(bytes: [UInt8], chosen: Bool)] = []
        var embedding: [Float] = []
        /// sft: the serialized prompt_id and whether this record is the prompt's SFT target.
        var promptKey = ""
        var isTarget = false
        var error: Error?
    }

    /// Parses and checks one line (record number `n` of `source`).
    static func parse(_ line: UnsafeBufferPointer<UInt8>, record n: Int, source: String, options: PairsOptions) -> Parsed {
        var p = Parsed(record: n)
        func fail(_ m: String) -> RecordError { RecordError(source: source, record: n, m) }
        do {
            let value: JSON
            do throws(JSONParseError) { value = try JSONParser.parse(line) } catch { throw fail(error.description) }
            guard case .object(var rec) = value else { throw fail("expected a JSON object, found \(value.typeName)") }
            guard let pid = rec["prompt_id"], !pid.isNull else { throw fail("missing field \"prompt_id\"") }
            switch pid {
            case .string, .int, .double, .float: break
            default: throw fail("field \"prompt_id\" must be a string or a number, found \(pid.typeName)")
            }
            if options.needsEmbeddings {
                p.embedding = try readEmbedding(rec, field: options.embeddingField, fail)
            }
            rec[options.embeddingField] = nil
            if let status = rec["status"] {
                // An item record (rpo-tokenize --unpaired).
                guard options.layout == .unpaired else {
                    throw fail("an item record (it has \"status\"): the \(options.layout.rawValue) layout needs pair records with chosen_* and rejected_* fields")
                }
                guard let s = status.stringValue, s == "chosen" || s == "rejected" else {
                    throw fail("field \"status\" must be \"chosen\" or \"rejected\"")
                }
                try checkTokens(rec, "input_ids", "label_start", source, n)
                p.elements = [(try serialize(rec, fail), s == "chosen")]
                return p
            }
            switch options.layout {
            case .paired:
                try checkTokens(rec, "chosen_input_ids", "chosen_label_start", source, n)
                try checkTokens(rec, "rejected_input_ids", "rejected_label_start", source, n)
                p.elements = [(try serialize(rec, fail), true)]
            case .unpaired:
                try checkTokens(rec, "chosen_input_ids", "chosen_label_start", source, n)
                try checkTokens(rec, "rejected_input_ids", "rejected_label_start", source, n)
                p.elements = [(try serialize(try item(rec, side: "chosen", fail), fail), true),
                              (try serialize(try item(rec, side: "rejected", fail), fail), false)]
            case .sft:
                // The SFT target is the record's chosen completion unless "sft_completion" says "rejected"
                // (SHP, OASST); only that side's tokens are needed (AlpacaEval records have no rejected side).
                p.isTarget = try rec.field("sft_target", source: source, record: n).bool()
                p.promptKey = (try? JSONSerializer.string(pid)) ?? "?"
                if p.isTarget {
                    let side = try sftSide(rec, fail)
                    try checkTokens(rec, side + "_input_ids", side + "_label_start", source, n)
                    p.elements = [(try serialize(try item(rec, side: side, fail), fail), side == "chosen")]
                }
            }
        } catch {
            p.error = error
        }
        return p
    }

    static func serialize(_ rec: JSONObject, _ fail: (String) -> RecordError) throws -> [UInt8] {
        var out: [UInt8] = []
        do throws(JSONWriteError) { try JSONSerializer.write(rec, to: &out) } catch { throw fail(error.description) }
        return out
    }

    /// The embedding of `rec` as float32: numbers only, finite as float32, not all zero.
    static func readEmbedding(_ rec: JSONObject, field: String, _ fail: (String) -> RecordError) throws -> [Float] {
        guard let v = rec[field], !v.isNull else {
            throw fail("missing field \"\(field)\" (embedding weights and similar grouping need prompt embeddings: run rpo-embed first)")
        }
        guard case .array(let a) = v else { throw fail("field \"\(field)\" must be an array of numbers, found \(v.typeName)") }
        guard !a.isEmpty else { throw fail("field \"\(field)\" is empty") }
        var out = [Float]()
        out.reserveCapacity(a.count)
        var ss = 0.0
        for (i, x) in a.enumerated() {
            guard let d = x.doubleValue else { throw fail("field \"\(field)\"[\(i)] must be a number, found \(x.typeName)") }
            let f = Float(d)
            guard f.isFinite else { throw fail("field \"\(field)\"[\(i)] = \(d) is not a finite float32") }
            out.append(f)
            ss += Double(f) * Double(f)
        }
        if ss == 0 { throw fail("field \"\(field)\" is a zero vector: its cosine distance to other prompts is undefined") }
        return out
    }

    /// Checks a token id array and its label start.
    static func checkTokens(_ rec: JSONObject, _ ids: String, _ start: String, _ source: String, _ n: Int) throws {
        let a = try rec.field(ids, source: source, record: n).array()
        for (i, x) in a.enumerated() where x.intValue == nil {
            throw RecordError(source: source, record: n, "field \"\(ids)\"[\(i)] must be an integer token id, found \(x.typeName)")
        }
        let s = try rec.field(start, source: source, record: n).int()
        guard s >= 0 && s <= a.count else {
            throw RecordError(source: source, record: n, "field \"\(start)\" = \(s) is outside 0...\(a.count) (the length of \"\(ids)\")")
        }
    }

    /// Which completion of an `sft_target` record is the SFT target: "chosen", or "rejected" when its
    /// `sft_completion` says so.
    static func sftSide(_ rec: JSONObject, _ fail: (String) -> RecordError) throws -> String {
        guard let v = rec["sft_completion"], !v.isNull else { return "chosen" }
        guard let s = v.stringValue, s == "chosen" || s == "rejected" else {
            throw fail("field \"sft_completion\" must be \"chosen\" or \"rejected\"")
        }
        return s
    }

    /// One side of a pair record as an item record: the shared fields in order, `chosen`/`rejected` →
    /// `completion`, `<side>_X` → `X`, the other side's fields dropped, then `status`. The item's `id` is
    /// "<pair id>:<side>" (as rpo-tokenize --unpaired names items); `sft_target` is true only on the item that is
    /// the pair's SFT target, and `sft_completion` is dropped.
    static func item(_ rec: JSONObject, side: String, _ fail: (String) -> RecordError) throws -> JSONObject {
        let other = side == "chosen" ? "rejected" : "chosen"
        let targetSide = try sftSide(rec, fail)
        let isTarget = rec["sft_target"]?.boolValue == true && targetSide == side
        var out = JSONObject()
        var origin: [String: String] = [:]
        func set(_ k: String, _ v: JSON, from source: String) throws {
            if let first = origin[k] {
                throw fail("fields \"\(first)\" and \"\(source)\" would both become \"\(k)\" of the \(side) item")
            }
            origin[k] = source
            out[k] = v
        }
        for (k, v) in rec {
            if k == side { try set("completion", v, from: k) }
            else if k == other || k.hasPrefix(other + "_") || k == "sft_completion" { continue }
            else if k == "id" {
                let pairID = v.stringValue ?? ((try? JSONSerializer.string(v)) ?? "")
                try set(k, .string(pairID + ":" + side), from: k)
            }
            else if k == "sft_target" { try set(k, .bool(isTarget), from: k) }
            else if k.hasPrefix(side + "_") { try set(String(k.dropFirst(side.count + 1)), v, from: k) }
            else { try set(k, v, from: k) }
        }
        out["status"] = .string(side)
        return out
    }

    // MARK: - Loading

    static let chunkLines = 2048
    static let chunkBytes = 32 << 20

    static func load(_ input: RecordReader, options: PairsOptions, progress: ((Int, Int) -> Void)?) throws -> ElementStore {
        var store = ElementStore()
        var dimRecord = 0
        // sft: the first record of each prompt_id (in input order) and the record holding its SFT target.
        var promptOrder: [String] = []
        var firstRecord: [String: Int] = [:]
        var targetRecord: [String: Int] = [:]
        var buf: [UInt8] = [], ends: [Int] = [], numbers: [Int] = []
        var eof = false
        while !eof {
            // A chunk of non-blank lines, copied out of the reader.
            buf.removeAll(keepingCapacity: true); ends.removeAll(keepingCapacity: true); numbers.removeAll(keepingCapacity: true)
            while ends.count < chunkLines && buf.count < chunkBytes {
                let more = try input.lines.withNextLine { line -> Bool in
                    if !input.isBlank(line) {
                        buf.append(contentsOf: line)
                        ends.append(buf.count)
                        numbers.append(input.lines.lineNumber)
                    }
                    return true
                }
                if more == nil { eof = true; break }
            }
            let parsed = parseChunk(buf, ends: ends, numbers: numbers, source: input.name, options: options)
            // Merge in input order.
            for p in parsed {
                if let e = p.error { throw e }
                store.records += 1
                var row = -1
                if !p.embedding.isEmpty {
                    if store.dim == 0 { store.dim = p.embedding.count; dimRecord = p.record }
                    guard p.embedding.count == store.dim else {
                        throw RecordError(source: input.name, record: p.record,
                                          "field \"\(options.embeddingField)\" has \(p.embedding.count) values, but record \(dimRecord) has \(store.dim)")
                    }
                    row = store.table.count / store.dim
                    store.table.append(contentsOf: p.embedding)
                }
                if options.layout == .sft {
                    if firstRecord[p.promptKey] == nil { firstRecord[p.promptKey] = p.record; promptOrder.append(p.promptKey) }
                    if p.isTarget {
                        if let first = targetRecord[p.promptKey] {
                            throw RecordError(source: input.name, record: p.record,
                                              "a second record with \"sft_target\": true for prompt_id \(p.promptKey) (the first is record \(first))")
                        }
                        targetRecord[p.promptKey] = p.record
                    }
                }
                for (bytes, chosen) in p.elements {
                    store.arena.append(contentsOf: bytes)
                    store.starts.append(store.arena.count)
                    store.isChosen.append(chosen)
                    store.rows.append(row)
                }
            }
            progress?(store.records, 0)
        }
        if options.layout == .sft, let missing = promptOrder.first(where: { targetRecord[$0] == nil }) {
            throw RecordError(source: input.name, record: firstRecord[missing],
                              "prompt_id \(missing) has no record with \"sft_target\": true (the sft layout trains on each prompt's SFT target)")
        }
        return store
    }

    /// Parses the lines of a chunk on the worker team (Parallel: one thread per core); results in line order.
    static func parseChunk(_ buf: [UInt8], ends: [Int], numbers: [Int], source: String, options: PairsOptions) -> [Parsed] {
        var out = [Parsed](repeating: Parsed(), count: ends.count)
        buf.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                let box = UncheckedSendable((b, o))
                Parallel.forRanges(ends.count, costPerItem: 1, minWork: 64) { r in
                    let (bytes, results) = box.value
                    for i in r {
                        let start = i == 0 ? 0 : ends[i - 1]
                        let line = UnsafeBufferPointer(rebasing: bytes[start..<ends[i]])
                        results[i] = parse(line, record: numbers[i], source: source, options: options)
                    }
                }
            }
        }
        return out
    }
}
