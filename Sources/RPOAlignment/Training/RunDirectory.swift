// Run directories and checkpoints of rpo-train. A run directory holds complete checkpoints only:
//   RUN_DIR/step-000006/   a Hugging Face directory (config.json, model.safetensors, tokenizer files) plus
//            rpo_state/state.json          configuration, step, scheduler step, RNG, position in the batch stream
//            rpo_state/optimizer.safetensors  the optimizer's moments under the HF tensor names
//   RUN_DIR/latest -> step-000006
// Each checkpoint is written into RUN_DIR/.tmp-step-N-<pid>/ and renamed into place when complete (the rename
// is the commit); older checkpoints are deleted only after that, so a crash at any point leaves the previous
// complete checkpoint. Temporary directories of crashed runs are removed when the run directory is opened.
import Foundation
import RPOCore

/// The loop's position: what a resumed run needs besides weights and optimizer moments.
public struct TrainingProgress: Equatable, Sendable {
    /// Optimizer steps taken.
    public var updates = 0
    /// Scheduler steps taken (the warmup position).
    public var schedulerSteps = 0
    /// Batch records whose effect is in the weights (skipped ones included).
    public var recordsConsumed = 0
    /// The `step` field of the last consumed record (checked when resuming).
    public var lastRecordStep: Int?
    /// Examples trained on (upstream's `counters/examples`).
    public var examples = 0
    /// A chain of SHA-256 digests over the consumed batch records (each record's compact JSON after the
    /// digest so far; "" before the first): a resumed run checks that its input begins with the same records.
    /// nil for checkpoints written before it was kept (a resume recomputes it from its input).
    public var recordsDigest: String? = ""
    /// The run's generator (the loop itself draws nothing: dropout is off as upstream; saved for exactness).
    public var rng: RNG

    public init(rng: RNG) { self.rng = rng }
}

/// The models a run started from.
public struct RunProvenance: Equatable, Sendable {
    /// The initial policy (its companion files are copied into every checkpoint).
    public var model: String
    /// The frozen reference model, nil when the loss uses none.
    public var reference: String?
    /// ModelFiles.fingerprint of the reference: precomputed reference log-probs must name it.
    public var referenceFingerprint: String?

    public init(model: String, reference: String?, referenceFingerprint: String?) {
        self.model = model; self.reference = reference; self.referenceFingerprint = referenceFingerprint
    }
}

/// What a checkpoint's rpo_state holds.
public struct SavedTrainingState {
    public var configuration: TrainerConfiguration
    public var progress: TrainingProgress
    public var provenance: RunProvenance
    public var rmsprop: RMSprop?
    public var adamw: AdamW?

    static let format = "rpo-train state"
    static let version = 1

    // MARK: - Writing

