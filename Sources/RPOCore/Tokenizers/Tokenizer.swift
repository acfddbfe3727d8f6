// The tokenizer: added-token split -> normalizer -> pre-tokenizer -> model -> post-processor, and the
// decoder back. `encode` reproduces HF `tokenizer(text)["input_ids"]` / `Tokenizer.encode(text,
// add_special_tokens=...)` without padding or truncation (callers truncate); `decode` reproduces HF `decode`.
// Loading lives in TokenizerLoading.swift (tokenizer.json, vocab.json + merges.txt) and GGUFTokenizer.swift.
// Reference: huggingface/tokenizers tokenizers/src/tokenizer/mod.rs (`encode_single_sequence`, `decode`).
import Foundation

enum TokenModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)
}

/// Working memory of one encoding thread; tokenizers keep a pool so that concurrent calls never share one.
final class EncodeScratch {
    var pieces = Pieces()
    var pre = PreTokenizerScratch()
    var bpe = BPEScratch()
    var segments: [Segment] = []
    var subSegments: [Segment] = []
    var ids: [Int32] = []
}

public final class Tokenizer: @unchecked Sendable {
    /// Where the tokenizer was loaded from.
    public let source: String
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: TokenModel
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    let added: AddedVocabulary
    /// Model vocabulary by id ("" for ids the model lacks).
    let modelTokens: [String?]
    let vocab: Vocabulary
    let addedById: [Int32: Int]
    let specialIds: Set<Int>

    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let padTokenId: Int?
    public let unkTokenId: Int?
    public let bosToken: String?
    public let eosToken: String?
    /// The Jinja chat template (tokenizer_config.json, chat_template.jinja or GGUF metadata).
    public let chatTemplate: String?
    /// The longest input the model takes (tokenizer_config.json `model_max_length`, or the GGUF's
    /// `<arch>.context_length`), nil when unknown.
    public let modelMaxLength: Int?
    /// The post-processor as tokenizer.json wrote it (kept for export: the parsed form keeps only the
    /// single-sequence template), nil for tokenizers from other sources.
    let postProcessorJSON: JSON?

    private let poolLock = NSLock()
    private var pool: [EncodeScratch] = []

    struct Parts {
        var source: String
        var normalizer: Normalizer?
        var preTokenizer: PreTokenizer?
        var model: TokenModel
        var postProcessor: PostProcessor?
        var decoder: TokenDecoder?
        var addedTokens: [AddedToken]
        var vocab: Vocabulary
        var bosToken: String?, eosToken: String?, padToken: String?, unkToken: String?
        var bosId: Int?, eosId: Int?, padId: Int?, unkId: Int?
        var chatTemplate: String?
        var modelMaxLength: Int?
        var postProcessorJSON: JSON?
    }

    init(_ p: Parts) {
        source = p.source
        normalizer = p.normalizer
        preTokenizer = p.preTokenizer
        model = p.model
        postProcessor = p.postProcessor
        decoder = p.decoder
        added = AddedVocabulary(tokens: p.addedTokens, normalizer: p.normalizer)
        vocab = p.vocab
        var mt = p.vocab.tokens
        for t in p.addedTokens where Int(t.id) >= mt.count { mt += [String?](repeating: nil, count: Int(t.id) + 1 - mt.count) }
        modelTokens = mt
        var byId: [Int32: Int] = [:]
        for (k, t) in p.addedTokens.enumerated() { byId[t.id] = k }
        addedById = byId
        specialIds = Set(p.addedTokens.filter { $0.special }.map { Int($0.id) })
        chatTemplate = p.chatTemplate
        modelMaxLength = p.modelMaxLength
        postProcessorJSON = p.postProcessorJSON
        func resolve(_ token: String?, _ id: Int?) -> (String?, Int?) {
            if let id { return (token ?? Self.lookupToken(id, byId, p.addedTokens, mt), id) }
            guard let token else { return (nil, nil) }
            if let k = p.addedTokens.firstIndex(where: { $0.content.utf8.elementsEqual(token.utf8) }) { return (token, Int(p.addedTokens[k].id)) }
            return (token, p.vocab.id(token))
        }
        (bosToken, bosTokenId) = resolve(p.bosToken, p.bosId)
        (eosToken, eosTokenId) = resolve(p.eosToken, p.eosId)
        padTokenId = resolve(p.padToken, p.padId).1
        unkTokenId = resolve(p.unkToken, p.unkId).1
    }

    static func lookupToken(_ id: Int, _ byId: [Int32: Int], _ added: [AddedToken], _ mt: [String?]) -> String? {
        if let i = Int32(exactly: id), let k = byId[i] { return added[k].content }
        return id >= 0 && id < mt.count ? mt[id] : nil
    }

    // MARK: - Vocabulary

    /// The number of ids: one more than the largest id of the model vocabulary and the added tokens (the
    /// size an embedding table needs).
    public var vocabularySize: Int { modelTokens.count }

