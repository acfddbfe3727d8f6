// GGUF (llama.cpp's model file): reader for versions 2 and 3, memory-mapped, every metadata value type,
// tensor infos, alignment; tensors dequantized to f32 (GGUFQuants.swift), and llama.cpp's q/k row
// permutation undone so Llama weights equal the Hugging Face layout.
//
// Layout (little-endian; ggml/docs/gguf.md, gguf-py `GGUFReader`):
//   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value type, value), tensor_count x (string name, u32 n_dims,
//   n_dims x u64 dims (innermost first), u32 ggml type, u64 offset), padding to `general.alignment`
//   (default 32), then the data section; tensor offsets are relative to it and multiples of the alignment.
//   string = u64 length + UTF-8 bytes; array = u32 element type, u64 count, elements (arrays may nest).
// Version 1 (u32 counts) is refused, as are big-endian files (v3 allows them; none are in use here).
// Every count and length is checked against the bytes that remain before anything is allocated, so a
// truncated or corrupt file is an error naming what was being read, never a crash.
import Foundation

/// ggml tensor types (ggml.h `enum ggml_type`; gaps are retired ids).
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// ggml's name (`Q4_K`, `BF16`, ...).
    public var name: String {
        String(describing: self).uppercased()
    }

    /// Values per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return 32
        case .nvfp4: return 64
        case .q1_0: return 128
        default: return 256
        }
    }

    /// Bytes per block (gguf-py GGML_QUANT_SIZES).
    public var typeSize: Int {
        let qk = 256
        switch self {
        case .f32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8: return 1
        case .i32: return 4
        case .i64, .f64: return 8
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 40
        case .q2_K: return 2 + 2 + qk / 16 + qk / 4
        case .q3_K: return 2 + qk / 4 + qk / 8 + 12
        case .q4_K: return 2 + 2 + qk / 2 + 12
        case .q5_K: return 2 + 2 + qk / 2 + qk / 8 + 12
        case .q6_K: return 2 + qk / 2 + qk / 4 + qk / 16
        case .q8_K: return 4 + qk + qk / 8
        case .iq2_xxs: return 2 + qk / 4
        case .iq2_xs: return 2 + qk / 4 + qk / 32
        case .iq3_xxs: return 2 + qk / 4 + qk / 8
        case .iq1_s: return 2 + qk / 8 + qk / 16
        case .iq4_nl: return 18
        case .iq3_s: return 2 + qk / 4 + qk / 8 + qk / 32 + 4
        case .iq2_s: return 2 + qk / 4 + qk / 16
        case .iq4_xs: return 2 + 2 + qk / 2 + qk / 64
        case .iq1_m: return qk / 8 + qk / 16 + qk / 32
        case .tq1_0: return 2 + 4 * 13
        case .tq2_0: return 2 + 64
        case .mxfp4: return 17
        case .nvfp4: return 36
        case .q1_0: return 18
        }
    }
}

/// GGUF metadata value types.
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// A metadata value.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The value as an Int when it is an integer type and fits.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a Double when it is a number (integers convert exactly up to 2^53).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The type's name for messages, e.g. `uint32` or `array of string`.
    public var typeName: String {
        if case .array(let a) = self { return "array of \(a.elementTypeName)" }
        return String(describing: type)
    }
}

/// A metadata array: typed storage per element type; arrays of arrays nest.
public enum GGUFArray: Equatable, Sendable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case uint64([UInt64]), int64([Int64]), float32([Float]), float64([Double]), bool([Bool]), string([String])
    case array([GGUFArray])

    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .array(let a): return a.count
        }
    }

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    var elementTypeName: String { String(describing: elementType) }

    /// Integer elements as Int (nil for non-integer arrays or a uint64 above Int.max).
    public var intValues: [Int]? {
        switch self {
        case .uint8(let a): return a.map(Int.init)
        case .int8(let a): return a.map(Int.init)
        case .uint16(let a): return a.map(Int.init)
        case .int16(let a): return a.map(Int.init)
        case .uint32(let a): return a.map(Int.init)
        case .int32(let a): return a.map(Int.init)
        case .int64(let a): return a.map(Int.init)
        case .uint64(let a): return a.contains { $0 > UInt64(Int.max) } ? nil : a.map(Int.init)
        default: return nil
        }
    }
}