    /// Writes state.json and optimizer.safetensors into `dir` (created).
    public func write(to dir: String, model: CausalLM) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var top = JSONObject()
        top["format"] = .string(SavedTrainingState.format)
        top["version"] = .int(SavedTrainingState.version)
        top["configuration"] = .object(SavedTrainingState.encode(configuration))
        var p = JSONObject()
        p["updates"] = .int(progress.updates)
        p["scheduler_steps"] = .int(progress.schedulerSteps)
        p["records_consumed"] = .int(progress.recordsConsumed)
        p["last_record_step"] = progress.lastRecordStep.map { .int($0) } ?? .null
        p["examples"] = .int(progress.examples)
        p["records_digest"] = progress.recordsDigest.map { .string($0) } ?? .null
        p["rng"] = .array(progress.rng.stateWords.map { .string(String($0, radix: 16)) })
        top["progress"] = .object(p)
        var v = JSONObject()
        v["model"] = .string(provenance.model)
        v["reference"] = provenance.reference.map { .string($0) } ?? .null
        v["reference_fingerprint"] = provenance.referenceFingerprint.map { .string($0) } ?? .null
        top["provenance"] = .object(v)
        var o = JSONObject()
        var entries: [SafetensorsEntry] = []
        func add(_ prefix: String, _ state: [Float]) {
            state.withUnsafeBufferPointer { s in
                for t in model.hfTensors {
                    let x = Tensor(zeros: t.shape)
                    t.extract(from: s.baseAddress!, to: x.pointer, layout: model.layout)
                    entries.append(SafetensorsEntry("\(prefix).\(t.name)", x))
                }
            }
        }
        if let r = rmsprop {
            o["kind"] = .string("rmsprop"); o["step"] = .int(r.stepCount)
            o["alpha"] = .double(r.alpha); o["eps"] = .double(r.eps); o["weight_decay"] = .double(r.weightDecay)
            add("square_avg", r.squareAvg)
        } else if let a = adamw {
            o["kind"] = .string("adamw"); o["step"] = .int(a.stepCount)
            o["beta1"] = .double(a.beta1); o["beta2"] = .double(a.beta2); o["eps"] = .double(a.eps)
            o["weight_decay"] = .double(a.weightDecay)
            add("exp_avg", a.expAvg)
            add("exp_avg_sq", a.expAvgSq)
        }
        top["optimizer"] = .object(o)
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: (dir as NSString).appendingPathComponent("optimizer.safetensors"))
        var bytes: [UInt8] = []
        try JSONSerializer.write(top, to: &bytes)
        bytes.append(0x0A)
        try ModelFiles.writeFile((dir as NSString).appendingPathComponent("state.json"), bytes)
    }

    static func encode(_ c: TrainerConfiguration) -> JSONObject {
        var o = JSONObject()
        o["loss"] = .string(c.loss.rawValue)
        o["beta"] = .double(c.parameters.beta)
        o["epsilon"] = .double(c.parameters.epsilon)
        o["lambda"] = .double(c.parameters.lambda)
        o["diagonal_weight"] = .double(c.parameters.diagonalWeight)
        o["desirable_weight"] = .double(c.parameters.desirableWeight)
        o["undesirable_weight"] = .double(c.parameters.undesirableWeight)
        o["optimizer"] = .string(c.optimizer.rawValue)
        o["lr"] = .double(c.learningRate)
        o["warmup_steps"] = .int(c.warmupSteps)
        o["max_grad_norm"] = .double(c.maxGradNorm)
        o["weight_decay"] = c.weightDecay.map { .double($0) } ?? .null
        o["gradient_accumulation"] = .int(c.gradientAccumulation)
        o["seed"] = .string(String(c.seed))
        return o
    }

    // MARK: - Reading

    /// Reads state.json of the checkpoint at `checkpoint` (its rpo_state/), without the optimizer moments.
    public static func readState(checkpoint: String) throws -> (configuration: TrainerConfiguration, progress: TrainingProgress, provenance: RunProvenance, optimizer: JSONObject) {
        let path = (checkpoint as NSString).appendingPathComponent("rpo_state/state.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainError.checkpoint("\(path): cannot read the training state (not an rpo-train checkpoint?)")
        }
        func bad(_ m: String) -> TrainError { .checkpoint("\(path): \(m)") }
        let top: JSONObject
        do { top = try JSONParser.parse(String(decoding: data, as: UTF8.self)).objectValue ?? JSONObject() } catch {
            throw bad("\(error)")
        }
        guard top["format"]?.stringValue == format else { throw bad("not an rpo-train state file") }
        guard top["version"]?.intValue == version else { throw bad("state version \(top["version"].map { "\($0)" } ?? "?") is not \(version)") }
        func f(_ o: JSONObject, _ k: String) -> RecordField { o.field(k, source: path, record: nil) }
        let co = try f(top, "configuration").object()
        let lossName = try f(co, "loss").string()
        guard let loss = LossKind(rawValue: lossName) else { throw bad("unknown loss \"\(lossName)\"") }
        var c = TrainerConfiguration(loss: loss)
        c.parameters = LossParameters(beta: try f(co, "beta").double(), epsilon: try f(co, "epsilon").double(),
                                      lambda: try f(co, "lambda").double(), diagonalWeight: try f(co, "diagonal_weight").double(),
                                      desirableWeight: try f(co, "desirable_weight").double(),
                                      undesirableWeight: try f(co, "undesirable_weight").double())
        let optName = try f(co, "optimizer").string()
        guard let opt = OptimizerKind(rawValue: optName) else { throw bad("unknown optimizer \"\(optName)\"") }
        c.optimizer = opt
        c.learningRate = try f(co, "lr").double()
        c.warmupSteps = try f(co, "warmup_steps").int()
        c.maxGradNorm = try f(co, "max_grad_norm").double()
        c.weightDecay = f(co, "weight_decay").exists ? try f(co, "weight_decay").double() : nil
        c.gradientAccumulation = try f(co, "gradient_accumulation").int()
        guard let seed = UInt64(try f(co, "seed").string()) else { throw bad("bad seed") }
        c.seed = seed
        let po = try f(top, "progress").object()
        let words = try f(po, "rng").stringArray().compactMap { UInt64($0, radix: 16) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { throw bad("bad RNG state") }
        var p = TrainingProgress(rng: RNG(stateWords: words))
        p.updates = try f(po, "updates").int()
        p.schedulerSteps = try f(po, "scheduler_steps").int()
        p.recordsConsumed = try f(po, "records_consumed").int()
        p.lastRecordStep = f(po, "last_record_step").exists ? try f(po, "last_record_step").int() : nil
        p.examples = try f(po, "examples").int()
        p.recordsDigest = f(po, "records_digest").exists ? try f(po, "records_digest").string() : nil
        let vo = try f(top, "provenance").object()
        let v = RunProvenance(model: try f(vo, "model").string(),
                              reference: f(vo, "reference").exists ? try f(vo, "reference").string() : nil,
                              referenceFingerprint: f(vo, "reference_fingerprint").exists ? try f(vo, "reference_fingerprint").string() : nil)
        return (c, p, v, try f(top, "optimizer").object())
    }

    /// Reads a checkpoint's whole rpo_state for `model` (already loaded from the same checkpoint).
    public static func read(checkpoint: String, model: CausalLM) throws -> SavedTrainingState {
        let (c, p, v, o) = try readState(checkpoint: checkpoint)
        let path = (checkpoint as NSString).appendingPathComponent("rpo_state/optimizer.safetensors")
        let file = try SafetensorsFile(path: path)
        let n = model.layout.count
        func load(_ prefix: String) throws -> [Float] {
            var state = [Float](repeating: 0, count: n)
            var buffer: [Float] = []
            try state.withUnsafeMutableBufferPointer { s in
                for t in model.hfTensors {
                    let name = "\(prefix).\(t.name)"
                    let info = try file.info(name)
                    if info.shape != t.shape {
                        throw TrainError.checkpoint("\(path): \(name) has shape \(info.shape), the model's tensor \(t.shape)")
                    }
                    buffer = [Float](repeating: 0, count: t.count)
                    try buffer.withUnsafeMutableBufferPointer { b in
                        try file.read(name, into: b)
                        t.place(b.baseAddress!, into: s.baseAddress!, layout: model.layout)
                    }
                }
            }
            return state
        }
        func f(_ k: String) -> RecordField { o.field(k, source: path, record: nil) }
        var state = SavedTrainingState(configuration: c, progress: p, provenance: v, rmsprop: nil, adamw: nil)
        let kind = try f("kind").string()
        guard kind == c.optimizer.rawValue else {
            throw TrainError.checkpoint("\(path): optimizer state of \(kind), the configuration says \(c.optimizer.rawValue)")
        }
        let step = try f("step").int()
        if kind == "rmsprop" {
            state.rmsprop = try RMSprop(parameterCount: n, squareAvg: try load("square_avg"), stepCount: step,
                                        alpha: try f("alpha").double(), eps: try f("eps").double(),
                                        weightDecay: try f("weight_decay").double())
        } else {
            state.adamw = try AdamW(parameterCount: n, expAvg: try load("exp_avg"), expAvgSq: try load("exp_avg_sq"),
                                    stepCount: step, beta1: try f("beta1").double(), beta2: try f("beta2").double(),
                                    eps: try f("eps").double(), weightDecay: try f("weight_decay").double())
        }
        return state
    }
}

