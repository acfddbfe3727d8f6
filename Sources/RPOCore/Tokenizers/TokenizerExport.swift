// Exporting a Tokenizer as the Hugging Face files that transformers and HF tokenizers load unchanged:
// tokenizer.json (the whole pipeline: added tokens with their flags, normalizer, pre-tokenizer, post-processor,
// decoder, and the BPE or WordPiece model with its vocabulary and merges), tokenizer_config.json and
// special_tokens_map.json. Any tokenizer `Tokenizer.load` reads can be written back, in particular those built
// from GGUF metadata (byte-level BPE with pre gpt2 / smollm / llama-bpe / qwen2, llama SPM), so that
// checkpoints of GGUF models are complete HF directories.
// The bytes are deterministic: keys in the order HF tokenizers writes them, the vocabulary by id, merges by
// rank. A tokenizer state that tokenizer.json cannot express is a TokenizerError naming it.
// Reference: huggingface/tokenizers serde formats (the inverse of TokenizerLoading.swift); transformers 5.24
// `TokenizersBackend.update_post_processor` (templates, add_bos_token / add_eos_token) and
// `tokenization_utils_base.generate_merges` (the order of SentencePiece merges of equal score).
import Foundation

/// One file of a Hugging Face directory.
public struct HFFile: Sendable, Equatable {
    public let name: String
    public let bytes: [UInt8]
    public init(name: String, bytes: [UInt8]) { self.name = name; self.bytes = bytes }

    /// Writes `files` into `directory` (created if needed); each appears complete or not at all (written
    /// under a temporary name, then renamed).
    public static func write(_ files: [HFFile], to directory: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), !isDir.boolValue {
            throw IOError(directory, "exists and is not a directory")
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw IOError(directory, "cannot create the directory (\(error.localizedDescription))")
        }
        for f in files {
            let sink = try FileSink(path: (directory as NSString).appendingPathComponent(f.name))
            try f.bytes.withUnsafeBytes { try sink.write($0) }
            try sink.finish()
        }
    }
}

extension Tokenizer {
    /// The files `huggingFaceFiles()` returns, in that order.
    public static let huggingFaceFileNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    /// `tokenizer_class` in tokenizer_config.json: the generic fast tokenizer, which transformers 4 and 5 both
    /// build from tokenizer.json as written (5.x resolves the name to `TokenizersBackend`, the class it
    /// writes itself for GGUF tokenizers). A model class such as `LlamaTokenizer` would instead rebuild the
    /// normalizer, pre-tokenizer and decoder from its own defaults and lose e.g. SmolLM2's digit split.
    public static let exportedTokenizerClass = "PreTrainedTokenizerFast"

    /// The tokenizer as Hugging Face files: tokenizer.json, tokenizer_config.json, special_tokens_map.json.
    public func huggingFaceFiles() throws -> [HFFile] {
        [HFFile(name: "tokenizer.json", bytes: try tokenizerJSON()),
         HFFile(name: "tokenizer_config.json", bytes: try configJSON()),
         HFFile(name: "special_tokens_map.json", bytes: try specialTokensMapJSON())]
    }

    /// Writes `huggingFaceFiles()` into `directory` (created if needed), each file atomically.
    public func save(to directory: String) throws {
        try HFFile.write(try huggingFaceFiles(), to: directory)
    }

    // MARK: - tokenizer.json