/// What went wrong, precisely enough for a test to tell the cases apart.
public enum GGUFProblem: Equatable, Sendable {
    case badMagic([UInt8])
    case bigEndian
    case unsupportedVersion(UInt32)
    case truncated(String)
    case countBeyondFile(String, count: UInt64)
    case badValueType(key: String, UInt32)
    case nestingTooDeep(key: String)
    case invalidUTF8(String)
    case duplicateKey(String)
    case badAlignment(String)
    case tooManyDimensions(tensor: String, Int)
    case badDimensions(tensor: String, [UInt64])
    case unknownTensorType(tensor: String, UInt32)
    case rowNotWholeBlocks(tensor: String, rowLength: Int, type: GGMLType)
    case duplicateTensor(String)
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
    case tensorBeyondFile(tensor: String, end: UInt64, fileSize: Int)
    case overlappingTensors(String, String)
    case missingKey(String)
    case wrongType(key: String, expected: String, found: String)
    case valueOutOfRange(key: String)
    case missingTensor(String)
    case unsupportedType(tensor: String, GGMLType)
    case destinationSize(tensor: String, count: Int, expected: Int)
    case badPermutation(rows: Int, heads: Int)
}

/// A GGUF error naming the file and what was being read.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: GGUFProblem

    public init(_ file: String, _ problem: GGUFProblem) { self.file = file; self.problem = problem }

    public var description: String {
        let m: String
        switch problem {
        case .badMagic(let b): m = "not a GGUF file (magic \(b.map { String(format: "%02X", $0) }.joined(separator: " ")), expected 47 47 55 46 \"GGUF\")"
        case .bigEndian: m = "big-endian GGUF files are not supported"
        case .unsupportedVersion(let v): m = "GGUF version \(v) is not supported (versions 2 and 3 are)"
        case .truncated(let w): m = "file ends inside \(w)"
        case .countBeyondFile(let w, let n): m = "\(w) \(n) is more than the file can hold"
        case .badValueType(let k, let t): m = "metadata \"\(k)\": unknown value type \(t)"
        case .nestingTooDeep(let k): m = "metadata \"\(k)\": arrays nested too deeply"
        case .invalidUTF8(let w): m = "\(w) is not valid UTF-8"
        case .duplicateKey(let k): m = "metadata key \"\(k)\" appears twice"
        case .badAlignment(let e): m = "general.alignment \(e)"
        case .tooManyDimensions(let t, let n): m = "tensor \"\(t)\" has \(n) dimensions (at most 4)"
        case .badDimensions(let t, let d): m = "tensor \"\(t)\" has invalid dimensions \(d)"
        case .unknownTensorType(let t, let ty): m = "tensor \"\(t)\" has unknown ggml type \(ty)"
        case .rowNotWholeBlocks(let t, let n, let ty): m = "tensor \"\(t)\": row length \(n) is not a multiple of the \(ty.name) block size \(ty.blockSize)"
        case .duplicateTensor(let t): m = "tensor \"\(t)\" appears twice"
        case .misalignedTensor(let t, let o, let a): m = "tensor \"\(t)\" has offset \(o), not a multiple of the alignment \(a)"
        case .tensorBeyondFile(let t, let e, let n): m = "tensor \"\(t)\" ends at byte \(e), past the end of the file (\(n) bytes)"
        case .overlappingTensors(let a, let b): m = "tensors \"\(a)\" and \"\(b)\" overlap"
        case .missingKey(let k): m = "no metadata key \"\(k)\""
        case .wrongType(let k, let e, let f): m = "metadata \"\(k)\" must be \(e), found \(f)"
        case .valueOutOfRange(let k): m = "metadata \"\(k)\" is out of range"
        case .missingTensor(let t): m = "no tensor \"\(t)\""
        case .unsupportedType(let t, let ty): m = "tensor \"\(t)\" has type \(ty.name), which cannot be dequantized (supported: \(GGMLDequantize.supported.map(\.name).sorted().joined(separator: ", ")))"
        case .destinationSize(let t, let n, let e): m = "tensor \"\(t)\" has \(e) elements, the destination holds \(n)"
        case .badPermutation(let r, let h): m = "cannot undo the q/k permutation: \(r) rows do not split into \(h) heads of an even size"
        }
        return "\(file): \(m)"
    }
}

/// Metadata in file order, with typed accessors whose errors name the key.
public struct GGUFMetadata: Sendable {
    public let source: String
    /// Keys in file order.
    public let keys: [String]
    let values: [String: GGUFValue]

