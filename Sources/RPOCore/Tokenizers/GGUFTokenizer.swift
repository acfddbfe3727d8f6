// Tokenizers from GGUF metadata (`tokenizer.ggml.*`, read with GGUFFile), built as the equivalent HF
// pipeline:
// * model `gpt2`: byte-level BPE with the file's merges; the pre-tokenizer named by `tokenizer.ggml.pre` as
//   llama.cpp defines it (src/llama-vocab.cpp): gpt2/default -> GPT-2 regex; smollm (and starcoder, refact)
//   -> each \p{N} alone, then the GPT-2 regex; llama-bpe/llama3 -> the Llama-3 regex with ignore_merges;
//   qwen2 -> the Qwen2 regex. Any other name is an error.
// * model `llama` (SentencePiece-BPE with scores, llama.cpp's SPM tokenizer): merges of every split (a, b) of
//   a token whose parts are tokens, ranked by the merged token's score (higher first; equal scores tie, so
//   the leftmost pair wins, as llama.cpp's bigram queue does); byte fallback; "▁" prepended
//   (add_space_prefix) and spaces replaced by "▁", the hub Llama-2 tokenizer.json form.
// Control (type 3) and unknown (type 2) tokens are special added tokens, user-defined ones (type 4) plain
// added tokens; add_bos_token / add_eos_token become the post-processor template.
import Foundation

extension Tokenizer {
    static func loadGGUF(path: String) throws -> Tokenizer {
        let err = TokenizerErrorContext(source: path)
        let md: GGUFMetadata
        do { md = try GGUFFile(path: path).metadata } catch { throw err("gguf", "\(error)") }
        func get<T>(_ key: String, _ f: () throws -> T) throws -> T {
            do { return try f() } catch { throw err(key, "\(error)") }
        }
        let modelName = try get("tokenizer.ggml.model") { try md.string("tokenizer.ggml.model") }
        let tokens = try get("tokenizer.ggml.tokens") { try md.stringArray("tokenizer.ggml.tokens") }
        let types: [Int] = md.contains("tokenizer.ggml.token_type")
            ? try get("tokenizer.ggml.token_type") { try md.intArray("tokenizer.ggml.token_type") }
            : [Int](repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw err("tokenizer.ggml.token_type", "\(types.count) types for \(tokens.count) tokens")
        }
        var vocab = Vocabulary(capacity: tokens.count)
        for (i, t) in tokens.enumerated() { vocab.add(t, i) }
        func optInt(_ k: String) throws -> Int? { md.contains(k) ? try get(k) { try md.int(k) } : nil }
        let bos = try optInt("tokenizer.ggml.bos_token_id"), eos = try optInt("tokenizer.ggml.eos_token_id")
        let unk = try optInt("tokenizer.ggml.unknown_token_id"), pad = try optInt("tokenizer.ggml.padding_token_id")
        for (k, v) in [("bos", bos), ("eos", eos), ("unknown", unk), ("padding", pad)] {
            if let v, v < 0 || v >= tokens.count { throw err("tokenizer.ggml.\(k)_token_id", "\(v) is outside the vocabulary of \(tokens.count)") }
        }
        var added: [AddedToken] = []
        for (i, ty) in types.enumerated() where ty == 2 || ty == 3 || ty == 4 {
            added.append(AddedToken(id: Int32(i), content: tokens[i], singleWord: false, lstrip: false, rstrip: false,
                                    normalized: false, special: ty != 4))
        }

        var normalizer: Normalizer? = nil
        let preTokenizer: PreTokenizer?
        let model: TokenModel
        let decoder: TokenDecoder
        let addBosDefault: Bool
        switch modelName {
        case "gpt2":
            let mergeLines = try get("tokenizer.ggml.merges") { try md.stringArray("tokenizer.ggml.merges") }
            var merges: [(String, String)] = []
            merges.reserveCapacity(mergeLines.count)
            for (i, m) in mergeLines.enumerated() {
                guard let pair = splitMerge(Array(m.utf8)) else { throw err("tokenizer.ggml.merges[\(i)]", "\(quoted(m)) is not two tokens separated by one space") }
                merges.append(pair)
            }
            let pre = try get("tokenizer.ggml.pre") { try md.string("tokenizer.ggml.pre", default: "default") }
            var ignoreMerges = false
            switch pre {
            case "default", "gpt2", "gpt-2":
                preTokenizer = PreTokenizer(steps: [.byteLevel(addPrefixSpace: false, useRegex: true)])
            case "smollm", "starcoder", "refact":
                preTokenizer = PreTokenizer(steps: [.chars(.numeric, .isolated), .byteLevel(addPrefixSpace: false, useRegex: true)])
            case "llama-bpe", "llama3", "llama-v3":
                preTokenizer = PreTokenizer(steps: [.split(.llama3(maxDigits: 3), .isolated, invert: false),
                                                    .byteLevel(addPrefixSpace: false, useRegex: false)])
                ignoreMerges = true
            case "qwen2":
                preTokenizer = PreTokenizer(steps: [.split(.llama3(maxDigits: 1), .isolated, invert: false),
                                                    .byteLevel(addPrefixSpace: false, useRegex: false)])
            default:
                throw err("tokenizer.ggml.pre", "unsupported pre-tokenizer \(quoted(pre)) (supported: default, gpt2, smollm, starcoder, refact, llama-bpe, llama3, qwen2)")
            }
            model = .bpe(try buildBPE(vocab: vocab, merges: merges, byteLevel: true, unkToken: nil, fuseUnk: false,
                                      byteFallback: false, ignoreMerges: ignoreMerges, prefix: nil, suffix: nil, err))
            decoder = TokenDecoder(steps: [.byteLevel])
            addBosDefault = false
        case "llama":
            let scores = try get("tokenizer.ggml.scores") { try md.floatArray("tokenizer.ggml.scores") }
            guard scores.count == tokens.count else { throw err("tokenizer.ggml.scores", "\(scores.count) scores for \(tokens.count) tokens") }
            model = .bpe(try buildSPM(vocab: vocab, tokens: tokens, scores: scores, unkId: unk, err))
            if try get("tokenizer.ggml.add_space_prefix", { try md.bool("tokenizer.ggml.add_space_prefix", default: true) }) {
                normalizer = Normalizer(steps: [.prepend(Array("\u{2581}".utf8)), .replace(pattern: [0x20], content: Array("\u{2581}".utf8))])
            } else {
                normalizer = Normalizer(steps: [.replace(pattern: [0x20], content: Array("\u{2581}".utf8))])
            }
            preTokenizer = nil
            decoder = TokenDecoder(steps: [.replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse, .strip(content: " ", start: 1, stop: 0)])
            addBosDefault = true
        default:
            throw err("tokenizer.ggml.model", "unsupported tokenizer model \(quoted(modelName)) (supported: gpt2, llama)")
        }
        var template: [TemplatePiece] = []
        if try get("tokenizer.ggml.add_bos_token", { try md.bool("tokenizer.ggml.add_bos_token", default: addBosDefault) }) {
            guard let bos else { throw err("tokenizer.ggml.add_bos_token", "set, but there is no bos_token_id") }
            template.append(.special([Int32(bos)]))
        }
        template.append(.sequence)
        if try get("tokenizer.ggml.add_eos_token", { try md.bool("tokenizer.ggml.add_eos_token", default: false) }) {
            guard let eos else { throw err("tokenizer.ggml.add_eos_token", "set, but there is no eos_token_id") }
            template.append(.special([Int32(eos)]))
        }
        let chat = md.contains("tokenizer.chat_template") ? try get("tokenizer.chat_template") { try md.string("tokenizer.chat_template") } : nil
        // The model's context length, for tokenizer_config.json's model_max_length when exported.
        var maxLength: Int? = nil
        if md.contains("general.architecture"), let arch = try? md.string("general.architecture"),
           md.contains("\(arch).context_length") {
            maxLength = try get("\(arch).context_length") { try md.int("\(arch).context_length") }
        }
        let parts = Tokenizer.Parts(source: path, normalizer: normalizer, preTokenizer: preTokenizer, model: model,
                                    postProcessor: PostProcessor(single: template), decoder: decoder, addedTokens: added,
                                    vocab: vocab, bosToken: nil, eosToken: nil, padToken: nil, unkToken: nil,
                                    bosId: bos, eosId: eos, padId: pad, unkId: unk, chatTemplate: chat,
                                    modelMaxLength: maxLength)
        return Tokenizer(parts)
    }

