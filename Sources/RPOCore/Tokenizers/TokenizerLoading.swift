// Loading tokenizers from Hugging Face files: `tokenizer.json` (+ `tokenizer_config.json`,
// `special_tokens_map.json`, `chat_template.jinja`) or GPT-2 style `vocab.json` + `merges.txt`.
// Every component type is dispatched by its `"type"` string; an unknown type, an unsupported option or a
// malformed field is a TokenizerError naming the file and the component.
// Reference: huggingface/tokenizers serde formats (tokenizers/src/*/mod.rs, `#[serde(tag = "type")]`).
import Foundation

extension Tokenizer {
    /// Loads a tokenizer from a directory holding `tokenizer.json` or `vocab.json` + `merges.txt`, a
    /// `tokenizer.json` file, or a `.gguf` file (its `tokenizer.ggml.*` metadata).
    public static func load(path: String) throws -> Tokenizer {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError(path, "file", "no such file or directory")
        }
        if !isDir.boolValue {
            if path.hasSuffix(".gguf") { return try loadGGUF(path: path) }
            return try loadTokenizerJSON(path: path, directory: (path as NSString).deletingLastPathComponent)
        }
        let dir = path
        let tj = (dir as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tj) { return try loadTokenizerJSON(path: tj, directory: dir) }
        let vj = (dir as NSString).appendingPathComponent("vocab.json")
        let mt = (dir as NSString).appendingPathComponent("merges.txt")
        if FileManager.default.fileExists(atPath: vj) && FileManager.default.fileExists(atPath: mt) {
            return try loadVocabMerges(vocabPath: vj, mergesPath: mt, directory: dir)
        }
        throw TokenizerError(dir, "directory", "holds neither tokenizer.json nor vocab.json + merges.txt")
    }

    /// "a b" (split on the one space, by bytes: a space may precede a combining mark) -> (a, b).
    static func splitMerge(_ l: [UInt8]) -> (String, String)? {
        let parts = l.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self))
    }

    /// A string as a JSON literal, for error messages.
    static func quoted(_ s: String) -> String { (try? JSONSerializer.string(.string(s))) ?? "\"\(s)\"" }

    static func readJSON(_ path: String, _ component: String) throws -> JSON {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError(path, component, "cannot read the file")
        }
        do {
            return try data.withUnsafeBytes { raw in try TokenizerJSONReader.parse(raw.bindMemory(to: UInt8.self)) }
        } catch {
            throw TokenizerError(path, component, "\(error)")
        }
    }

    // MARK: - tokenizer.json

    static func loadTokenizerJSON(path: String, directory: String) throws -> Tokenizer {
        let err = TokenizerErrorContext(source: path)
        guard let root = try readJSON(path, "tokenizer.json").objectValue else {
            throw err("tokenizer.json", "the top level is not an object")
        }
        let normalizer = try root["normalizer"].flatMap { $0.isNull ? nil : try parseNormalizer($0, err, "normalizer") }
        let preTokenizer = try root["pre_tokenizer"].flatMap { $0.isNull ? nil : try parsePreTokenizer($0, err, "pre_tokenizer") }
        guard let modelJSON = root["model"]?.objectValue else { throw err("model", "missing") }

        // Added tokens.
        var addedTokens: [AddedToken] = []
        if let list = root["added_tokens"], !list.isNull {
            guard let arr = list.arrayValue else { throw err("added_tokens", "not an array") }
            for (i, item) in arr.enumerated() {
                let c = "added_tokens[\(i)]"
                guard let o = item.objectValue, let id = o["id"]?.intValue, let content = o["content"]?.stringValue else {
                    throw err(c, "needs an integer \"id\" and a string \"content\"")
                }
                guard let id32 = Int32(exactly: id), id32 >= 0 else { throw err(c, "id \(id) is not a token id (0..<2^31)") }
                func flag(_ k: String, _ d: Bool) -> Bool { o[k]?.boolValue ?? d }
                let special = flag("special", false)
                addedTokens.append(AddedToken(id: id32, content: content, singleWord: flag("single_word", false),
                                              lstrip: flag("lstrip", false), rstrip: flag("rstrip", false),
                                              normalized: flag("normalized", !special), special: special))
            }
        }

        let byteLevel = preTokenizer?.isByteLevel ?? false
        let (model, vocab) = try parseModel(modelJSON, byteLevel: byteLevel, err)
        let postProcessor = try root["post_processor"].flatMap {
            $0.isNull ? nil : try parsePostProcessor($0, err, "post_processor")
        }
        let decoder = try root["decoder"].flatMap { $0.isNull ? nil : try parseDecoder($0, err, "decoder") }

        var parts = Tokenizer.Parts(source: path, normalizer: normalizer, preTokenizer: preTokenizer, model: model,
                                    postProcessor: postProcessor, decoder: decoder, addedTokens: addedTokens,
                                    vocab: vocab)
        if let pp = root["post_processor"], !pp.isNull { parts.postProcessorJSON = pp }
        try readConfig(directory: directory, into: &parts)
        if parts.unkToken == nil, let u = modelJSON["unk_token"]?.stringValue { parts.unkToken = u }
        return Tokenizer(parts)
    }

    /// bos/eos/pad/unk and the chat template from tokenizer_config.json, special_tokens_map.json and
    /// chat_template.jinja, when present.
    static func readConfig(directory: String, into parts: inout Parts) throws {
        func tokenString(_ v: JSON?) -> String? {
            guard let v else { return nil }
            if let s = v.stringValue { return s }
            return v.objectValue?["content"]?.stringValue
        }
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let p = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: p) else { continue }
            guard let o = try readJSON(p, name).objectValue else {
                throw TokenizerError(p, name, "the top level is not an object")
            }
            // tokenizer_config.json is read second and wins.
            if let s = tokenString(o["bos_token"]) { parts.bosToken = s }
            if let s = tokenString(o["eos_token"]) { parts.eosToken = s }
            if let s = tokenString(o["pad_token"]) { parts.padToken = s }
            if let s = tokenString(o["unk_token"]) { parts.unkToken = s }
            // transformers writes int(1e30) for "no limit"; only a plausible length is kept.
            if let n = o["model_max_length"]?.intValue, n > 0, n < 1 << 40 { parts.modelMaxLength = n }
            if let t = o["chat_template"] {
                if let s = t.stringValue { parts.chatTemplate = s }
                else if let arr = t.arrayValue {
                    // A list of named templates: the "default" one.
                    for item in arr {
                        if let io = item.objectValue, io["name"]?.stringValue == "default" {
                            parts.chatTemplate = io["template"]?.stringValue
                        }
                    }
                }
            }
        }
        let jinja = (directory as NSString).appendingPathComponent("chat_template.jinja")
        if parts.chatTemplate == nil, let d = FileManager.default.contents(atPath: jinja) {
            parts.chatTemplate = String(decoding: d, as: UTF8.self)
        }
    }

    static func typeName(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> (String, JSONObject) {
        guard let o = v.objectValue else { throw err(c, "not an object") }
        guard let t = o["type"]?.stringValue else { throw err(c, "has no \"type\"") }
        return (t, o)
    }

    static func string(_ o: JSONObject, _ k: String, _ err: TokenizerErrorContext, _ c: String) throws -> String {
        guard let s = o[k]?.stringValue else { throw err(c, "needs a string \"\(k)\"") }
        return s
    }

    /// A `{"String": ...}` pattern (the only Replace pattern supported) or a `{"Regex": ...}` one.
    static func pattern(_ o: JSONObject, _ err: TokenizerErrorContext, _ c: String) throws -> (String, isRegex: Bool) {
        guard let p = o["pattern"]?.objectValue else { throw err(c, "needs a \"pattern\" object") }
        if let s = p["String"]?.stringValue { return (s, false) }
        if let r = p["Regex"]?.stringValue { return (r, true) }
        throw err(c, "pattern must be {\"String\": ...} or {\"Regex\": ...}")
    }

    static func singleScalar(_ s: String, _ err: TokenizerErrorContext, _ c: String) throws -> Unicode.Scalar {
        let u = Array(s.unicodeScalars)
        guard u.count == 1 else { throw err(c, "\"\(s)\" must be one character") }
        return u[0]
    }

    // MARK: Normalizers

    static func parseNormalizer(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> Normalizer {
        let (t, o) = try typeName(v, err, c)
        switch t {
        case "Sequence":
            guard let arr = o["normalizers"]?.arrayValue else { throw err(c, "Sequence needs \"normalizers\"") }
            var steps: [NormalizerStep] = []
            for (i, n) in arr.enumerated() { steps += try parseNormalizer(n, err, "\(c).normalizers[\(i)]").steps }
            return Normalizer(steps: steps)
        case "NFC": return Normalizer(steps: [.nfc])
        case "NFD": return Normalizer(steps: [.nfd])
        case "NFKC": return Normalizer(steps: [.nfkc])
        case "NFKD": return Normalizer(steps: [.nfkd])
        case "Lowercase": return Normalizer(steps: [.lowercase])
        case "StripAccents": return Normalizer(steps: [.stripAccents])
        case "BertNormalizer":
            let lower = o["lowercase"]?.boolValue ?? true
            let strip = o["strip_accents"].flatMap { $0.isNull ? nil : $0.boolValue } ?? lower
            return Normalizer(steps: [.bert(cleanText: o["clean_text"]?.boolValue ?? true,
                                            handleChineseChars: o["handle_chinese_chars"]?.boolValue ?? true,
                                            stripAccents: strip, lowercase: lower)])
        case "Prepend":
            return Normalizer(steps: [.prepend(Array(try string(o, "prepend", err, c).utf8))])
        case "Replace":
            let (p, isRegex) = try pattern(o, err, c)
            if isRegex { throw err(c, "Replace with a Regex pattern is not supported (only {\"String\": ...})") }
            return Normalizer(steps: [.replace(pattern: Array(p.utf8), content: Array(try string(o, "content", err, c).utf8))])
        case "Strip":
            return Normalizer(steps: [.strip(left: o["strip_left"]?.boolValue ?? true, right: o["strip_right"]?.boolValue ?? true)])
        default:
            throw err(c, "unsupported normalizer type \"\(t)\" (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, BertNormalizer, Prepend, Replace, Strip)")
        }
    }

    // MARK: Pre-tokenizers

    static func parsePreTokenizer(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> PreTokenizer {
        let (t, o) = try typeName(v, err, c)
        func behavior(_ d: SplitBehavior) throws -> SplitBehavior {
            guard let b = o["behavior"] else { return d }
            guard let s = b.stringValue, let r = SplitBehavior(rawValue: s) else { throw err(c, "unknown split behavior \(b)") }
            return r
        }
        switch t {
        case "Sequence":
            guard let arr = o["pretokenizers"]?.arrayValue else { throw err(c, "Sequence needs \"pretokenizers\"") }
            var steps: [PreTokenizerStep] = []
            for (i, p) in arr.enumerated() {
                if case .byteLevel = steps.last {
                    throw err("\(c).pretokenizers[\(i)]", "a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)")
                }
                steps += try parsePreTokenizer(p, err, "\(c).pretokenizers[\(i)]").steps
            }
            return PreTokenizer(steps: steps)
        case "ByteLevel":
            return PreTokenizer(steps: [.byteLevel(addPrefixSpace: o["add_prefix_space"]?.boolValue ?? true,
                                                   useRegex: o["use_regex"]?.boolValue ?? true)])
        case "Split":
            let (p, isRegex) = try pattern(o, err, c)
            let sp: SplitPattern
            if isRegex {
                guard let r = SplitPattern.recognize(regex: p) else {
                    throw err(c, "unsupported Split regex \(quoted(p)) (supported: \(SplitPattern.recognizedDescription))")
                }
                sp = r
            } else {
                sp = .literal(Array(p.utf8))
            }
            return PreTokenizer(steps: [.split(sp, try behavior(.isolated), invert: o["invert"]?.boolValue ?? false)])
        case "Digits":
            return PreTokenizer(steps: [.chars(.numeric, (o["individual_digits"]?.boolValue ?? false) ? .isolated : .contiguous)])
        case "Whitespace":
            return PreTokenizer(steps: [.split(.wordsAndSymbols, .removed, invert: true)])
        case "WhitespaceSplit":
            return PreTokenizer(steps: [.chars(.whitespace, .removed)])
        case "BertPreTokenizer":
            return PreTokenizer(steps: [.bert])
        case "Punctuation":
            return PreTokenizer(steps: [.chars(.bertPunctuation, try behavior(.isolated))])
        case "Metaspace":
            let rep = try singleScalar(o["replacement"]?.stringValue ?? "\u{2581}", err, c)
            var scheme = PrependScheme.always
            if let s = o["prepend_scheme"]?.stringValue {
                guard let ps = PrependScheme(rawValue: s) else { throw err(c, "unknown prepend_scheme \"\(s)\"") }
                scheme = ps
            } else if let add = o["add_prefix_space"]?.boolValue {
                scheme = add ? .always : .never
            }
            return PreTokenizer(steps: [.metaspace(replacement: rep.value, prependScheme: scheme, split: o["split"]?.boolValue ?? true)])
        default:
            throw err(c, "unsupported pre-tokenizer type \"\(t)\" (supported: Sequence, ByteLevel, Split, Digits, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Metaspace)")
        }
    }

    // MARK: Models

    static func parseModel(_ o: JSONObject, byteLevel: Bool, _ err: TokenizerErrorContext) throws -> (TokenModel, Vocabulary) {
        let t = o["type"]?.stringValue ?? (o["merges"] != nil ? "BPE" : o["continuing_subword_prefix"] != nil ? "WordPiece" : "")
        guard let vj = o["vocab"] else { throw err("model.vocab", "missing") }
        guard let vo = vj.objectValue else { throw err("model.vocab", "must be an object {token: id} for \(t)") }
        var vocab = Vocabulary(capacity: vo.count)
        for (k, v) in zip(vo.keys, vo.values) {
            guard let id = v.intValue, id >= 0 else { throw err("model.vocab", "the id of \(quoted(k)) is not a non-negative integer") }
            // ids index dense tables: one far beyond the vocabulary's size is an error, not a giant allocation
            guard id < vo.count + Vocabulary.maxIdGap else {
                throw err("model.vocab", "the id \(id) of \(quoted(k)) is far beyond the vocabulary's \(vo.count) entries")
            }
            vocab.add(k, id)
        }
        switch t {
        case "BPE":
            if let d = o["dropout"], !d.isNull, (d.doubleValue ?? 0) != 0 {
                throw err("model.dropout", "BPE dropout is random and not supported (must be null)")
            }
            guard let mj = o["merges"]?.arrayValue else { throw err("model.merges", "missing") }
            var merges: [(String, String)] = []
            merges.reserveCapacity(mj.count)
            for (i, m) in mj.enumerated() {
                if let s = m.stringValue {
                    guard let pair = splitMerge(Array(s.utf8)) else { throw err("model.merges[\(i)]", "\(quoted(s)) is not two tokens separated by one space") }
                    merges.append(pair)
                } else if let a = m.arrayValue, a.count == 2, let x = a[0].stringValue, let y = a[1].stringValue {
                    merges.append((x, y))
                } else {
                    throw err("model.merges[\(i)]", "must be \"a b\" or [\"a\", \"b\"]")
                }
            }
            func optString(_ k: String) -> String? {
                guard let s = o[k]?.stringValue, !s.isEmpty else { return nil }
                return s
            }
            let m = try buildBPE(vocab: vocab, merges: merges, byteLevel: byteLevel,
                                 unkToken: optString("unk_token"), fuseUnk: o["fuse_unk"]?.boolValue ?? false,
                                 byteFallback: o["byte_fallback"]?.boolValue ?? false,
                                 ignoreMerges: o["ignore_merges"]?.boolValue ?? false,
                                 prefix: optString("continuing_subword_prefix"), suffix: optString("end_of_word_suffix"), err)
            return (.bpe(m), vocab)
        case "WordPiece":
            if byteLevel { throw err("model", "WordPiece after a ByteLevel pre-tokenizer is not supported") }
            let unk = o["unk_token"]?.stringValue ?? "[UNK]"
            guard let unkId = vocab.id(unk) else { throw err("model.unk_token", "\(quoted(unk)) is not in the vocabulary") }
            return (.wordPiece(WordPieceModel(vocab: vocab, unkId: Int32(unkId),
                                              prefix: o["continuing_subword_prefix"]?.stringValue ?? "##",
                                              maxInputCharsPerWord: o["max_input_chars_per_word"]?.intValue ?? 100)), vocab)
        default:
            throw err("model", "unsupported model type \"\(t)\" (supported: BPE, WordPiece)")
        }
    }

    /// Builds the BPE tables; a merge naming a token missing from the vocabulary is an error (as in HF).
    static func buildBPE(vocab: Vocabulary, merges: [(String, String)], byteLevel: Bool, unkToken: String?,
                         fuseUnk: Bool, byteFallback: Bool, ignoreMerges: Bool, prefix: String?, suffix: String?,
                         _ err: TokenizerErrorContext) throws -> BPEModel {
        var table = PairTable(capacity: merges.count)
        let prefixBytes = Array((prefix ?? "").utf8)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab.id(a) else { throw err("model.merges[\(rank)]", "token \(quoted(a)) is not in the vocabulary") }
            guard let ib = vocab.id(b) else { throw err("model.merges[\(rank)]", "token \(quoted(b)) is not in the vocabulary") }
            // HF: the merged token is a + b without b's continuing-subword prefix.
            let bb = Array(b.utf8)
            let merged = a + (!prefixBytes.isEmpty && bb.starts(with: prefixBytes) ? String(decoding: bb[prefixBytes.count...], as: UTF8.self) : b)
            guard let im = vocab.id(merged) else { throw err("model.merges[\(rank)]", "merged token \(quoted(merged)) is not in the vocabulary") }
            table.insert(Int32(ia), Int32(ib), rank: UInt32(rank), newId: Int32(im))
        }
        var byteIds = [Int32](repeating: -1, count: 256)
        var fallback = [Int32](repeating: -1, count: 256)
        var charIds: [UInt32: Int32] = [:]
        var raw = BytesTable(capacity: vocab.count)
        for b in 0..<256 {
            let ch = String(Unicode.Scalar(ByteLevelAlphabet.byteToScalar[b])!)
            if let id = vocab.id(ch) { byteIds[b] = Int32(id) }
            if let id = vocab.id(String(format: "<0x%02X>", b)) { fallback[b] = Int32(id) }
        }
        for (tok, id) in vocab.entries {
            let scal = tok.unicodeScalars
            if scal.count == 1 { charIds[scal.first!.value] = Int32(id) }
            if byteLevel {
                if let bytes = ByteLevelAlphabet.decode(tok) { raw.insert(bytes, (Int32(id), 0)) }
            } else {
                raw.insert(Array(tok.utf8), (Int32(id), 0))
            }
        }
        var unkId: Int32? = nil
        if let u = unkToken {
            guard let id = vocab.id(u) else { throw err("model.unk_token", "\(quoted(u)) is not in the vocabulary") }
            unkId = Int32(id)
        }
        return BPEModel(byteIds: byteIds, charIds: charIds, fallbackIds: fallback, byteLevel: byteLevel,
                        byteFallback: byteFallback, unkId: unkId, fuseUnk: fuseUnk, ignoreMerges: ignoreMerges,
                        rawVocab: UncheckedSendable(raw), merges: table, prefix: prefix, suffix: suffix, vocab: vocab)
    }

    // MARK: Post-processors

    static func parsePostProcessor(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> PostProcessor {
        let (t, o) = try typeName(v, err, c)
        func idOf(_ pair: JSON?, _ what: String) throws -> [TemplatePiece] {
            // BertProcessing / RobertaProcessing store [token, id].
            guard let a = pair?.arrayValue, a.count == 2, let id = a[1].intValue, let id32 = Int32(exactly: id), id32 >= 0 else {
                throw err(c, "\(what) must be [token, id] with a token id (0..<2^31)")
            }
            return [.special([id32])]
        }
        switch t {
        case "TemplateProcessing":
            guard let single = o["single"]?.arrayValue else { throw err(c, "TemplateProcessing needs \"single\"") }
            let specials = o["special_tokens"]?.objectValue ?? JSONObject()
            var pieces: [TemplatePiece] = []
            for (i, item) in single.enumerated() {
                let ci = "\(c).single[\(i)]"
                guard let io = item.objectValue else { throw err(ci, "not an object") }
                if let seq = io["Sequence"]?.objectValue {
                    guard seq["id"]?.stringValue == "A" else { throw err(ci, "a single-sequence template can only hold sequence A") }
                    pieces.append(.sequence)
                } else if let sp = io["SpecialToken"]?.objectValue, let name = sp["id"]?.stringValue {
                    guard let entry = specials[name]?.objectValue, let ids = entry["ids"]?.arrayValue else {
                        throw err(ci, "special token \(quoted(name)) is missing from special_tokens")
                    }
                    var out: [Int32] = []
                    for x in ids {
                        guard let id = x.intValue, let id32 = Int32(exactly: id), id32 >= 0 else {
                            throw err(ci, "special token ids must be integers in 0..<2^31")
                        }
                        out.append(id32)
                    }
                    pieces.append(.special(out))
                } else {
                    throw err(ci, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}")
                }
            }
            return PostProcessor(single: pieces)
        case "BertProcessing", "RobertaProcessing":
            return PostProcessor(single: try idOf(o["cls"], "cls") + [.sequence] + idOf(o["sep"], "sep"))
        case "ByteLevel":
            return PostProcessor(single: nil)
        case "Sequence":
            guard let arr = o["processors"]?.arrayValue else { throw err(c, "Sequence needs \"processors\"") }
            return PostProcessor.sequence(try arr.enumerated().map { try parsePostProcessor($1, err, "\(c).processors[\($0)]") })
        default:
            throw err(c, "unsupported post-processor type \"\(t)\" (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)")
        }
    }

    // MARK: Decoders

    static func parseDecoder(_ v: JSON, _ err: TokenizerErrorContext, _ c: String) throws -> TokenDecoder {
        let (t, o) = try typeName(v, err, c)
        switch t {
        case "Sequence":
            guard let arr = o["decoders"]?.arrayValue else { throw err(c, "Sequence needs \"decoders\"") }
            var steps: [DecoderStep] = []
            for (i, d) in arr.enumerated() { steps += try parseDecoder(d, err, "\(c).decoders[\(i)]").steps }
            return TokenDecoder(steps: steps)
        case "ByteLevel": return TokenDecoder(steps: [.byteLevel])
        case "ByteFallback": return TokenDecoder(steps: [.byteFallback])
        case "Fuse": return TokenDecoder(steps: [.fuse])
        case "Metaspace":
            let rep = try singleScalar(o["replacement"]?.stringValue ?? "\u{2581}", err, c)
            var scheme = PrependScheme.always
            if let s = o["prepend_scheme"]?.stringValue {
                guard let ps = PrependScheme(rawValue: s) else { throw err(c, "unknown prepend_scheme \"\(s)\"") }
                scheme = ps
            } else if let add = o["add_prefix_space"]?.boolValue {
                scheme = add ? .always : .never
            }
            return TokenDecoder(steps: [.metaspace(replacement: rep, prependScheme: scheme)])
        case "Strip":
            let content = try singleScalar(try string(o, "content", err, c), err, c)
            return TokenDecoder(steps: [.strip(content: content, start: o["start"]?.intValue ?? 0, stop: o["stop"]?.intValue ?? 0)])
        case "Replace":
            let (p, isRegex) = try pattern(o, err, c)
            if isRegex { throw err(c, "Replace with a Regex pattern is not supported (only {\"String\": ...})") }
            return TokenDecoder(steps: [.replace(pattern: p, content: try string(o, "content", err, c))])
        case "WordPiece":
            return TokenDecoder(steps: [.wordPiece(prefix: o["prefix"]?.stringValue ?? "##", cleanup: o["cleanup"]?.boolValue ?? true)])
        case "BPEDecoder":
            return TokenDecoder(steps: [.bpe(suffix: o["suffix"]?.stringValue ?? "</w>")])
        default:
            throw err(c, "unsupported decoder type \"\(t)\" (supported: Sequence, ByteLevel, ByteFallback, Fuse, Metaspace, Strip, Replace, WordPiece, BPEDecoder)")
        }
    }

    // MARK: - vocab.json + merges.txt

    /// A GPT-2 style directory: byte-level BPE (GPT-2 split regex), ByteLevel decoder, no special-token
    /// template; the tokens named in tokenizer_config.json / special_tokens_map.json become special added
    /// tokens (as transformers' GPT2Tokenizer registers them).
    static func loadVocabMerges(vocabPath: String, mergesPath: String, directory: String) throws -> Tokenizer {
        let err = TokenizerErrorContext(source: vocabPath)
        guard let vo = try readJSON(vocabPath, "vocab.json").objectValue else { throw err("vocab.json", "not an object {token: id}") }
        var vocab = Vocabulary(capacity: vo.count)
        for (k, v) in zip(vo.keys, vo.values) {
            guard let id = v.intValue, id >= 0 else { throw err("vocab.json", "the id of \(quoted(k)) is not a non-negative integer") }
            // ids index dense tables: one far beyond the vocabulary's size is an error, not a giant allocation
            guard id < vo.count + Vocabulary.maxIdGap else {
                throw err("vocab.json", "the id \(id) of \(quoted(k)) is far beyond the vocabulary's \(vo.count) entries")
            }
            vocab.add(k, id)
        }
        guard let mdata = FileManager.default.contents(atPath: mergesPath) else {
            throw TokenizerError(mergesPath, "merges.txt", "cannot read the file")
        }
        let merr = TokenizerErrorContext(source: mergesPath)
        var merges: [(String, String)] = []
        for (i, line) in [UInt8](mdata).split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var l = Array(line)
            if l.last == 0x0D { l.removeLast() }
            if i == 0 && l.starts(with: Array("#version".utf8)) { continue }
            if l.isEmpty { continue }
            guard let pair = splitMerge(l) else {
                throw merr("merges.txt line \(i + 1)", "\(quoted(String(decoding: l, as: UTF8.self))) is not two tokens separated by one space")
            }
            merges.append(pair)
        }
        let model = try buildBPE(vocab: vocab, merges: merges, byteLevel: true, unkToken: nil, fuseUnk: false,
                                 byteFallback: false, ignoreMerges: false, prefix: nil, suffix: nil, merr)
        var parts = Tokenizer.Parts(source: directory, normalizer: nil,
                                    preTokenizer: PreTokenizer(steps: [.byteLevel(addPrefixSpace: false, useRegex: true)]),
                                    model: .bpe(model), postProcessor: nil, decoder: TokenDecoder(steps: [.byteLevel]),
                                    addedTokens: [], vocab: vocab)
        try readConfig(directory: directory, into: &parts)
        var added: [AddedToken] = []
        for t in [parts.bosToken, parts.eosToken, parts.unkToken, parts.padToken].compactMap({ $0 }) {
            guard let id = vocab.id(t), !added.contains(where: { $0.content.utf8.elementsEqual(t.utf8) }) else { continue }
            added.append(AddedToken(id: Int32(id), content: t, singleWord: false, lstrip: false, rstrip: false,
                                    normalized: false, special: true))
        }
        parts.addedTokens = added
        return Tokenizer(parts)
    }
}