    init(source: String, keys: [String], values: [String: GGUFValue]) {
        self.source = source; self.keys = keys; self.values = values
    }

    public var count: Int { keys.count }
    public func contains(_ key: String) -> Bool { values[key] != nil }
    public subscript(key: String) -> GGUFValue? { values[key] }

    func fail(_ p: GGUFProblem) -> GGUFError { GGUFError(source, p) }

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = values[key] else { throw fail(.missingKey(key)) }
        return v
    }

    public func string(_ key: String) throws -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw fail(.wrongType(key: key, expected: "a string", found: v.typeName)) }
        return s
    }

    /// Any integer type.
    public func int(_ key: String) throws -> Int {
        let v = try value(key)
        guard let i = v.intValue else {
            if case .uint64 = v { throw fail(.valueOutOfRange(key: key)) }
            throw fail(.wrongType(key: key, expected: "an integer", found: v.typeName))
        }
        return i
    }

    /// float32 or float64 (narrowed to nearest), or an integer.
    public func float(_ key: String) throws -> Float { Float(try double(key)) }

    public func double(_ key: String) throws -> Double {
        let v = try value(key)
        guard let d = v.doubleValue else { throw fail(.wrongType(key: key, expected: "a number", found: v.typeName)) }
        return d
    }

    public func bool(_ key: String) throws -> Bool {
        let v = try value(key)
        guard case .bool(let b) = v else { throw fail(.wrongType(key: key, expected: "a bool", found: v.typeName)) }
        return b
    }

    public func array(_ key: String) throws -> GGUFArray {
        let v = try value(key)
        guard case .array(let a) = v else { throw fail(.wrongType(key: key, expected: "an array", found: v.typeName)) }
        return a
    }

    public func stringArray(_ key: String) throws -> [String] {
        let a = try array(key)
        guard case .string(let s) = a else { throw fail(.wrongType(key: key, expected: "an array of string", found: "array of \(a.elementTypeName)")) }
        return s
    }

    /// An array of any integer type.
    public func intArray(_ key: String) throws -> [Int] {
        let a = try array(key)
        guard let v = a.intValues else {
            if case .uint64 = a { throw fail(.valueOutOfRange(key: key)) }
            throw fail(.wrongType(key: key, expected: "an array of integers", found: "array of \(a.elementTypeName)"))
        }
        return v
    }

    /// An array of float32 (or float64, narrowed to nearest).
    public func floatArray(_ key: String) throws -> [Float] {
        let a = try array(key)
        switch a {
        case .float32(let f): return f
        case .float64(let d): return d.map { Float($0) }
        default: throw fail(.wrongType(key: key, expected: "an array of floats", found: "array of \(a.elementTypeName)"))
        }
    }

    // Optional keys: the default when absent, an error when present with the wrong type.
    public func string(_ key: String, default d: String) throws -> String { contains(key) ? try string(key) : d }
    public func int(_ key: String, default d: Int) throws -> Int { contains(key) ? try int(key) : d }
    public func float(_ key: String, default d: Float) throws -> Float { contains(key) ? try float(key) : d }
    public func bool(_ key: String, default d: Bool) throws -> Bool { contains(key) ? try bool(key) : d }
}

/// One tensor's description in a GGUF file.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    public let type: GGMLType
    /// Dimensions as GGUF stores them: innermost (contiguous) first.
    public let dims: [Int]
    /// Offset in the data section.
    public let offset: Int
    public let byteCount: Int

    /// The shape in PyTorch order (outermost first): `dims` reversed. A [out, in] weight has dims [in, out].
    public var shape: [Int] { dims.reversed() }
    public var elementCount: Int { dims.reduce(1, *) }
    /// The contiguous row length (dims[0]; quantization blocks never straddle rows).
    public var rowLength: Int { dims.first ?? 1 }
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
}

/// A GGUF file, memory-mapped. Opening it parses and validates the header (metadata and tensor infos);
/// tensors are dequantized on demand. Immutable after opening: safe to read from several threads.
public final class GGUFFile: @unchecked Sendable {
    public let file: MappedFile
    public var path: String { file.name }
    public let version: Int
    public let metadata: GGUFMetadata
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Where the data section begins in the file.
    public let dataOffset: Int
    let byName: [String: Int]

    public static let defaultAlignment = 32
    static let maxNesting = 16

