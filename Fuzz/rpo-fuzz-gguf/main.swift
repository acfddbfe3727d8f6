// libFuzzer target (`make fuzz`): the GGUF reader (header, metadata, tensor infos) and the dequantization of
// every tensor it accepts (those of at most 2^22 elements, so one input stays fast), then a causal LM's
// configuration from the metadata as rpo-sample and rpo-convert read it. Any crash, hang or sanitizer report
// is a finding.
import Foundation
import FuzzDriver
@testable import RPOCore

func rpoFuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? GGUFFile(file: MappedFile(bytes: bytes, name: "fuzz.gguf")) else { return 0 }
    var out: [Float] = []
    for t in file.tensors where t.elementCount <= 1 << 22 {
        if out.count < t.elementCount { out = [Float](repeating: 0, count: t.elementCount) }
        _ = try? out.withUnsafeMutableBufferPointer { b in
            try file.read(t.name, into: UnsafeMutableBufferPointer(rebasing: b[0..<t.elementCount]))
        }
    }
    if let llama = try? GGUFLlamaSource(file) { _ = try? CausalLM.checkTensors(llama.config, in: llama) }
    return 0
}

// libFuzzer's entry: the symbol its library needs, and the driver run from this executable's main.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { rpoFuzzGGUF(data, size) }

runFuzzer(rpoFuzzGGUF)
