// A sentence encoder as sentence-transformers runs it (`SentenceTransformer(dir).encode(texts)`): tokenize
// and truncate to max_seq_length word-pieces, BERT, pooling, optional Dense layers and L2 normalisation.
// Loaded from a sentence-transformers directory (modules.json, sentence_bert_config.json, 1_Pooling/...) or
// a plain Hugging Face BERT directory (mean pooling, no normalisation: what sentence-transformers builds
// for one). Batches are cut into chunks of whole sequences, longest first, that the cores take in turn,
// each running the whole encoder on its chunk with single-threaded sgemm: no padding, no thread barriers.
// Reference: sentence-transformers 6.2.0 base/modules/transformer.py (truncation "longest_first" at
// tokenizer.model_max_length = max_seq_length), base/model.py (modules.json).
import Foundation

public final class SentenceEncoder: @unchecked Sendable {
    /// The directory the encoder was loaded from.
    public let directory: String
    public let model: BERTModel
    public let tokenizer: Tokenizer
    /// Longest input in word-pieces, special tokens included (longer inputs keep their start).
    public let maxSeqLength: Int
    /// sentence_bert_config.json's do_lower_case: lower-case texts before tokenizing.
    public let doLowerCase: Bool
    public let pooling: [PoolingMode]
    public let dense: [DenseLayer]
    public let normalize: Bool
    /// Tokens per chunk of work (one core runs one chunk at a time). Larger chunks make larger sgemms (the
    /// weights are packed once per sgemm: measured CPU time falls from 256 to 2,048 tokens), smaller ones
    /// balance the cores better on small batches (the budget also shrinks to give every core a chunk).
    public var chunkTokens = 2048
    /// The modules as loaded, e.g. ["Transformer", "Pooling(mean)", "Normalize"], for reports.
    public let moduleNames: [String]

    /// Special tokens the post-processor adds around a sequence ([CLS] ... [SEP]: 2).
    let specialCount: Int
    private let poolLock = NSLock()
    private var workspaces: [BERTWorkspace] = []
    /// One encode at a time per process: the thread settings of OpenBLAS and `Parallel` are global.
    private static let runLock = NSLock()

    /// Width of the pooled vector (before any Dense layer).
    public var pooledDimension: Int { pooling.count * model.config.hiddenSize }
    /// Width of the embeddings `encode` returns.
    public var dimension: Int { dense.last?.outFeatures ?? pooledDimension }

    init(directory: String, model: BERTModel, tokenizer: Tokenizer, maxSeqLength: Int, doLowerCase: Bool,
         pooling: [PoolingMode], dense: [DenseLayer], normalize: Bool, moduleNames: [String]) throws {
        self.directory = directory; self.model = model; self.tokenizer = tokenizer
        self.maxSeqLength = maxSeqLength; self.doLowerCase = doLowerCase; self.pooling = pooling
        self.dense = dense; self.normalize = normalize; self.moduleNames = moduleNames
        specialCount = tokenizer.postProcessor?.apply([]).count ?? 0
        if maxSeqLength <= specialCount {
            throw BERTError(directory, "max_seq_length \(maxSeqLength) leaves no room for text next to \(specialCount) special tokens")
        }
        var width = pooledDimension
        for d in dense {
            if d.inFeatures != width { throw BERTError(directory, "a Dense module takes \(d.inFeatures) features but receives \(width)") }
            width = d.outFeatures
        }
    }

    // MARK: - Tokenization

    /// Token ids of each text as sentence-transformers feeds them to the model: special tokens added, at
    /// most `maxSeqLength` ids (HF truncation "longest_first" of a single sequence keeps the first
    /// maxSeqLength - specials text tokens, then the post-processor adds [CLS] and [SEP]).
    public func tokenize(_ texts: [String]) -> [[Int32]] { tokenizeCountingTruncated(texts).ids }

    /// `tokenize`, and how many of the texts were truncated.
    public func tokenizeCountingTruncated(_ texts: [String]) -> (ids: [[Int32]], truncated: Int) {
        let prepared = doLowerCase ? texts.map { $0.lowercased() } : texts
        let keep = maxSeqLength - specialCount
        var truncated = 0
        let ids = tokenizer.encode(batch: prepared, addSpecialTokens: false).map { ids in
            if ids.count > keep { truncated += 1 }
            let body = ids.prefix(keep).map { Int32($0) }
            return tokenizer.postProcessor?.apply(body) ?? body
        }
        return (ids, truncated)
    }