    public var names: [String] { tensors.map(\.name) }

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        var c = GGUFCursor(buf: file.bytes, file: file.name)
        let magic = try c.bytes(4, "the magic number")
        guard magic.elementsEqual([0x47, 0x47, 0x55, 0x46]) else { throw c.fail(.badMagic(Array(magic))) }
        let v = try c.u32("the version")
        if v & 0xFFFF == 0 && v.byteSwapped >= 1 && v.byteSwapped <= 3 { throw c.fail(.bigEndian) }
        guard v == 2 || v == 3 else { throw c.fail(.unsupportedVersion(v)) }
        version = Int(v)
        let nTensors = try c.u64("the tensor count")
        let nKV = try c.u64("the metadata count")
        // The smallest key/value is 8 (key length) + 4 (type) + 1 bytes; the smallest tensor info is
        // 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
        if nKV > UInt64(c.remaining / 13) { throw c.fail(.countBeyondFile("metadata count", count: nKV)) }
        if nTensors > UInt64(c.remaining / 24) { throw c.fail(.countBeyondFile("tensor count", count: nTensors)) }

        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(nKV))
        for i in 0..<Int(nKV) {
            let key = try c.string("the key of metadata entry \(i)")
            let type = try c.u32("the type of metadata \"\(key)\"")
            let value = try c.value(type, key: key, depth: 0)
            if values[key] != nil { throw c.fail(.duplicateKey(key)) }
            keys.append(key)
            values[key] = value
        }
        metadata = GGUFMetadata(source: file.name, keys: keys, values: values)

        var align = GGUFFile.defaultAlignment
        if let a = values["general.alignment"] {
            guard case .uint32(let av) = a else { throw c.fail(.badAlignment("must be a uint32, found \(a.typeName)")) }
            guard av > 0 && av & (av - 1) == 0 else { throw c.fail(.badAlignment("\(av) is not a power of two")) }
            align = Int(av)
        }
        alignment = align

        struct RawInfo { let name: String; let type: GGMLType; let dims: [Int]; let offset: UInt64; let bytes: Int }
        var raw: [RawInfo] = []
        raw.reserveCapacity(Int(nTensors))
        var seen = Set<String>()
        for i in 0..<Int(nTensors) {
            let name = try c.string("the name of tensor \(i)")
            let nd = try c.u32("the dimension count of tensor \"\(name)\"")
            guard nd <= 4 else { throw c.fail(.tooManyDimensions(tensor: name, Int(nd))) }
            var d64: [UInt64] = []
            for _ in 0..<Int(nd) { d64.append(try c.u64("the dimensions of tensor \"\(name)\"")) }
            let typeID = try c.u32("the type of tensor \"\(name)\"")
            let offset = try c.u64("the offset of tensor \"\(name)\"")
            guard let type = GGMLType(rawValue: typeID) else { throw c.fail(.unknownTensorType(tensor: name, typeID)) }
            var elements = 1
            var ok = d64.allSatisfy { $0 <= UInt64(Int64.max) }
            if ok {
                for d in d64 {
                    let (p, o) = elements.multipliedReportingOverflow(by: Int(d))
                    if o { ok = false; break }
                    elements = p
                }
            }
            guard ok else { throw c.fail(.badDimensions(tensor: name, d64)) }
            let dims = d64.map { Int($0) }
            let row = dims.first ?? 1
            guard row % type.blockSize == 0 else { throw c.fail(.rowNotWholeBlocks(tensor: name, rowLength: row, type: type)) }
            let (bytes, o) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
            guard !o else { throw c.fail(.badDimensions(tensor: name, d64)) }
            guard seen.insert(name).inserted else { throw c.fail(.duplicateTensor(name)) }
            raw.append(RawInfo(name: name, type: type, dims: dims, offset: offset, bytes: bytes))
        }
        let start = (c.pos + align - 1) / align * align
        dataOffset = start

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(raw.count)
        let size = file.count
        for r in raw {
            guard r.offset % UInt64(align) == 0 else { throw c.fail(.misalignedTensor(tensor: r.name, offset: r.offset, alignment: align)) }
            let (end, o) = r.offset.addingReportingOverflow(UInt64(start + r.bytes))
            guard !o, end <= UInt64(size) else {
                throw c.fail(.tensorBeyondFile(tensor: r.name, end: o ? UInt64.max : end, fileSize: size))
            }
            infos.append(GGUFTensorInfo(name: r.name, type: r.type, dims: r.dims, offset: Int(r.offset), byteCount: r.bytes))
        }
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for k in sorted.indices.dropFirst() where sorted[k].offset < sorted[k - 1].offset + sorted[k - 1].byteCount {
            throw c.fail(.overlappingTensors(sorted[k - 1].name, sorted[k].name))
        }
        tensors = infos
        var map: [String: Int] = [:]
        for (i, t) in infos.enumerated() { map[t.name] = i }
        byName = map
    }

    public func contains(_ name: String) -> Bool { byName[name] != nil }

    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let i = byName[name] else { throw GGUFError(path, .missingTensor(name)) }
        return tensors[i]
    }

    /// The tensor's bytes in the file, as stored (valid while this object lives).
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try info(name)
        let a = dataOffset + t.offset
        return UnsafeRawBufferPointer(rebasing: file.bytes[a..<(a + t.byteCount)])
    }

    /// The tensor dequantized to f32, in PyTorch shape order (`info.shape`).
    public func tensor(_ name: String) throws -> Tensor {
        let t = try info(name)
        let out = Tensor(zeros: t.shape)
        try read(name, into: UnsafeMutableBufferPointer(start: out.pointer, count: out.count))
        return out
    }

    /// Dequantizes the tensor into `destination` (exactly its element count), in parallel over rows.
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        guard GGMLDequantize.supported.contains(t.type) else { throw GGUFError(path, .unsupportedType(tensor: name, t.type)) }
        guard destination.count == t.elementCount else {
            throw GGUFError(path, .destinationSize(tensor: name, count: destination.count, expected: t.elementCount))
        }
        if t.elementCount == 0 { return }
        let src = try bytes(name)
        GGMLDequantize.rows(t.type, src.baseAddress!, destination.baseAddress!, rows: t.rowCount, rowLength: t.rowLength)
    }

    /// A Llama attention q or k weight ([heads * head_dim, in], PyTorch order) with llama.cpp's row
    /// permutation undone: the Hugging Face `q_proj`/`k_proj` layout (RoPE by rotate_half). `heads` is
    /// `llama.attention.head_count` for q and `head_count_kv` for k.
    public func llamaQK(_ name: String, heads: Int) throws -> Tensor {
        let t = try info(name)
        let out = Tensor(zeros: t.shape)
        try readLlamaQK(name, heads: heads, into: UnsafeMutableBufferPointer(start: out.pointer, count: out.count))
        return out
    }

    /// `llamaQK` into a caller's buffer (e.g. a parameter arena).
    public func readLlamaQK(_ name: String, heads: Int, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        let raw = try tensor(name)
        do {
            guard destination.count == raw.count else {
                throw GGUFError(path, .destinationSize(tensor: name, count: destination.count, expected: raw.count))
            }
            let rows = t.shape.first ?? 0
            try GGUFFile.permuteRows(raw.pointer, destination.baseAddress!, rows: rows, cols: rows == 0 ? 0 : raw.count / rows,
                                     heads: heads, undo: true)
        } catch let e as GGUFError {
            throw GGUFError(path, e.problem)
        }
    }

    /// Undoes convert_hf_to_gguf.py's `permute`: `w.reshape(n, 2, hd/2, d).swapaxes(1, 2)`. Row
    /// h*hd + i*(hd/2) + j of the result is row h*hd + 2j + i of `w` (docs/models.md §3).
    public static func unpermuteLlamaQK(_ w: Tensor, heads: Int) throws -> Tensor {
        let out = Tensor(zeros: w.shape)
        let rows = w.rank >= 1 ? w.shape[0] : 0
        try permuteRows(w.pointer, out.pointer, rows: rows, cols: rows == 0 ? 0 : w.count / rows, heads: heads, undo: true)
        return out
    }

    /// The converter's permutation itself (HF layout -> GGUF layout); the inverse of `unpermuteLlamaQK`.
    public static func permuteLlamaQK(_ w: Tensor, heads: Int) throws -> Tensor {
        let out = Tensor(zeros: w.shape)
        let rows = w.rank >= 1 ? w.shape[0] : 0
        try permuteRows(w.pointer, out.pointer, rows: rows, cols: rows == 0 ? 0 : w.count / rows, heads: heads, undo: false)
        return out
    }

    /// Copies the rows of `src` ([rows, cols]) to `dst` in the permuted order.
    static func permuteRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                            heads: Int, undo: Bool) throws {
        guard heads > 0, rows > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw GGUFError("<tensor>", .badPermutation(rows: rows, heads: heads))
        }
        let hd = rows / heads, half = hd / 2
        for h in 0..<heads {
            for i in 0..<2 {
                for j in 0..<half {
                    let hfRow = h * hd + i * half + j, ggufRow = h * hd + 2 * j + i
                    let (to, from) = undo ? (hfRow, ggufRow) : (ggufRow, hfRow)
                    (dst + to * cols).update(from: src + from * cols, count: cols)
                }
            }
        }
    }
}

