// GGUF: a file written by gguf-py's GGUFWriter read back (every metadata value type, tensor infos, alignment),
// every supported ggml type dequantized bit for bit as gguf.quants.dequantize does, and every kind of corrupt
// or truncated file an error. Fixtures: scripts/make_gguf_fixtures.py.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// Builds small GGUF files by hand, for the malformed cases gguf-py cannot write.
struct GGUFBuilder {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    init(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
        raw(Array("GGUF".utf8)); u32(version); u64(tensors); u64(kvs)
    }
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        str(name); u32(UInt32(dims.count)); for d in dims { u64(d) }; u32(type); u64(offset)
    }
    mutating func pad(to alignment: Int = 32) { while bytes.count % alignment != 0 { bytes.append(0) } }
}

func ggufProblem(_ bytes: [UInt8]) -> GGUFProblem? {
    do {
        _ = try GGUFFile(file: MappedFile(bytes: bytes, name: "bad.gguf"))
        return nil
    } catch let e as GGUFError {
        return e.problem
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// A metadata value in the fixture's JSON form (integers as decimal strings, floats as numbers).
func fixtureForm(_ v: GGUFValue) -> JSON {
    switch v {
    case .uint8(let x): return .string(String(x))
    case .int8(let x): return .string(String(x))
    case .uint16(let x): return .string(String(x))
    case .int16(let x): return .string(String(x))
    case .uint32(let x): return .string(String(x))
    case .int32(let x): return .string(String(x))
    case .uint64(let x): return .string(String(x))
    case .int64(let x): return .string(String(x))
    case .float32(let x): return .double(Double(x))
    case .float64(let x): return .double(x)
    case .bool(let b): return .bool(b)
    case .string(let s): return .string(s)
    case .array(let a): return .array(fixtureForm(a))
    }
}

func fixtureForm(_ a: GGUFArray) -> [JSON] {
    switch a {
    case .uint8(let x): return x.map { .string(String($0)) }
    case .int8(let x): return x.map { .string(String($0)) }
    case .uint16(let x): return x.map { .string(String($0)) }
    case .int16(let x): return x.map { .string(String($0)) }
    case .uint32(let x): return x.map { .string(String($0)) }
    case .int32(let x): return x.map { .string(String($0)) }
    case .uint64(let x): return x.map { .string(String($0)) }
    case .int64(let x): return x.map { .string(String($0)) }
    case .float32(let x): return x.map { .double(Double($0)) }
    case .float64(let x): return x.map { .double($0) }
    case .bool(let x): return x.map { .bool($0) }
    case .string(let x): return x.map { .string($0) }
    case .array(let x): return x.map { .array(fixtureForm($0)) }
    }
}

/// The value types as gguf-py lists them: ["ARRAY", "ARRAY", "INT32"] for nested arrays.
func typeNames(_ v: GGUFValue) -> [String] {
    func arr(_ a: GGUFArray) -> [String] {
        if case .array(let inner) = a { return ["ARRAY"] + (inner.first.map(arr) ?? []) }
        return [String(describing: a.elementType).uppercased()]
    }
    if case .array(let a) = v { return ["ARRAY"] + arr(a) }
    return [String(describing: v.type).uppercased()]
}

/// Numbers in JSON that compare equal as doubles (the parser yields .int for integral values).
func sameNumber(_ a: JSON, _ b: JSON) -> Bool {
    if let x = a.doubleValue, let y = b.doubleValue { return x == y }
    if case .array(let xa) = a, case .array(let ya) = b {
        return xa.count == ya.count && zip(xa, ya).allSatisfy { sameNumber($0, $1) }
    }
    return a == b
}

@Suite struct GGUFTests {
    static let typesPath = TestPaths.fixture("gguf/types.gguf")
    static let typesBytes: [UInt8] = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: typesPath)))) ?? []

    static func fixture() throws -> JSONObject {
        guard case .object(let o) = try loadJSONFixture("gguf/types.json") else { throw IOError("types.json", "not an object") }
        return o
    }

    @Test func readsMetadataOfEveryType() throws {
        let g = try GGUFFile(path: GGUFTests.typesPath)
        let fx = try GGUFTests.fixture()
        #expect(g.version == 3)
        #expect(g.alignment == 64)
        #expect(g.dataOffset == fx["data_offset"]?.intValue)
        let keys = try fx.field("metadata_keys", source: "types.json", record: nil).stringArray()
        #expect(g.metadata.keys == keys)
        let meta = fx["metadata"]!.objectValue!
        for key in keys {
            let e = meta[key]!.objectValue!
            let v = try g.metadata.value(key)
            #expect(typeNames(v) == (try e.field("types", source: "types.json", record: nil).stringArray()), "\(key)")
            #expect(sameNumber(fixtureForm(v), e["value"]!), "\(key): \(fixtureForm(v)) vs \(e["value"]!)")
        }
    }

    @Test func typedAccessorsAndTheirErrors() throws {
        let m = try GGUFFile(path: GGUFTests.typesPath).metadata
        #expect(try m.string("general.architecture") == "rpotest")
        #expect(try m.int("t.u32") == 4_000_000_000)
        #expect(try m.int("t.i8") == -100)
        #expect(try m.float("t.f32") == 0.1)
        #expect(try m.double("t.f64") == 1.0 / 3.0)
        #expect(try m.bool("t.true"))
        #expect(try m.stringArray("t.strings") == ["a", "", "ü", "<|im_start|>", "Ġt"])
        #expect(try m.intArray("t.u16s") == [1, 2, 65535])
        #expect(try m.intArray("t.i64s") == [-1, 1 << 40])
        #expect(try m.floatArray("t.f32s") == [0.5, -1.25, 3.0e-8])
        #expect(try m.floatArray("t.f64s") == [0.1, -2.0])
        #expect(try m.int("missing.key", default: 7) == 7)
        #expect(try m.string("general.architecture", default: "x") == "rpotest")
        func problem(_ body: () throws -> Void) -> GGUFProblem? {
            do { try body(); return nil } catch let e as GGUFError { return e.problem } catch { return nil }
        }
        #expect(problem { _ = try m.string("missing.key") } == .missingKey("missing.key"))
        #expect(problem { _ = try m.string("t.u8") } == .wrongType(key: "t.u8", expected: "a string", found: "uint8"))
        #expect(problem { _ = try m.int("t.u64") } == .valueOutOfRange(key: "t.u64"))
        #expect(problem { _ = try m.int("t.strings") } == .wrongType(key: "t.strings", expected: "an integer", found: "array of string"))
        #expect(problem { _ = try m.stringArray("t.nested") } == .wrongType(key: "t.nested", expected: "an array of string", found: "array of array"))
        #expect(problem { _ = try m.floatArray("t.i32s") } == .wrongType(key: "t.i32s", expected: "an array of floats", found: "array of int32"))
        #expect(problem { _ = try m.int("t.string", default: 1) } == .wrongType(key: "t.string", expected: "an integer", found: "string"))
        do {
            _ = try m.bool("t.u8")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "\(GGUFTests.typesPath): metadata \"t.u8\" must be a bool, found uint8")
        }
    }

    @Test func tensorInfosMatchGGUFPy() throws {
        let g = try GGUFFile(path: GGUFTests.typesPath)
        let infos = try GGUFTests.fixture()["tensors"]!.arrayValue!
        #expect(g.tensors.count == infos.count)
        for (t, e) in zip(g.tensors, infos) {
            let o = e.objectValue!
            #expect(t.name == o["name"]?.stringValue)
            #expect(t.type.name == o["type"]?.stringValue)
            #expect(t.dims == (try o.field("dims", source: "types.json", record: nil).intArray()))
            #expect(t.offset == o["offset"]?.intValue)
            #expect(t.byteCount == o["bytes"]?.intValue)
            #expect(t.shape == t.dims.reversed())
        }
    }

    /// Tolerance 0: dequantization is a product and a sum per value in f32, the same operations in the same
    /// order as gguf-py (and ggml), so every value must be the same float, bit for bit.
    @Test func dequantizesEveryTypeExactly() throws {
        let g = try GGUFFile(path: GGUFTests.typesPath)
        let expected = try SafetensorsFile(path: TestPaths.fixture("gguf/types_expected.safetensors"))
        var covered = Set<GGMLType>()
        for name in expected.names {
            let want = try expected.tensor(name)
            let got = try g.tensor(name)
            #expect(got.shape == want.shape, "\(name)")
            let mismatches = zip(got.array, want.array).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(mismatches == 0, "\(name): \(mismatches) of \(want.count) values differ")
            covered.insert(try g.info(name).type)
        }
        #expect(covered == GGMLDequantize.supported)
        do {
            _ = try g.tensor("iq4_nl")
            Issue.record("IQ4_NL dequantized")
        } catch let e as GGUFError {
            #expect(e.problem == .unsupportedType(tensor: "iq4_nl", .iq4_nl))
            #expect(e.description.contains("IQ4_NL, which cannot be dequantized"))
        }
        #expect(throws: GGUFError.self) { _ = try g.tensor("no.such.tensor") }
        var small = [Float](repeating: 0, count: 5)
        #expect(throws: GGUFError.self) { try small.withUnsafeMutableBufferPointer { try g.read("f32", into: $0) } }
    }

    @Test func versionsAndMagic() {
        var b = GGUFTests.typesBytes
        b[4] = 2  // v2 has the same layout as v3 for little-endian files
        #expect(ggufProblem(b) == nil)
        b[4] = 1
        #expect(ggufProblem(b) == .unsupportedVersion(1))
        b[4] = 4
        #expect(ggufProblem(b) == .unsupportedVersion(4))
        b[4] = 0; b[7] = 3
        #expect(ggufProblem(b) == .bigEndian)
        b = GGUFTests.typesBytes
        b[0] = UInt8(ascii: "X")
        #expect(ggufProblem(b) == .badMagic([0x58, 0x47, 0x55, 0x46]))
        #expect(ggufProblem([]) == .truncated("the magic number"))
    }

    /// Every prefix that ends before the last tensor's data is an error (only the final alignment padding
    /// may be missing).
    @Test func everyTruncationIsAnError() throws {
        let b = GGUFTests.typesBytes
        let g = try GGUFFile(file: MappedFile(bytes: b, name: "types.gguf"))
        let end = g.tensors.map { g.dataOffset + $0.offset + $0.byteCount }.max()!
        var accepted: [Int] = []
        for n in 0..<end where ggufProblem(Array(b[0..<n])) == nil { accepted.append(n) }
        #expect(accepted.isEmpty, "prefixes accepted: \(accepted.prefix(10))")
        #expect(ggufProblem(Array(b[0..<end])) == nil)
        // Cut inside the data section, the last tensor is what runs past the end.
        #expect(ggufProblem(Array(b[0..<(end - 1)])) == .tensorBeyondFile(tensor: "iq4_nl", end: UInt64(end), fileSize: end - 1))
    }

    /// Position of tensor `name`'s info fields (just after its name) in the types fixture.
    func infoPosition(_ name: String) -> Int {
        var needle: [UInt8] = []
        withUnsafeBytes(of: UInt64(name.utf8.count).littleEndian) { needle.append(contentsOf: $0) }
        needle.append(contentsOf: name.utf8)
        let b = GGUFTests.typesBytes
        for i in 0...(b.count - needle.count) where Array(b[i..<(i + needle.count)]) == needle { return i + needle.count }
        return -1
    }

    func patched(_ at: Int, _ value: UInt64, bytes n: Int = 8) -> [UInt8] {
        var b = GGUFTests.typesBytes
        for k in 0..<n { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        return b
    }

    @Test func corruptCountsOffsetsAndTypes() {
        #expect(ggufProblem(patched(8, 1 << 40)) == .countBeyondFile("tensor count", count: 1 << 40))
        #expect(ggufProblem(patched(16, UInt64.max)) == .countBeyondFile("metadata count", count: UInt64.max))
        let f32 = infoPosition("f32")  // then: n_dims u32, 2 dims u64, type u32, offset u64
        #expect(ggufProblem(patched(f32, 5, bytes: 4)) == .tooManyDimensions(tensor: "f32", 5))
        #expect(ggufProblem(patched(f32 + 20, 99, bytes: 4)) == .unknownTensorType(tensor: "f32", 99))
        #expect(ggufProblem(patched(f32 + 24, 4)) == .misalignedTensor(tensor: "f32", offset: 4, alignment: 64))
        if case .tensorBeyondFile(let t, _, _)? = ggufProblem(patched(f32 + 24, 1 << 40)) { #expect(t == "f32") } else {
            Issue.record("offset past the end not reported")
        }
        if case .tensorBeyondFile? = ggufProblem(patched(f32 + 24, UInt64.max - 63)) {} else {
            Issue.record("offset overflow not reported")
        }
        let f16 = infoPosition("f16")
        #expect(ggufProblem(patched(f16 + 24, 0)) == .overlappingTensors("f32", "f16"))
        let q40 = infoPosition("q4_0")
        #expect(ggufProblem(patched(q40 + 4, 48)) == .rowNotWholeBlocks(tensor: "q4_0", rowLength: 48, type: .q4_0))
        #expect(ggufProblem(patched(q40 + 4, UInt64(Int64.max))) == .badDimensions(tensor: "q4_0", [UInt64(Int64.max), 3]))
    }

    @Test func malformedMetadata() {
        func kv(_ body: (inout GGUFBuilder) -> Void, count: UInt64 = 1) -> [UInt8] {
            var b = GGUFBuilder(tensors: 0, kvs: count)
            body(&b)
            return b.bytes
        }
        #expect(ggufProblem(kv { $0.str("k"); $0.u32(13); $0.u32(0) }) == .badValueType(key: "k", 13))
        #expect(ggufProblem(kv { $0.str("k"); $0.u32(9); $0.u32(77); $0.u64(0) }) == .badValueType(key: "k", 77))
        #expect(ggufProblem(kv { $0.str("k"); $0.u32(9); $0.u32(8); $0.u64(1 << 50) }) == .countBeyondFile("array \"k\" count", count: 1 << 50))
        #expect(ggufProblem(kv { $0.str("k"); $0.u32(8); $0.u64(1 << 40) }) == .truncated("the value of metadata \"k\""))
        #expect(ggufProblem(kv { $0.u64(2); $0.raw([0xC3, 0x28]); $0.u32(4); $0.u32(1) }) == .invalidUTF8("the key of metadata entry 0"))
        #expect(ggufProblem(kv({ $0.str("k"); $0.u32(4); $0.u32(1); $0.str("k"); $0.u32(4); $0.u32(2) }, count: 2)) == .duplicateKey("k"))
        #expect(ggufProblem(kv { b in
            b.str("k"); b.u32(9)
            for _ in 0..<20 { b.u32(9); b.u64(1) }
            b.u32(4); b.u64(1); b.u32(1)
        }) == .nestingTooDeep(key: "k"))
        // Empty arrays, nested arrays of strings: fine.
        let ok = kv({ b in
            b.str("e"); b.u32(9); b.u32(8); b.u64(0)
            b.str("n"); b.u32(9); b.u32(9); b.u64(2); b.u32(8); b.u64(1); b.str("x"); b.u32(8); b.u64(0)
        }, count: 2)
        #expect(ggufProblem(ok) == nil)
        let m = try? GGUFFile(file: MappedFile(bytes: ok, name: "ok.gguf")).metadata
        #expect(m?["e"] == .array(.string([])))
        #expect(m?["n"] == .array(.array([.string(["x"]), .string([])])))
        #expect(ggufProblem(kv { $0.str("general.alignment"); $0.u32(4); $0.u32(48) }) == .badAlignment("48 is not a power of two"))
        #expect(ggufProblem(kv { $0.str("general.alignment"); $0.u32(4); $0.u32(0) }) == .badAlignment("0 is not a power of two"))
        #expect(ggufProblem(kv { $0.str("general.alignment"); $0.u32(10); $0.u64(32) }) == .badAlignment("must be a uint32, found uint64"))
    }

    @Test func malformedTensorInfos() throws {
        var b = GGUFBuilder(tensors: 2, kvs: 0)
        b.tensorInfo("a", dims: [32], type: 0, offset: 0)
        b.tensorInfo("a", dims: [32], type: 0, offset: 128)
        b.pad(); b.raw([UInt8](repeating: 0, count: 256))
        #expect(ggufProblem(b.bytes) == .duplicateTensor("a"))
        // A valid hand-made file: zero-size tensors and 4 dimensions are fine.
        var c = GGUFBuilder(tensors: 2, kvs: 0)
        c.tensorInfo("z", dims: [0, 4], type: 2, offset: 0)
        c.tensorInfo("w", dims: [2, 1, 1, 3], type: 0, offset: 0)
        c.pad(); c.raw([UInt8](repeating: 0, count: 24))
        #expect(ggufProblem(c.bytes) == nil)
        let g = try? GGUFFile(file: MappedFile(bytes: c.bytes, name: "ok.gguf"))
        #expect(g?.tensors.map(\.shape) == [[4, 0], [3, 1, 1, 2]])
        #expect(try g?.tensor("z").count == 0)
        #expect(try g?.tensor("w").shape == [3, 1, 1, 2])
    }

    @Test func qkPermutationRoundTrips() throws {
        var rng = RNG(seed: 5)
        let w = Tensor((0..<(24 * 7)).map { _ in rng.nextFloat() }, shape: [24, 7])
        for heads in [1, 3, 6] {
            let p = try GGUFFile.permuteLlamaQK(w, heads: heads)
            #expect(p.array != w.array)
            #expect(try GGUFFile.unpermuteLlamaQK(p, heads: heads).array == w.array)
        }
        // Row h*hd + i*(hd/2) + j of the result is row h*hd + 2j + i of the input (hd = 8 for 3 heads).
        let u = try GGUFFile.unpermuteLlamaQK(w, heads: 3)
        for (hfRow, ggufRow) in [(0, 0), (1, 2), (3, 6), (4, 1), (7, 7), (8 + 5, 8 + 3), (16 + 4, 16 + 1)] {
            #expect(Array(u.array[(hfRow * 7)..<(hfRow * 7 + 7)]) == Array(w.array[(ggufRow * 7)..<(ggufRow * 7 + 7)]))
        }
        #expect(throws: GGUFError.self) { _ = try GGUFFile.unpermuteLlamaQK(w, heads: 5) }
        #expect(throws: GGUFError.self) { _ = try GGUFFile.unpermuteLlamaQK(w, heads: 24) }
    }
}