    // MARK: - Encoding

    /// Embeddings of `texts`, row-major (texts.count, dimension).
    public func encode(_ texts: [String]) -> [Float] { encodeChecked(tokenize(texts)) }

    /// Embeddings of already tokenized inputs, row-major (count, dimension). The ids must be what `tokenize`
    /// makes: at most `maxSeqLength` of them, each below the model's vocab_size.
    public func encode(tokenized seqs: [[Int32]]) throws -> [Float] {
        let V = model.config.vocabSize
        for (i, s) in seqs.enumerated() {
            if s.count > maxSeqLength {
                throw BERTError(directory, "input \(i) has \(s.count) token ids, more than max_seq_length \(maxSeqLength)")
            }
            if let bad = s.first(where: { $0 < 0 || Int($0) >= V }) {
                throw BERTError(directory, "input \(i) has token id \(bad), outside the vocabulary of \(V)")
            }
        }
        return encodeChecked(seqs)
    }

    /// `encode(tokenized:)` of ids known to be valid.
    package func encodeChecked(_ seqs: [[Int32]]) -> [Float] {
        let B = seqs.count, P = pooledDimension, C = model.config.hiddenSize
        var pooled = [Float](repeating: 0, count: B * P)
        if B == 0 { return [] }
        let chunks = SentenceEncoder.chunks(lengths: seqs.map(\.count), budget: chunkTokens, workers: Parallel.threads)
        let maxLen = seqs.map(\.count).max() ?? 0
        let capacity = max(chunks.map { $0.reduce(0) { $0 + seqs[$1].count } }.max() ?? 0, 1)

        SentenceEncoder.runLock.lock()
        defer { SentenceEncoder.runLock.unlock() }
        pooled.withUnsafeMutableBufferPointer { outBuf in
            let out = UncheckedSendable(outBuf.baseAddress!)
            let workers = min(Parallel.threads, chunks.count)
            // One chunk: keep the configured threading (multi-threaded sgemm). Several: one chunk per core.
            let savedParallel = Parallel.threads, savedBLAS = BLAS.threads
            if workers > 1 { Parallel.threads = 1; BLAS.setThreads(1) }
            defer { if workers > 1 { Parallel.threads = savedParallel; BLAS.setThreads(savedBLAS) } }
            let next = UncheckedSendable(NSLock())
            nonisolated(unsafe) var cursor = 0
            let body: (Int) -> Void = { _ in
                let ws = self.takeWorkspace(tokens: capacity, maxLength: maxLen)
                defer { self.giveBack(ws) }
                while true {
                    next.value.lock()
                    let k = cursor
                    cursor += 1
                    next.value.unlock()
                    if k >= chunks.count { break }
                    self.run(chunk: chunks[k], seqs, ws, out.value, P: P, C: C)
                }
            }
            if workers > 1 {
                let box = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
            } else {
                body(0)
            }
        }
        return finish(pooled, count: B)
    }

    /// Forward and pooling of one chunk of sequences into their rows of `out` (B, P).
    func run(chunk: [Int], _ seqs: [[Int32]], _ ws: BERTWorkspace, _ out: UnsafeMutablePointer<Float>, P: Int, C: Int) {
        ws.reserveSequences(chunk.count)
        var N = 0
        for (b, i) in chunk.enumerated() {
            ws.starts[b] = N
            ws.lengths[b] = seqs[i].count
            seqs[i].withUnsafeBufferPointer { (ws.tokens + N).update(from: $0.baseAddress!, count: $0.count) }
            N += seqs[i].count
        }
        model.forward(ws, tokens: ws.tokens, starts: ws.starts, lengths: ws.lengths, count: chunk.count)
        for (b, i) in chunk.enumerated() {
            let L = ws.lengths[b]
            if L == 0 { (out + i * P).update(repeating: 0, count: P); continue }
            PoolingMode.pool(out + i * P, ws.hidden + ws.starts[b] * C, L: L, C: C, modes: pooling)
        }
    }