/// Bounds-checked little-endian reads over the mapped bytes.
struct GGUFCursor {
    let buf: UnsafeRawBufferPointer
    let file: String
    var pos = 0

    init(buf: UnsafeRawBufferPointer, file: String) { self.buf = buf; self.file = file }

    var remaining: Int { buf.count - pos }

    func fail(_ p: GGUFProblem) -> GGUFError { GGUFError(file, p) }

    mutating func bytes(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw fail(.truncated(what())) }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: buf[pos..<(pos + n)])
    }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let n = MemoryLayout<T>.size
        guard n <= remaining else { throw fail(.truncated(what())) }
        defer { pos += n }
        return T(littleEndian: buf.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try u64(what())
        guard n <= UInt64(remaining) else { throw fail(.truncated(what())) }
        let b = try bytes(Int(n), what())
        let u = UnsafeBufferPointer(start: b.baseAddress?.assumingMemoryBound(to: UInt8.self), count: b.count)
        if UTF8Validation.firstInvalidByte(u) != nil { throw fail(.invalidUTF8(what())) }
        return String(decoding: u, as: UTF8.self)
    }

    /// `count` fixed-size elements, checked against the remaining bytes before allocating.
    mutating func numbers<T: FixedWidthInteger>(_ type: T.Type, _ count: Int, _ what: String) throws -> [T] {
        let b = try bytes(count * MemoryLayout<T>.size, what)
        return (0..<count).map { T(littleEndian: b.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }

    mutating func value(_ type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        guard let t = GGUFValueType(rawValue: type) else { throw fail(.badValueType(key: key, type)) }
        let what = "the value of metadata \"\(key)\""
        switch t {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .bool: return .bool(try load(UInt8.self, what) != 0)
        case .string: return .string(try string(what))
        case .array: return .array(try array(key: key, depth: depth + 1))
        }
    }

    mutating func array(key: String, depth: Int) throws -> GGUFArray {
        if depth > GGUFFile.maxNesting { throw fail(.nestingTooDeep(key: key)) }
        let what = "the array \"\(key)\""
        let et = try u32(what)
        guard let t = GGUFValueType(rawValue: et) else { throw fail(.badValueType(key: key, et)) }
        let n64 = try u64(what)
        let minSize: Int
        switch t {
        case .uint8, .int8, .bool: minSize = 1
        case .uint16, .int16: minSize = 2
        case .uint32, .int32, .float32: minSize = 4
        case .uint64, .int64, .float64, .string: minSize = 8
        case .array: minSize = 12
        }
        guard n64 <= UInt64(remaining / minSize) else { throw fail(.countBeyondFile("array \"\(key)\" count", count: n64)) }
        let n = Int(n64)
        switch t {
        case .uint8: return .uint8(try numbers(UInt8.self, n, what))
        case .int8: return .int8(try numbers(Int8.self, n, what))
        case .uint16: return .uint16(try numbers(UInt16.self, n, what))
        case .int16: return .int16(try numbers(Int16.self, n, what))
        case .uint32: return .uint32(try numbers(UInt32.self, n, what))
        case .int32: return .int32(try numbers(Int32.self, n, what))
        case .uint64: return .uint64(try numbers(UInt64.self, n, what))
        case .int64: return .int64(try numbers(Int64.self, n, what))
        case .float32: return .float32(try numbers(UInt32.self, n, what).map { Float(bitPattern: $0) })
        case .float64: return .float64(try numbers(UInt64.self, n, what).map { Double(bitPattern: $0) })
        case .bool: return .bool(try numbers(UInt8.self, n, what).map { $0 != 0 })
        case .string:
            var a: [String] = []
            a.reserveCapacity(n)
            for i in 0..<n { a.append(try string("element \(i) of the array \"\(key)\"")) }
            return .string(a)
        case .array:
            var a: [GGUFArray] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try array(key: key, depth: depth + 1)) }
            return .array(a)
        }
    }
}