    func tokenizerJSON() throws -> [UInt8] {
        let err = TokenizerErrorContext(source: source)
        var out: [UInt8] = []
        out.reserveCapacity(64 + vocab.count * 40)
        func line(_ s: String) { out.append(contentsOf: s.utf8) }
        func field(_ key: String, _ value: JSON, indent: Int, last: Bool = false) throws {
            line(String(repeating: " ", count: indent))
            JSONSerializer.writeString(key, to: &out)
            line(": ")
            try PrettyJSON.write(value, indent: indent, to: &out, err, key)
            line(last ? "\n" : ",\n")
        }
        line("{\n")
        try field("version", .string("1.0"), indent: 2)
        try field("truncation", .null, indent: 2)
        try field("padding", .null, indent: 2)
        try field("added_tokens", .array(addedTokensJSON(err)), indent: 2)
        try field("normalizer", normalizer.map { try Self.json($0.steps, err) } ?? .null, indent: 2)
        try field("pre_tokenizer", preTokenizer.map { try Self.json($0.steps, err) } ?? .null, indent: 2)
        try field("post_processor", try postProcessorExportJSON(err), indent: 2)
        try field("decoder", decoder.map { Self.json($0.steps) } ?? .null, indent: 2)
        line("  \"model\": {\n")
        switch model {
        case .bpe(let m):
            try field("type", .string("BPE"), indent: 4)
            try field("dropout", .null, indent: 4)
            try field("unk_token", try m.unkId.map { .string(try tokenString(Int($0), err, "model.unk_token")) } ?? .null, indent: 4)
            try field("continuing_subword_prefix", m.prefix.map { .string($0) } ?? .null, indent: 4)
            try field("end_of_word_suffix", m.suffix.map { .string($0) } ?? .null, indent: 4)
            try field("fuse_unk", .bool(m.fuseUnk), indent: 4)
            try field("byte_fallback", .bool(m.byteFallback), indent: 4)
            try field("ignore_merges", .bool(m.ignoreMerges), indent: 4)
            try writeVocab(&out, err)
            line(",\n")
            try writeMerges(m, &out, err)
        case .wordPiece(let m):
            try field("type", .string("WordPiece"), indent: 4)
            try field("unk_token", .string(try tokenString(Int(m.unkId), err, "model.unk_token")), indent: 4)
            try field("continuing_subword_prefix", .string(m.prefix), indent: 4)
            try field("max_input_chars_per_word", .int(m.maxInputCharsPerWord), indent: 4)
            try writeVocab(&out, err)
        }
        line("\n  }\n}\n")
        return out
    }

    /// The model vocabulary's string of `id` (not an added token's), or an error naming `component`.
    func tokenString(_ id: Int, _ err: TokenizerErrorContext, _ component: String) throws -> String {
        guard let t = vocab.token(id) else { throw err(component, "id \(id) is not in the model vocabulary") }
        return t
    }

    /// The added tokens by id. HF does not read their ids back: a token in the model vocabulary takes its id
    /// there, any other the next id after the vocabulary's size and the other such tokens before it
    /// (added_vocabulary.rs `add_tokens`, as tokenizers 0.23.3 behaves). A token whose id differs from that
    /// cannot be written.
    func addedTokensJSON(_ err: TokenizerErrorContext) throws -> [JSON] {
        let sorted = added.tokens.enumerated().sorted { ($0.element.id, $0.offset) < ($1.element.id, $1.offset) }
        let vocabSize = vocab.count
        var maxId: Int? = nil
        var seen: [[UInt8]: Int] = [:]
        for (_, t) in sorted {
            let key = Array(t.content.utf8)
            if let first = seen[key] {
                guard first == Int(t.id) else { throw err("added_tokens", "the added token \(Self.quoted(t.content)) has the ids \(first) and \(t.id); HF keeps one id per added token") }
                continue
            }
            let inVocab = vocab.id(t.content)
            let hf = inVocab ?? maxId.map { $0 >= vocabSize ? $0 + 1 : vocabSize } ?? vocabSize
            guard hf == Int(t.id) else {
                throw err("added_tokens", "the added token \(Self.quoted(t.content)) has id \(t.id), but HF tokenizers would give it id \(hf) (\(inVocab != nil ? "its id in the model vocabulary" : "added tokens outside the vocabulary are numbered from its size, \(vocabSize), without gaps"))")
            }
            if inVocab == nil { maxId = max(maxId ?? hf, hf) }
            seen[key] = hf
        }
        return sorted.map { _, t in
            .object(JSONObject([("id", .int(Int(t.id))), ("content", .string(t.content)), ("single_word", .bool(t.singleWord)),
                                ("lstrip", .bool(t.lstrip)), ("rstrip", .bool(t.rstrip)), ("normalized", .bool(t.normalized)),
                                ("special", .bool(t.special))]))
        }
    }