    /// The id of a token string (added tokens first, then the model vocabulary).
    public func tokenId(_ token: String) -> Int? {
        if let t = added.tokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) }) { return Int(t.id) }
        return vocab.id(token)
    }

    /// The string of a token id, as the vocabulary spells it (e.g. `Ġthe` for byte-level BPE).
    public func token(_ id: Int) -> String? { Self.lookupToken(id, addedById, added.tokens, modelTokens) }

    /// True when `id` is a special added token (what `skipSpecialTokens` removes).
    public func isSpecial(_ id: Int) -> Bool { specialIds.contains(id) }

    // MARK: - Encoding

    /// Token ids of `text`, exactly HF `encode(text, add_special_tokens=...)` without padding/truncation.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        let s = takeScratch()
        defer { giveBack(s) }
        encode(text, addSpecialTokens: addSpecialTokens, s)
        return s.ids.map { Int($0) }
    }

    /// Encodes many texts over all cores (`Parallel.threads`); the result is in input order.
    public func encode(batch texts: [String], addSpecialTokens: Bool = true) -> [[Int]] {
        var results = [[Int]](repeating: [], count: texts.count)
        let threads = min(Parallel.threads, texts.count)
        if threads <= 1 {
            for (i, t) in texts.enumerated() { results[i] = encode(t, addSpecialTokens: addSpecialTokens) }
            return results
        }
        // Work is handed out in small chunks from a shared counter, so uneven text lengths balance out.
        let next = UncheckedSendable(NSLock())
        nonisolated(unsafe) var cursor = 0
        let chunk = max(1, min(64, texts.count / (threads * 8)))
        results.withUnsafeMutableBufferPointer { out in
            let outBox = UncheckedSendable(out)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                let s = self.takeScratch()
                defer { self.giveBack(s) }
                while true {
                    next.value.lock()
                    let lo = cursor
                    cursor += chunk
                    next.value.unlock()
                    if lo >= texts.count { break }
                    for i in lo..<min(lo + chunk, texts.count) {
                        self.encode(texts[i], addSpecialTokens: addSpecialTokens, s)
                        outBox.value[i] = s.ids.map { Int($0) }
                    }
                }
            }
        }
        return results
    }

    func takeScratch() -> EncodeScratch {
        poolLock.lock()
        defer { poolLock.unlock() }
        return pool.popLast() ?? EncodeScratch()
    }

    func giveBack(_ s: EncodeScratch) {
        poolLock.lock()
        if pool.count < 16 { pool.append(s) }
        poolLock.unlock()
    }

    /// Leaves the ids in `s.ids`.
    func encode(_ text: String, addSpecialTokens: Bool, _ s: EncodeScratch) {
        s.ids.removeAll(keepingCapacity: true)
        var text = text
        text.withUTF8 { buf in
            let base = buf.baseAddress ?? UnsafePointer(bitPattern: 1)!
            s.segments.removeAll(keepingCapacity: true)
            added.split(base, 0, buf.count, added.raw, into: &s.segments)
            for seg in s.segments {
                switch seg {
                case .token(let id): s.ids.append(id)
                case .text(let span):
                    if normalizer == nil && added.normalized.isEmpty {
                        encodeText(base, Int(span.start), Int(span.end), atStart: span.start == 0, s)
                    } else {
                        let raw = Array(UnsafeBufferPointer(start: base + Int(span.start), count: Int(span.end - span.start)))
                        let norm = normalizer?.apply(raw) ?? raw
                        norm.withUnsafeBufferPointer { nb in
                            let nbase = nb.baseAddress ?? UnsafePointer(bitPattern: 1)!
                            s.subSegments.removeAll(keepingCapacity: true)
                            added.split(nbase, 0, nb.count, added.normalized, into: &s.subSegments)
                            for sub in s.subSegments {
                                switch sub {
                                case .token(let id): s.ids.append(id)
                                case .text(let sp):
                                    encodeText(nbase, Int(sp.start), Int(sp.end), atStart: span.start == 0 && sp.start == 0, s)
                                }
                            }
                        }
                    }
                }
            }
        }
        if addSpecialTokens, let pp = postProcessor {
            s.ids = pp.apply(s.ids)
        }
    }

    /// Pre-tokenizes `p[start..<end]` and runs the model on each piece, appending to `s.ids`.
    func encodeText(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, atStart: Bool, _ s: EncodeScratch) {
        if start == end { return }
        s.pieces.reset()
        s.pieces.bytes.append(contentsOf: UnsafeBufferPointer(start: p + start, count: end - start))
        s.pieces.spans.append(ByteSpan(0, end - start))
        s.pieces.atStart.append(atStart)
        preTokenizer?.apply(&s.pieces, &s.pre)
        s.pieces.bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            switch model {
            case .bpe(let m):
                for sp in s.pieces.spans { m.encode(base, Int(sp.start), Int(sp.end), &s.ids, &s.bpe) }
            case .wordPiece(let m):
                for sp in s.pieces.spans { m.encode(base, Int(sp.start), Int(sp.end), &s.ids) }
            }
        }
    }

    // MARK: - Decoding

    /// Text of `ids`, exactly HF `decode(ids, skip_special_tokens=...)`: unknown ids are skipped, added
    /// tokens decode to their content, then the decoder runs (tokens joined by spaces when there is none).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let t = token(id) else { continue }
            if skipSpecialTokens && specialIds.contains(id) { continue }
            tokens.append(t)
        }
        if let d = decoder { return d.decode(tokens) }
        return tokens.joined(separator: " ")
    }
}
