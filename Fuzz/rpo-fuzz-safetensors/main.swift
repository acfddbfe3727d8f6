// libFuzzer target (`make fuzz`): the safetensors reader (header JSON, dtypes, shapes, offsets) and the
// conversion to float32 of every tensor it accepts (those of at most 2^22 elements). Any crash, hang or
// sanitizer report is a finding.
import Foundation
import FuzzDriver
import RPOCore

func rpoFuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile(file: MappedFile(bytes: bytes, name: "fuzz.safetensors")) else { return 0 }
    var out: [Float] = []
    for t in file.tensors where t.elementCount <= 1 << 22 {
        if out.count < t.elementCount { out = [Float](repeating: 0, count: t.elementCount) }
        _ = try? out.withUnsafeMutableBufferPointer { b in
            try file.read(t.name, into: UnsafeMutableBufferPointer(rebasing: b[0..<t.elementCount]))
        }
    }
    return 0
}

// libFuzzer's entry: the symbol its library needs, and the driver run from this executable's main.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { rpoFuzzSafetensors(data, size) }

runFuzzer(rpoFuzzSafetensors)
