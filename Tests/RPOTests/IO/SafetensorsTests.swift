// safetensors: files written by the Python `safetensors` package read back exactly in every dtype, the writer
// byte-identical to `safetensors.torch.save_file`, every malformed header its own error, sharded checkpoints.
// Fixtures: scripts/make_safetensors_fixtures.py.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// A safetensors file made of a raw header string and `dataBytes` zero bytes (for the malformed cases).
func safetensorsBytes(header: String, dataBytes: Int, headerLength: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = []
    let h = Array(header.utf8)
    withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
    return out
}

func safetensorsProblem(_ bytes: [UInt8]) -> SafetensorsProblem? {
    do {
        _ = try SafetensorsFile(file: MappedFile(bytes: bytes, name: "bad.safetensors"))
        return nil
    } catch let e as SafetensorsError {
        return e.problem
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// The writer fixture's tensors (scripts/make_safetensors_fixtures.py `writer_tensors`).
func writerFixtureEntries() -> [SafetensorsEntry] {
    func vals(_ n: Int, _ seed: Int) -> [Float] {
        (0..<n).map { i in Float(Double((i * 7919 + seed * 104_729) % 2001 - 1000) / 37.0) }
    }
    return [
        SafetensorsEntry("b.weight", Tensor(vals(15, 1), shape: [3, 5])),
        SafetensorsEntry("a.bias", Tensor(vals(5, 2), shape: [5])),
        SafetensorsEntry("z", Tensor(vals(16, 3), shape: [4, 4]), as: .bf16),
        SafetensorsEntry("m", Tensor(vals(12, 4), shape: [2, 3, 2]), as: .f16),
        SafetensorsEntry("ids", integers: (0..<8).map { $0 * 3 - 5 }, shape: [1, 8]),
        SafetensorsEntry("empty", Tensor(zeros: [0, 3])),
        SafetensorsEntry("été \"q\"", Tensor(vals(2, 5), shape: [2])),
    ]
}

@Suite struct SafetensorsTests {
    @Test func readsEveryDTypeExactly() throws {
        let file = try SafetensorsFile(path: TestPaths.fixture("safetensors/dtypes.safetensors"))
        guard case .object(let fixture) = try loadJSONFixture("safetensors/dtypes.json"),
              case .object(let tensors)? = fixture["tensors"], case .object(let meta)? = fixture["metadata"] else {
            Issue.record("bad fixture"); return
        }
        #expect(file.metadata == Dictionary(uniqueKeysWithValues: meta.map { ($0.0, $0.1.stringValue!) }))
        #expect(Set(file.names) == Set(tensors.keys))
        for (name, e) in tensors {
            let o = e.objectValue!
            let shape = try o.field("shape", source: "dtypes.json", record: nil).intArray()
            let info = try file.info(name)
            #expect(info.shape == shape, "\(name)")
            if o["f32_bits"] != nil {
                // Exact: F16/BF16 widen to f32 without rounding and F64 narrows with round-to-nearest, as torch
                // `.float()` does; compared as bit patterns so NaN, -0 and subnormals count.
                let bits = try o.field("f32_bits", source: "dtypes.json", record: nil).intArray().map { UInt32(bitPattern: Int32($0)) }
                let t = try file.tensor(name)
                #expect(t.shape == shape)
                #expect(t.array.map(\.bitPattern) == bits, "\(name)")
                #expect(throws: SafetensorsError.self) { _ = try file.integers(name) }
            } else {
                let values = try o.field("values", source: "dtypes.json", record: nil).intArray()
                #expect(try file.integers(name) == values, "\(name)")
                do {
                    _ = try file.tensor(name)
                    Issue.record("\(name): integer tensor converted to f32")
                } catch let e as SafetensorsError {
                    #expect(e.problem == .notFloat(tensor: name, dtype: info.dtype))
                }
            }
        }
    }

    @Test func halfConversionIsExactForEveryBitPattern() {
        var mismatches = 0
        for h in 0...UInt16.max {
            let ours = HalfFloat.toFloat(h)
            let swift = Float(Float16(bitPattern: h))
            if ours.isNaN { if !swift.isNaN { mismatches += 1 } } else if ours.bitPattern != swift.bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(HalfFloat.toFloat(0x7E01).bitPattern == 0x7FC0_2000)  // payload kept (numpy does the same)
        #expect(HalfFloat.bfloat16FromFloat(.nan) == 0x7FC0)
        #expect(HalfFloat.bfloat16FromFloat(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
        #expect(HalfFloat.bfloat16FromFloat(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
    }

    @Test func writerIsByteIdenticalToPython() throws {
        let tmp = TempDir()
        let entries = writerFixtureEntries()
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: tmp.file("w.safetensors"))
        let ours = try [UInt8](Data(contentsOf: URL(fileURLWithPath: tmp.file("w.safetensors"))))
        let python = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("safetensors/writer.safetensors"))))
        #expect(ours == python)
        // Several metadata keys: Python's order varies (a HashMap); the fixture is a Python output whose keys
        // came out in the bytewise order the Swift writer uses.
        try SafetensorsWriter.write(entries, metadata: ["format": "pt", "b": "second", "a": "first é \"quoted\""],
                                    to: tmp.file("m.safetensors"))
        let ours2 = try [UInt8](Data(contentsOf: URL(fileURLWithPath: tmp.file("m.safetensors"))))
        let python2 = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("safetensors/writer_multi_metadata.safetensors"))))
        #expect(ours2 == python2)
        // No temporary file is left next to the output.
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted()
        #expect(left == ["m.safetensors", "w.safetensors"])
    }

    @Test func writtenFilesReadBack() throws {
        let tmp = TempDir()
        var rng = RNG(seed: 11)
        let a = Tensor((0..<(37 * 5)).map { _ in rng.nextFloat() * 8 - 4 }, shape: [37, 5])
        try SafetensorsWriter.write([SafetensorsEntry("a", a), SafetensorsEntry("h", a, as: .f16),
                                     SafetensorsEntry("p", integers: [1, -2, 3], shape: [3], as: .i32)],
                                    to: tmp.file("x.safetensors"))
        let f = try SafetensorsFile(path: tmp.file("x.safetensors"))
        #expect(f.metadata == nil)
        #expect(try f.tensor("a").array == a.array)
        // F16 storage: each value is the nearest half (relative error <= 2^-11 in the normal range).
        let h = try f.tensor("h").array
        expectClose(h, a.array, atol: 0, rtol: 1.0 / 2048, "f16 round trip")
        #expect(h == a.array.map { Float(Float16($0)) })
        #expect(try f.integers("p") == [1, -2, 3])
        // Reading into a caller's buffer (e.g. a parameter arena), and its size check.
        var dst = [Float](repeating: 0, count: a.count)
        try dst.withUnsafeMutableBufferPointer { try f.read("a", into: $0) }
        #expect(dst == a.array)
        var small = [Float](repeating: 0, count: 3)
        #expect(throws: SafetensorsError.self) { try small.withUnsafeMutableBufferPointer { try f.read("a", into: $0) } }
        #expect(throws: SafetensorsError.self) { _ = try f.info("missing") }
    }

    @Test func writerRefusesDuplicatesAndMissingDirectories() throws {
        let tmp = TempDir()
        let t = Tensor([1, 2], shape: [2])
        #expect(throws: SafetensorsError.self) {
            try SafetensorsWriter.write([SafetensorsEntry("x", t), SafetensorsEntry("x", t)], to: tmp.file("d.safetensors"))
        }
        #expect(throws: SafetensorsError.self) {
            try SafetensorsWriter.write([SafetensorsEntry("x", dtype: .f32, shape: [3], bytes: [0, 0, 0, 0])], to: tmp.file("d.safetensors"))
        }
        #expect(throws: IOError.self) {
            try SafetensorsWriter.write([SafetensorsEntry("x", t)], to: tmp.file("no/such/dir/d.safetensors"))
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("d.safetensors")))
    }

    @Test func malformedHeadersEachGiveTheirError() {
        let f32x2 = #"{"dtype":"F32","shape":[2],"data_offsets":"#
        #expect(safetensorsProblem([1, 2, 3, 4]) == .tooSmall(fileSize: 4))
        #expect(safetensorsProblem(safetensorsBytes(header: "{}", dataBytes: 0, headerLength: 100_000_001))
                == .headerTooLarge(headerBytes: 100_000_001, limit: 100_000_000))
        #expect(safetensorsProblem(safetensorsBytes(header: "{}", dataBytes: 0, headerLength: 1000))
                == .headerBeyondFile(headerBytes: 1000, fileSize: 10))
        var notUTF8 = safetensorsBytes(header: "{\"a\"}", dataBytes: 0)
        notUTF8[10] = 0xFF
        #expect(safetensorsProblem(notUTF8) == .headerNotUTF8(byte: 2))
        if case .headerNotJSON? = safetensorsProblem(safetensorsBytes(header: #"{"a":"#, dataBytes: 0)) {} else {
            Issue.record("truncated JSON not reported as such")
        }
        #expect(safetensorsProblem(safetensorsBytes(header: "[1]", dataBytes: 0)) == .headerNotObject(found: "array"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"__metadata__":{"a":1}}"#, dataBytes: 0))
                == .badMetadata("value of \"a\" must be a string, found number"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"__metadata__":[]}"#, dataBytes: 0))
                == .badMetadata("must be an object of strings, found array"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == .badEntry(tensor: "t", "missing \"dtype\""))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F32","data_offsets":[0,8]}}"#, dataBytes: 8))
                == .badEntry(tensor: "t", "missing \"shape\""))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[2]}}"#, dataBytes: 8))
                == .badEntry(tensor: "t", "missing \"data_offsets\""))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":3}"#, dataBytes: 0))
                == .badEntry(tensor: "t", "entry must be an object, found number"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == .badEntry(tensor: "t", "\"shape\" must hold non-negative integers"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, dataBytes: 8))
                == .badEntry(tensor: "t", "\"data_offsets\" must be two non-negative integers"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == .unknownDType(tensor: "t", dtype: "F12"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":\#(f32x2)[8,0]}}"#, dataBytes: 8))
                == .badOffsets(tensor: "t", begin: 8, end: 0))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == .sizeMismatch(tensor: "t", bytes: 8, expected: 12))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, dataBytes: 2))
                == .badEntry(tensor: "t", "3 elements of F4 do not fill whole bytes"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"a":\#(f32x2)[0,8]},"b":\#(f32x2)[4,12]}}"#, dataBytes: 12))
                == .overlap(tensor: "b", previous: "a"))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"a":\#(f32x2)[0,8]},"b":\#(f32x2)[12,20]}}"#, dataBytes: 20))
                == .gap(tensor: "b", begin: 12, expected: 8))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"a":\#(f32x2)[4,12]}}"#, dataBytes: 12))
                == .gap(tensor: "a", begin: 4, expected: 0))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"a":\#(f32x2)[0,8]}}"#, dataBytes: 4))
                == .outsideData(tensor: "a", end: 8, dataBytes: 4))
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"a":\#(f32x2)[0,8]}}"#, dataBytes: 12))
                == .trailingBytes(count: 4))
        // The crate accepts these: an empty header object, a null __metadata__, a zero-size tensor, extra fields.
        #expect(safetensorsProblem(safetensorsBytes(header: "{}", dataBytes: 0)) == nil)
        #expect(safetensorsProblem(safetensorsBytes(header: #"{"__metadata__":null,"e":{"dtype":"I8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#, dataBytes: 8)) == nil)
    }

    @Test func errorsNameTheFile() {
        do {
            _ = try SafetensorsFile(path: TestPaths.fixture("safetensors/dtypes.json"))
            Issue.record("a JSON file opened as safetensors")
        } catch {
            #expect("\(error)".hasPrefix(TestPaths.fixture("safetensors/dtypes.json") + ": "))
        }
        #expect(throws: IOError.self) { _ = try SafetensorsFile(path: TestPaths.fixture("safetensors/nope.safetensors")) }
    }

    /// The real MiniLM checkpoint (`make models`), as docs/models.md §2 describes it.
    @Test func miniLMCheckpoint() throws {
        let path = TestPaths.models("all-MiniLM-L6-v2/model.safetensors")
        let f = try SafetensorsFile(path: path)
        #expect(f.file.count == 90_868_376)
        #expect(f.dataStart == 8 + 11_408)
        #expect(f.metadata == ["format": "pt"])
        #expect(f.tensors.count == 104)
        #expect(f.tensors.filter { $0.dtype == .f32 }.count == 103)
        #expect(try f.info("embeddings.word_embeddings.weight").shape == [30522, 384])
        #expect(try f.info("encoder.layer.5.intermediate.dense.weight").shape == [1536, 384])
        #expect(try f.info("embeddings.position_ids").dtype == .i64)
        #expect(try f.integers("embeddings.position_ids") == Array(0..<512))
        let ln = try f.tensor("embeddings.LayerNorm.weight")
        #expect(ln.shape == [384])
        #expect(ln.array.allSatisfy { $0.isFinite && $0 != 0 })
    }

    @Test func shardedCheckpointReadsAsOne() throws {
        let dir = TestPaths.fixture("safetensors/sharded")
        for path in [dir, dir + "/model.safetensors.index.json"] {
            let c = try SafetensorsCheckpoint(path: path)
            #expect(c.shards.count == 2)
            #expect(c.names == ["lm_head.weight", "model.embed.weight", "model.layers.0.w", "model.layers.1.w"])
            #expect(c.indexMetadata["total_size"] == .int(48 + 16 + 8 + 16))
            #expect(try c.tensor("model.embed.weight").array == (0..<12).map(Float.init))
            #expect(try c.tensor("model.layers.1.w").array == [-1.5, -1.5, -1.5, -1.5])
            #expect(try c.tensor("lm_head.weight").array == [0, 0.125, 0.25, 0.375])
            #expect(try c.info("model.layers.0.w").shape == [2, 2])
            #expect(throws: SafetensorsError.self) { _ = try c.tensor("model.layers.2.w") }
        }
        // A single file is a checkpoint too.
        let single = try SafetensorsCheckpoint(path: TestPaths.fixture("safetensors/dtypes.safetensors"))
        #expect(single.names.count == 15)
    }

    @Test func badIndexesAreErrors() throws {
        let tmp = TempDir()
        let shard = TestPaths.fixture("safetensors/sharded/model-00001-of-00002.safetensors")
        try FileManager.default.copyItem(atPath: shard, toPath: tmp.file("s1.safetensors"))
        func problem(_ index: String) -> String? {
            try? index.write(toFile: tmp.file("model.safetensors.index.json"), atomically: true, encoding: .utf8)
            do { _ = try SafetensorsCheckpoint(path: tmp.path); return nil } catch { return "\(error)" }
        }
        #expect(problem(#"{"metadata":{}}"#)?.hasSuffix("index has no \"weight_map\"") == true)
        #expect(problem(#"{"weight_map":[]}"#)?.hasSuffix("\"weight_map\" must be an object, found array") == true)
        #expect(problem(#"{"weight_map":{"x":"s1.safetensors"}}"#)?.hasSuffix("s1.safetensors: no tensor \"x\"") == true)
        #expect(problem(#"{"weight_map":{"model.embed.weight":"s2.safetensors"}}"#)?.contains("s2.safetensors") == true)
        #expect(problem(#"{"weight_map":{"model.embed.weight":"../s1.safetensors"}}"#)?.contains("must be a file in the index's directory") == true)
        #expect(problem(#"{"weight_map":"#)?.contains("index is not JSON") == true)
        #expect(problem(#"{"weight_map":{"model.embed.weight":"s1.safetensors"}}"#) == nil)
        try FileManager.default.removeItem(atPath: tmp.file("model.safetensors.index.json"))
        #expect(throws: IOError.self) { _ = try SafetensorsCheckpoint(path: tmp.path) }
    }
}
