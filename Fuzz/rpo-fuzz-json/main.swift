// libFuzzer target (`make fuzz`): the JSON parser, serialization of what it accepts (stable on re-parsing),
// and the JSON Lines reader over the input as a stream: plain, or zstd / gzip when it begins like one
// (concatenated frames and members included). Any crash, hang or sanitizer report is a finding.
import Foundation
import FuzzDriver
import RPOCore

func rpoFuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let value = try? JSONParser.parse(bytes), let text = try? JSONSerializer.string(value) {
        // What the serializer writes parses back to a value that serializes the same.
        guard let again = try? JSONParser.parse(text), (try? JSONSerializer.string(again)) == text else {
            fatalError("serialized JSON does not round-trip: \(text)")
        }
    }
    guard let source = try? openDecompressed(MemorySource(Array(bytes), name: "fuzz")) else { return 0 }
    let reader = RecordReader(source, maxLineBytes: 1 << 20)
    while true {
        do { if try reader.read() == nil { break } } catch { break }
    }
    return 0
}

// libFuzzer's entry: the symbol its library needs, and the driver run from this executable's main.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { rpoFuzzJSON(data, size) }

runFuzzer(rpoFuzzJSON)