    /// `"vocab": {...}` (4-space indent, one token per line, by id). tokenizer.json pairs each token with one
    /// id and each id with one token: a vocabulary holding a token under two ids (GGUF files may list a
    /// string twice), or two tokens under one id, cannot be written.
    func writeVocab(_ out: inout [UInt8], _ err: TokenizerErrorContext) throws {
        var n = 0
        for (id, t) in vocab.tokens.enumerated() {
            guard let t else { continue }
            n += 1
            if let first = vocab.id(t), first != id {
                throw err("model.vocab", "the token \(Self.quoted(t)) has the ids \(first) and \(id); tokenizer.json maps a token to one id, so id \(id) cannot be written")
            }
        }
        if n != vocab.count {
            try vocab.table.forEach { key, value in
                let t = vocab.tokens[Int(value.0)]!
                if !t.utf8.elementsEqual(key) {
                    throw err("model.vocab", "the tokens \(Self.quoted(t)) and \(Self.quoted(String(decoding: key, as: UTF8.self))) share the id \(value.0); tokenizer.json gives each id one token")
                }
            }
        }
        out.append(contentsOf: "    \"vocab\": {".utf8)
        var k = 0
        for (id, t) in vocab.tokens.enumerated() {
            guard let t else { continue }
            out.append(contentsOf: (k == 0 ? "\n      " : ",\n      ").utf8)
            JSONSerializer.writeString(t, to: &out)
            out.append(contentsOf: ": ".utf8)
            JSONSerializer.appendInt(id, to: &out)
            k += 1
        }
        out.append(contentsOf: (k == 0 ? "}" : "\n    }").utf8)
    }

    /// `"merges": [...]`, one `["a", "b"]` per line by rank. Merges of equal rank (SentencePiece vocabularies
    /// from GGUF, ranked by score) are ordered as transformers' `generate_merges` orders them: longer left
    /// part first, then longer right part, then by the merged token's id and the parts' ids.
    func writeMerges(_ m: BPEModel, _ out: inout [UInt8], _ err: TokenizerErrorContext) throws {
        var ms: [(rank: UInt32, la: Int, lb: Int, merged: Int32, a: Int32, b: Int32)] = []
        ms.reserveCapacity(m.merges.count)
        try m.merges.forEach { a, b, rank, merged in
            let ta = try tokenString(Int(a), err, "model.merges"), tb = try tokenString(Int(b), err, "model.merges")
            ms.append((rank, ta.unicodeScalars.count, tb.unicodeScalars.count, merged, a, b))
        }
        ms.sort { x, y in
            if x.rank != y.rank { return x.rank < y.rank }
            if x.la != y.la { return x.la > y.la }
            if x.lb != y.lb { return x.lb > y.lb }
            return (x.merged, x.a, x.b) < (y.merged, y.a, y.b)
        }
        let prefix = Array((m.prefix ?? "").utf8)
        out.append(contentsOf: "    \"merges\": [".utf8)
        for (k, e) in ms.enumerated() {
            let ta = vocab.token(Int(e.a))!, tb = vocab.token(Int(e.b))!
            // HF rebuilds the merged token as a + b (without b's continuing-subword prefix): it must be the
            // token this merge produces here.
            let bb = Array(tb.utf8)
            let merged = Array(ta.utf8) + (!prefix.isEmpty && bb.starts(with: prefix) ? Array(bb[prefix.count...]) : bb)
            guard vocab.id(bytes: merged) == Int(e.merged) else {
                throw err("model.merges", "the merge \(Self.quoted(ta)) + \(Self.quoted(tb)) produces id \(e.merged), but tokenizer.json would merge into \(Self.quoted(String(decoding: merged, as: UTF8.self)))")
            }
            out.append(contentsOf: (k == 0 ? "\n      [" : ",\n      [").utf8)
            JSONSerializer.writeString(ta, to: &out)
            out.append(contentsOf: ", ".utf8)
            JSONSerializer.writeString(tb, to: &out)
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: (ms.isEmpty ? "]" : "\n    ]").utf8)
    }

    // MARK: Components

    static func type(_ name: String, _ rest: [(String, JSON)] = []) -> JSON {
        .object(JSONObject([("type", .string(name))] + rest))
    }