    /// Dense layers and normalisation over all pooled rows (B, P) -> (B, dimension).
    func finish(_ pooled: [Float], count B: Int) -> [Float] {
        var x = pooled
        for d in dense {
            var y = [Float](repeating: 0, count: B * d.outFeatures)
            x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { d.forward($0.baseAddress!, xb.baseAddress!, N: B) } }
            x = y
        }
        if normalize {
            let D = dimension
            x.withUnsafeMutableBufferPointer { L2Normalize.rows($0.baseAddress!, N: B, D: D) }
        }
        return x
    }

    /// Sequences grouped into chunks of at most `budget` tokens (a longer sequence alone), longest first so
    /// that the cores finish together; the budget shrinks for small batches so every core gets work.
    static func chunks(lengths: [Int], budget: Int, workers: Int) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        let total = lengths.reduce(0, +)
        let perWorker = (total + max(workers, 1) - 1) / max(workers, 1)
        let cap = max(1, min(budget, max(perWorker, lengths.max() ?? 0)))
        var out: [[Int]] = []
        var cur: [Int] = [], tokens = 0
        for i in order {
            if !cur.isEmpty && tokens + lengths[i] > cap { out.append(cur); cur = []; tokens = 0 }
            cur.append(i); tokens += lengths[i]
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    func takeWorkspace(tokens: Int, maxLength: Int) -> BERTWorkspace {
        poolLock.lock()
        defer { poolLock.unlock() }
        if let k = workspaces.firstIndex(where: { $0.tokenCapacity >= tokens && $0.lengthCapacity >= maxLength }) {
            return workspaces.remove(at: k)
        }
        // Sized for the largest chunk this encoder will see, so that it is reused by later batches.
        let t = max(tokens, chunkTokens, maxSeqLength), l = max(maxLength, maxSeqLength)
        return BERTWorkspace(config: model.config, tokens: t, maxLength: l)
    }

    func giveBack(_ ws: BERTWorkspace) {
        poolLock.lock()
        workspaces.append(ws)
        poolLock.unlock()
    }

    // MARK: - Loading

    /// Loads a sentence-transformers directory (`modules.json`: Transformer, Pooling, optional Dense and
    /// Normalize, Dropout ignored) or a plain Hugging Face BERT directory (config.json, tokenizer.json,
    /// model.safetensors; mean pooling, no normalisation, as sentence-transformers builds it).
    public static func load(path: String) throws -> SentenceEncoder {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw BERTError(path, "no such model directory")
        }
        guard isDir.boolValue else {
            throw BERTError(path, "not a directory (expected a sentence-transformers or Hugging Face BERT model directory)")
        }
        func sub(_ rel: String) -> String { rel.isEmpty ? path : (path as NSString).appendingPathComponent(rel) }
        let modulesPath = sub("modules.json")
        var transformerDir: String?
        var pooling: [PoolingMode]?
        var dense: [DenseLayer] = []
        var normalize = false
        var names: [String] = []
        var poolingCheck: (String, Int)?
        if FileManager.default.fileExists(atPath: modulesPath) {
            guard let list = try readJSON(modulesPath).arrayValue else {
                throw BERTError(modulesPath, "modules.json must be a JSON array")
            }
            var modules: [(idx: Int, type: String, path: String)] = []
            for (k, m) in list.enumerated() {
                guard let o = m.objectValue, let type = o["type"]?.stringValue else {
                    throw BERTError(modulesPath, "module \(k) needs a string \"type\"")
                }
                modules.append((o["idx"]?.intValue ?? k, type, o["path"]?.stringValue ?? ""))
            }
            for m in modules.sorted(by: { $0.idx < $1.idx }) {
                let kind = m.type.split(separator: ".").last.map(String.init) ?? m.type
                let here = "module \(m.idx) (\(m.type))"
                switch kind {
                case "Transformer":
                    guard transformerDir == nil, names.isEmpty else { throw BERTError(modulesPath, "\(here) must be the first module") }
                    transformerDir = sub(m.path)
                case "Pooling":
                    guard transformerDir != nil, pooling == nil else { throw BERTError(modulesPath, "\(here) must follow the Transformer") }
                    let cfg = (sub(m.path) as NSString).appendingPathComponent("config.json")
                    let o = try readObject(cfg)
                    pooling = try PoolingMode.parse(o, source: cfg)
                    if let d = o["embedding_dimension"] ?? o["word_embedding_dimension"], !d.isNull {
                        guard let n = d.intValue else { throw BERTError(cfg, "the embedding dimension must be an integer") }
                        poolingCheck = (cfg, n)
                    }
                case "Dense":
                    guard pooling != nil, !normalize else {
                        throw BERTError(modulesPath, "\(here) must follow the Pooling module and precede Normalize")
                    }
                    dense.append(try DenseLayer.load(directory: sub(m.path)))
                case "Normalize":
                    guard pooling != nil else { throw BERTError(modulesPath, "\(here) must follow the Pooling module") }
                    let cfg = (sub(m.path) as NSString).appendingPathComponent("config.json")
                    if FileManager.default.fileExists(atPath: cfg),
                       let input = try readObject(cfg)["module_input_name"]?.stringValue, input != "sentence_embedding" {
                        throw BERTError(cfg, "Normalize on \"\(input)\" is not supported (only on the sentence embedding)")
                    }
                    normalize = true
                case "Dropout":
                    break  // identity at inference
                default:
                    throw BERTError(modulesPath, "\(here) is not supported (Transformer, Pooling, Dense, Normalize, Dropout)")
                }
                names.append(kind == "Pooling" ? "Pooling(\(pooling!.map(\.rawValue).joined(separator: "+")))" : kind)
            }
            guard transformerDir != nil else { throw BERTError(modulesPath, "no Transformer module") }
            guard pooling != nil else { throw BERTError(modulesPath, "no Pooling module (token embeddings are not produced)") }
        } else {
            transformerDir = path
            pooling = [.mean]
            names = ["Transformer", "Pooling(mean)"]
        }
        let tdir = transformerDir!

        // The transformer: config.json, weights, tokenizer, sentence_bert_config.json.
        let configPath = (tdir as NSString).appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw BERTError(configPath, "missing: a model directory needs config.json")
        }
        let config = try BERTConfig.decode(configData, source: configPath)
        if let (cfg, n) = poolingCheck, n != config.hiddenSize {
            throw BERTError(cfg, "the embedding dimension is \(n), the model's hidden_size \(config.hiddenSize)")
        }
        let ckpt: SafetensorsCheckpoint
        do { ckpt = try SafetensorsCheckpoint(path: tdir) } catch let e as IOError {
            throw BERTError(tdir, "no weights: \(e.message) (pytorch_model.bin is not read)")
        }
        try BERTModel.checkTensors(config, in: ckpt)  // before the parameters are allocated
        let model = BERTModel(config: config)
        try model.load(from: ckpt)
        let tokJSON = (tdir as NSString).appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokJSON) else {
            throw BERTError(tokJSON, "missing: the tokenizer is read from tokenizer.json (vocab.txt alone is not read)")
        }
        let tokenizer = try Tokenizer.load(path: tokJSON)
        if tokenizer.vocabularySize > config.vocabSize {
            throw BERTError(tokJSON, "the tokenizer has \(tokenizer.vocabularySize) ids, the model's vocab_size is \(config.vocabSize)")
        }
        var maxSeq: Int?
        var lower = false
        let sbertPath = (tdir as NSString).appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sbertPath) {
            let o = try readObject(sbertPath)
            if let v = o["max_seq_length"], !v.isNull {
                guard let n = v.intValue, n > 0 else { throw BERTError(sbertPath, "\"max_seq_length\" must be a positive integer") }
                maxSeq = n
            }
            lower = o["do_lower_case"]?.boolValue ?? false
        }
        if let m = maxSeq, m > config.maxPositions {
            throw BERTError(sbertPath, "max_seq_length \(m) exceeds the model's \(config.maxPositions) positions")
        }
        if maxSeq == nil {
            // sentence-transformers: the tokenizer's model_max_length capped at max_position_embeddings.
            maxSeq = config.maxPositions
            let tc = (tdir as NSString).appendingPathComponent("tokenizer_config.json")
            if FileManager.default.fileExists(atPath: tc), let m = try readObject(tc)["model_max_length"]?.intValue, m > 0 {
                maxSeq = min(m, config.maxPositions)
            }
        }
        return try SentenceEncoder(directory: path, model: model, tokenizer: tokenizer, maxSeqLength: maxSeq!,
                                   doLowerCase: lower, pooling: pooling!, dense: dense, normalize: normalize,
                                   moduleNames: names)
    }

    static func readJSON(_ path: String) throws -> JSON {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BERTError(path, FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "missing")
        }
        do { return try JSONParser.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw BERTError(path, error.description)
        }
    }

    static func readObject(_ path: String) throws -> JSONObject {
        guard let o = try readJSON(path).objectValue else { throw BERTError(path, "must hold a JSON object") }
        return o
    }
}