    /// SentencePiece-BPE merges from scores: every split of every token into two tokens, ranked by the
    /// token's score (dense rank, highest score first).
    static func buildSPM(vocab: Vocabulary, tokens: [String], scores: [Float], unkId: Int?,
                         _ err: TokenizerErrorContext) throws -> BPEModel {
        let distinct = Array(Set(scores)).sorted(by: >)
        var rankOf: [Float: UInt32] = [:]
        for (r, s) in distinct.enumerated() { rankOf[s] = UInt32(r) }
        var table = PairTable(capacity: tokens.count * 4)
        for (id, t) in tokens.enumerated() {
            let b = Array(t.utf8)
            guard b.count > 1 else { continue }
            let rank = rankOf[scores[id]]!
            var k = utf8Length(lead: b[0])
            while k < b.count {
                if let ia = vocab.id(bytes: Array(b[..<k])), let ib = vocab.id(bytes: Array(b[k...])) {
                    table.insert(Int32(ia), Int32(ib), rank: rank, newId: Int32(id))
                }
                k += utf8Length(lead: b[k])
            }
        }
        var fallback = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { if let id = vocab.id(String(format: "<0x%02X>", b)) { fallback[b] = Int32(id) } }
        var charIds: [UInt32: Int32] = [:]
        var raw = BytesTable(capacity: tokens.count)
        for (id, t) in tokens.enumerated() {
            let sc = t.unicodeScalars
            if sc.count == 1, charIds[sc.first!.value] == nil { charIds[sc.first!.value] = Int32(id) }
            raw.insert(Array(t.utf8), (Int32(id), 0))
        }
        return BPEModel(byteIds: [Int32](repeating: -1, count: 256), charIds: charIds, fallbackIds: fallback,
                        byteLevel: false, byteFallback: true, unkId: unkId.map(Int32.init), fuseUnk: true,
                        ignoreMerges: false, rawVocab: UncheckedSendable(raw), merges: table, prefix: nil, suffix: nil,
                        vocab: vocab)
    }
}