    static func utf8String(_ b: [UInt8], _ err: TokenizerErrorContext, _ c: String) throws -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw err(c, "a string is not valid UTF-8") }
        return s
    }

    static func json(_ steps: [NormalizerStep], _ err: TokenizerErrorContext) throws -> JSON {
        let parts = try steps.map { step -> JSON in
            switch step {
            case .nfc: return type("NFC")
            case .nfd: return type("NFD")
            case .nfkc: return type("NFKC")
            case .nfkd: return type("NFKD")
            case .lowercase: return type("Lowercase")
            case .stripAccents: return type("StripAccents")
            case .bert(let clean, let chinese, let strip, let lower):
                return type("BertNormalizer", [("clean_text", .bool(clean)), ("handle_chinese_chars", .bool(chinese)),
                                               ("strip_accents", .bool(strip)), ("lowercase", .bool(lower))])
            case .prepend(let p):
                return type("Prepend", [("prepend", .string(try utf8String(p, err, "normalizer")))])
            case .replace(let p, let c):
                return type("Replace", [("pattern", .object(JSONObject([("String", .string(try utf8String(p, err, "normalizer")))]))),
                                        ("content", .string(try utf8String(c, err, "normalizer")))])
            case .strip(let left, let right):
                return type("Strip", [("strip_left", .bool(left)), ("strip_right", .bool(right))])
            }
        }
        return parts.count == 1 ? parts[0] : type("Sequence", [("normalizers", .array(parts))])
    }

    /// The regex HF writes for a split pattern.
    static func regex(_ p: SplitPattern, _ err: TokenizerErrorContext) throws -> JSON {
        switch p {
        case .gpt2: return .object(JSONObject([("Regex", .string(SplitPattern.gpt2Regex))]))
        case .llama3(3): return .object(JSONObject([("Regex", .string(SplitPattern.llama3Regex))]))
        case .llama3(1): return .object(JSONObject([("Regex", .string(SplitPattern.qwen2Regex))]))
        case .llama3(let n):
            throw err("pre_tokenizer", "the Llama-3 split with runs of up to \(n) digits has no regex HF tokenizers knows (only 3: Llama-3, 1: Qwen2)")
        case .singleNumber: return .object(JSONObject([("Regex", .string(#"\p{N}"#))]))
        case .wordsAndSymbols: return .object(JSONObject([("Regex", .string(#"\w+|[^\w\s]+"#))]))
        case .literal(let b): return .object(JSONObject([("String", .string(try utf8String(b, err, "pre_tokenizer")))]))
        }
    }

    static func json(_ steps: [PreTokenizerStep], _ err: TokenizerErrorContext) throws -> JSON {
        func split(_ pattern: JSON, _ b: SplitBehavior, _ invert: Bool) -> JSON {
            type("Split", [("pattern", pattern), ("behavior", .string(b.rawValue)), ("invert", .bool(invert))])
        }
        let parts = try steps.map { step -> JSON in
            switch step {
            case .byteLevel(let addPrefixSpace, let useRegex):
                return type("ByteLevel", [("add_prefix_space", .bool(addPrefixSpace)), ("trim_offsets", .bool(true)),
                                          ("use_regex", .bool(useRegex))])
            case .split(.wordsAndSymbols, .removed, invert: true):
                return type("Whitespace")
            case .split(let p, let b, let invert):
                return split(try regex(p, err), b, invert)
            case .chars(.numeric, .isolated):
                return type("Digits", [("individual_digits", .bool(true))])
            case .chars(.numeric, .contiguous):
                return type("Digits", [("individual_digits", .bool(false))])
            case .chars(.numeric, let b):
                return split(try regex(.singleNumber, err), b, false)
            case .chars(.whitespace, .removed):
                return type("WhitespaceSplit")
            case .chars(.whitespace, let b):
                throw err("pre_tokenizer", "a whitespace split with behavior \(b.rawValue) has no HF pre-tokenizer (WhitespaceSplit removes the whitespace)")
            case .chars(.bertPunctuation, let b):
                return type("Punctuation", [("behavior", .string(b.rawValue))])
            case .bert:
                return type("BertPreTokenizer")
            case .metaspace(let rep, let scheme, let splitFlag):
                guard let r = Unicode.Scalar(rep) else { throw err("pre_tokenizer", "Metaspace replacement U+\(String(rep, radix: 16)) is not a character") }
                return type("Metaspace", [("replacement", .string(String(r))), ("prepend_scheme", .string(scheme.rawValue)),
                                          ("split", .bool(splitFlag))])
            }
        }
        return parts.count == 1 ? parts[0] : type("Sequence", [("pretokenizers", .array(parts))])
    }

    static func json(_ steps: [DecoderStep]) -> JSON {
        let parts = steps.map { step -> JSON in
            switch step {
            case .byteLevel:
                return type("ByteLevel", [("add_prefix_space", .bool(true)), ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
            case .metaspace(let rep, let scheme):
                return type("Metaspace", [("replacement", .string(String(rep))), ("prepend_scheme", .string(scheme.rawValue)),
                                          ("split", .bool(true))])
            case .byteFallback: return type("ByteFallback")
            case .fuse: return type("Fuse")
            case .strip(let content, let start, let stop):
                return type("Strip", [("content", .string(String(content))), ("start", .int(start)), ("stop", .int(stop))])
            case .replace(let p, let c):
                return type("Replace", [("pattern", .object(JSONObject([("String", .string(p))]))), ("content", .string(c))])
            case .wordPiece(let prefix, let cleanup):
                return type("WordPiece", [("prefix", .string(prefix)), ("cleanup", .bool(cleanup))])
            case .bpe(let suffix):
                return type("BPEDecoder", [("suffix", .string(suffix))])
            }
        }
        return parts.count == 1 ? parts[0] : type("Sequence", [("decoders", .array(parts))])
    }

    /// The post-processor: as tokenizer.json had it, else a TemplateProcessing built from the single-sequence
    /// template (pair: the same pieces again for $B with type id 1, as transformers' update_post_processor
    /// builds it), each special piece named by its tokens.
    func postProcessorExportJSON(_ err: TokenizerErrorContext) throws -> JSON {
        if let j = postProcessorJSON { return j }
        guard let single = postProcessor?.single else { return .null }
        var specials = JSONObject()
        var specialNames: [String] = []
        func pieces(_ sequence: String, _ typeId: Int) throws -> [JSON] {
            try single.map { piece -> JSON in
                switch piece {
                case .sequence:
                    return .object(JSONObject([("Sequence", .object(JSONObject([("id", .string(sequence)), ("type_id", .int(typeId))])))]))
                case .special(let ids):
                    let tokens = try ids.map { id -> String in
                        guard let t = token(Int(id)) else { throw err("post_processor", "special token id \(id) has no token") }
                        return t
                    }
                    let name = tokens.joined()
                    if let i = specialNames.firstIndex(where: { $0.utf8.elementsEqual(name.utf8) }) {
                        guard specials.values[i] == .object(Self.specialEntry(name, ids, tokens)) else {
                            throw err("post_processor", "two special pieces are both named \(Self.quoted(name))")
                        }
                    } else {
                        specialNames.append(name)
                        specials.appendUnchecked(name, .object(Self.specialEntry(name, ids, tokens)))
                    }
                    return .object(JSONObject([("SpecialToken", .object(JSONObject([("id", .string(name)), ("type_id", .int(typeId))])))]))
                }
            }
        }
        let s = try pieces("A", 0), p = try s + pieces("B", 1)
        return Self.type("TemplateProcessing", [("single", .array(s)), ("pair", .array(p)), ("special_tokens", .object(specials))])
    }

    static func specialEntry(_ name: String, _ ids: [Int32], _ tokens: [String]) -> JSONObject {
        JSONObject([("id", .string(name)), ("ids", .ints(ids)), ("tokens", .array(tokens.map { .string($0) }))])
    }

    // MARK: - tokenizer_config.json, special_tokens_map.json

    /// (add_bos_token, add_eos_token) when the post-processor was built here (GGUF, vocab.json + merges.txt)
    /// and is `[bos] $A [eos]`: transformers then rebuilds the same template from these flags. Nil otherwise
    /// (a tokenizer.json post-processor is kept as it is, which the flags would replace).
    var exportedAddFlags: (bos: Bool, eos: Bool)? {
        guard postProcessorJSON == nil else { return nil }
        guard let single = postProcessor?.single else { return (false, false) }
        var k = 0, bos = false, eos = false
        if k < single.count, case .special(let ids) = single[k], ids.count == 1, let b = bosTokenId, Int(ids[0]) == b { bos = true; k += 1 }
        guard k < single.count, case .sequence = single[k] else { return nil }
        k += 1
        if k < single.count, case .special(let ids) = single[k], ids.count == 1, let e = eosTokenId, Int(ids[0]) == e { eos = true; k += 1 }
        return k == single.count ? (bos, eos) : nil
    }

    /// bos, eos, pad, unk as (key, token string, id), those the tokenizer has.
    var namedSpecialTokens: [(String, String, Int)] {
        var out: [(String, String, Int)] = []
        for (key, id) in [("bos_token", bosTokenId), ("eos_token", eosTokenId), ("pad_token", padTokenId), ("unk_token", unkTokenId)] {
            if let id, let t = token(id) { out.append((key, t, id)) }
        }
        return out
    }

    /// Keys sorted, 2-space indent, as transformers' save_pretrained writes the file.
    func configJSON() throws -> [UInt8] {
        var o: [(String, JSON)] = []
        if let f = exportedAddFlags { o += [("add_bos_token", .bool(f.bos)), ("add_eos_token", .bool(f.eos))] }
        for (k, t, _) in namedSpecialTokens { o.append((k, .string(t))) }
        if let c = chatTemplate { o.append(("chat_template", .string(c))) }
        // Decoding is HF tokenizers' decode; transformers' extra clean-up pass would change it.
        o.append(("clean_up_tokenization_spaces", .bool(false)))
        if let n = modelMaxLength { o.append(("model_max_length", .int(n))) }
        o.append(("tokenizer_class", .string(Self.exportedTokenizerClass)))
        o.sort { $0.0 < $1.0 }
        return try PrettyJSON.document(.object(JSONObject(o)), TokenizerErrorContext(source: source), "tokenizer_config.json")
    }

    /// bos/eos/pad/unk: an added token as transformers writes an AddedToken (content and flags), else its string.
    func specialTokensMapJSON() throws -> [UInt8] {
        var o: [(String, JSON)] = []
        for (k, t, id) in namedSpecialTokens {
            if let i = addedById[Int32(id)] {
                let a = added.tokens[i]
                o.append((k, .object(JSONObject([("content", .string(a.content)), ("lstrip", .bool(a.lstrip)),
                                                 ("normalized", .bool(a.normalized)), ("rstrip", .bool(a.rstrip)),
                                                 ("single_word", .bool(a.singleWord))]))))
            } else {
                o.append((k, .string(t)))
            }
        }
        return try PrettyJSON.document(.object(JSONObject(o)), TokenizerErrorContext(source: source), "special_tokens_map.json")
    }
}

/// Python's `json.dumps(indent=2, ensure_ascii=False)` layout: one member per line, `"key": value`, empty
/// containers as `{}` / `[]`, non-ASCII as raw UTF-8.
enum PrettyJSON {
    static func write(_ v: JSON, indent: Int, to out: inout [UInt8], _ err: TokenizerErrorContext, _ c: String) throws {
        switch v {
        case .object(let o) where !o.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (k, (key, value)) in zip(o.keys, o.values).enumerated() {
                out.append(contentsOf: ((k == 0 ? "\n" : ",\n") + String(repeating: " ", count: indent + 2)).utf8)
                JSONSerializer.writeString(key, to: &out)
                out.append(contentsOf: ": ".utf8)
                try write(value, indent: indent + 2, to: &out, err, c)
            }
            out.append(contentsOf: ("\n" + String(repeating: " ", count: indent) + "}").utf8)
        case .array(let a) where !a.isEmpty:
            out.append(UInt8(ascii: "["))
            for (k, value) in a.enumerated() {
                out.append(contentsOf: ((k == 0 ? "\n" : ",\n") + String(repeating: " ", count: indent + 2)).utf8)
                try write(value, indent: indent + 2, to: &out, err, c)
            }
            out.append(contentsOf: ("\n" + String(repeating: " ", count: indent) + "]").utf8)
        default:
            do { try JSONSerializer.write(v, to: &out) } catch { throw err(c, "\(error)") }
        }
    }

    /// A whole file: the value and a newline.
    static func document(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try write(v, indent: 0, to: &out, err, c)
        out.append(0x0A)
        return out
    }
}