/// A run directory: complete checkpoints `step-NNNNNN`, a `latest` link, nothing half-written.
public final class RunDirectory {
    public let path: String
    /// Complete checkpoints kept (the newest); older ones are deleted after a new one is complete.
    public var keep = 1

    /// The directory of a new run: created if absent; an existing one must hold no checkpoint.
    public init(newRun path: String) throws {
        self.path = path
        if FileManager.default.fileExists(atPath: path) {
            guard ModelFiles.isDirectory(path) else { throw TrainError.checkpoint("\(path): exists and is not a directory") }
            if let c = try checkpoints().last {
                throw TrainError.checkpoint("\(path): already holds a run (\((c.path as NSString).lastPathComponent)); continue it with --resume \(path) or choose another --out")
            }
        } else {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw TrainError.checkpoint("\(path): cannot create the run directory: \(error.localizedDescription)")
            }
        }
        removeTemporaries()
    }

    /// An existing run directory with at least one checkpoint.
    public init(resuming path: String) throws {
        self.path = path
        guard ModelFiles.isDirectory(path) else { throw TrainError.checkpoint("\(path): no such run directory") }
        if try checkpoints().isEmpty { throw TrainError.checkpoint("\(path): holds no checkpoint to resume from") }
        removeTemporaries()
    }

    /// Complete checkpoints, oldest first.
    public func checkpoints() throws -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)), s >= 0 else { return nil }
            return (s, (path as NSString).appendingPathComponent(n))
        }.sorted { $0.0 < $1.0 }.map { (step: $0.0, path: $0.1) }
    }

    public func latestCheckpoint() throws -> String? { try checkpoints().last?.path }

    /// Removes what a killed checkpoint write leaves: its directory `.tmp-step-N-PID`, the model directory
    /// written beside it (`..tmp-step-N-PID.tmp-PID`, `..tmp-step-N-PID.old-PID`) and the link `latest.tmp-PID`.
    func removeTemporaries() {
        for n in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where n.hasPrefix(".tmp-step-") || n.hasPrefix("..tmp-step-") || n.hasPrefix("latest.tmp-") {
            try? FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent(n))
        }
    }

    /// Writes checkpoint `step` with `write` (given the temporary directory), commits it by renaming, points
    /// `latest` at it and deletes checkpoints beyond `keep`. Returns its path.
    public func save(step: Int, _ write: (String) throws -> Void) throws -> String {
        let name = String(format: "step-%06d", step)
        let final = (path as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: final) {
            throw TrainError.checkpoint("\(final) already exists")
        }
        let tmp = (path as NSString).appendingPathComponent(".tmp-\(name)-\(getpid())")
        try? FileManager.default.removeItem(atPath: tmp)
        do {
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            try write(tmp)
            RunDirectory.syncDirectory(tmp)
            RunDirectory.syncDirectory((tmp as NSString).appendingPathComponent("rpo_state"))
            if rename(tmp, final) != 0 {
                throw TrainError.checkpoint("\(final): rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        RunDirectory.syncDirectory(path)
        // latest -> step-N, replaced atomically.
        let link = (path as NSString).appendingPathComponent("latest"), linkTmp = link + ".tmp-\(getpid())"
        unlink(linkTmp)
        if symlink(name, linkTmp) == 0 && rename(linkTmp, link) == 0 { RunDirectory.syncDirectory(path) } else { unlink(linkTmp) }
        let all = try checkpoints()
        for old in all.dropLast(max(keep, 1)) { try? FileManager.default.removeItem(atPath: old.path) }
        return final
    }

    static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }
}
