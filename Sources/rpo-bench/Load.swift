// rpo-bench load: time to open a model file and turn every tensor into f32 (GGUF dequantized in parallel
// over rows; safetensors converted), into one arena as a model loader would.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seconds to open a GGUF or safetensors file and convert all its tensors to f32.",
        discussion: """
            Output, one JSON record per file:
              {"bench":"load.gguf","file":"SmolLM2-135M-Instruct.Q4_1.gguf","tensors":272,
               "parameters":134515008,"open_seconds":0.02,"seconds":0.31,"mparams_per_s":433.9}
            `seconds` includes opening (header parse) and converting; pages come from the page cache after
            the first of the --repeat runs, and the best run is reported.
            """
    )

    @Argument(help: "Model files (.gguf, .safetensors).")
    var files: [String]

    @Option(help: "Runs per file (the fastest is reported).")
    var `repeat`: Int = 3

    mutating func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one model file") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        try Tool.run("rpo-bench") { _ in
            for path in files {
                var best = Double.infinity, bestOpen = 0.0, count = 0, params = 0
                let isGGUF = path.hasSuffix(".gguf")
                for _ in 0..<`repeat` {
                    let t0 = now()
                    if isGGUF {
                        let g = try GGUFFile(path: path)
                        let t1 = now()
                        params = g.tensors.reduce(0) { $0 + $1.elementCount }
                        let arena = TensorStorage(count: params, zeroed: false)
                        var at = 0
                        for t in g.tensors {
                            try g.read(t.name, into: UnsafeMutableBufferPointer(start: arena.pointer + at, count: t.elementCount))
                            at += t.elementCount
                        }
                        count = g.tensors.count
                        let total = now() - t0
                        if total < best { best = total; bestOpen = t1 - t0 }
                    } else {
                        let f = try SafetensorsFile(path: path)
                        let t1 = now()
                        let floats = f.tensors.filter { $0.dtype.isFloat }
                        params = floats.reduce(0) { $0 + $1.elementCount }
                        let arena = TensorStorage(count: params, zeroed: false)
                        var at = 0
                        for t in floats {
                            try f.read(t.name, into: UnsafeMutableBufferPointer(start: arena.pointer + at, count: t.elementCount))
                            at += t.elementCount
                        }
                        count = floats.count
                        let total = now() - t0
                        if total < best { best = total; bestOpen = t1 - t0 }
                    }
                }
                try emit([("bench", .string(isGGUF ? "load.gguf" : "load.safetensors")),
                          ("file", .string((path as NSString).lastPathComponent)), ("tensors", .int(count)),
                          ("parameters", .int(params)), ("open_seconds", .double(bestOpen)), ("seconds", .double(best)),
                          ("mparams_per_s", rounded(Double(params) / best / 1e6))])
            }
        }
    }
}
