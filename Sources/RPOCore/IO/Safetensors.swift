// safetensors: reader (memory-mapped, validated like the reference Rust crate), writer (byte-identical to
// the crate's `serialize_to_file`, atomic), and sharded checkpoints (`model.safetensors.index.json`).
//
// Format (huggingface/safetensors, safetensors/src/tensor.rs): an 8-byte little-endian header length N,
// N bytes of JSON `{"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}}`,
// then the data section; offsets are relative to it. The crate accepts a file only when, sorted by offsets,
// the tensors tile the data section exactly: no overlap, no gap, nothing after the last tensor, and each
// tensor's byte count equals its element count times its dtype size. This reader checks the same.
//
// Conversion to f32 `Tensor`: F32 as is, F16 and BF16 exactly (every value has an f32 twin), F64 rounded to
// nearest. Integer dtypes are not converted to float (position ids, masks, counters are integers; a silent
// float copy would hide a mistake): read them with `integers(_:)`.
import Foundation

/// Element types known to the safetensors format, in the Rust crate's order (its `Ord`, which the writer
/// uses to sort tensors by descending alignment).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL", f4 = "F4", f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2", u8 = "U8", i8 = "I8"
    case f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0", f8e4m3fnuz = "F8_E4M3FNUZ"
    case f8e5m2fnuz = "F8_E5M2FNUZ", i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32"
    case u32 = "U32", f32 = "F32", c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bits per element.
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Position in the Rust enum (its sort order).
    var rank: Int { SafetensorsDType.allCases.firstIndex(of: self)! }

    /// Converted to f32 by `tensor(_:)`.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
    /// Read by `integers(_:)`.
    public var isInteger: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: return true
        default: return false
        }
    }
}

/// What went wrong, precisely enough for a test to tell the cases apart.
public enum SafetensorsProblem: Equatable, Sendable {
    case tooSmall(fileSize: Int)
    case headerTooLarge(headerBytes: UInt64, limit: Int)
    case headerBeyondFile(headerBytes: UInt64, fileSize: Int)
    case headerNotUTF8(byte: Int)
    case headerNotJSON(String)
    case headerNotObject(found: String)
    case badMetadata(String)
    case badEntry(tensor: String, String)
    case unknownDType(tensor: String, dtype: String)
    case badOffsets(tensor: String, begin: Int, end: Int)
    case overlap(tensor: String, previous: String)
    case gap(tensor: String, begin: Int, expected: Int)
    case outsideData(tensor: String, end: Int, dataBytes: Int)
    case sizeMismatch(tensor: String, bytes: Int, expected: Int)
    case trailingBytes(count: Int)
    case missingTensor(String)
    case notFloat(tensor: String, dtype: SafetensorsDType)
    case notInteger(tensor: String, dtype: SafetensorsDType)
    case valueOutOfRange(tensor: String)
    case destinationSize(tensor: String, count: Int, expected: Int)
    case duplicateTensor(String)
    case badIndex(String)
}

/// A safetensors error naming the file (and tensor, when there is one).
public struct SafetensorsError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: SafetensorsProblem

    public init(_ file: String, _ problem: SafetensorsProblem) { self.file = file; self.problem = problem }

    public var description: String {
        let m: String
        switch problem {
        case .tooSmall(let n): m = "file of \(n) bytes is too small for a safetensors header"
        case .headerTooLarge(let n, let limit): m = "header length \(n) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(let n, let size): m = "header length \(n) runs past the end of the file (\(size) bytes)"
        case .headerNotUTF8(let b): m = "header is not valid UTF-8 (byte \(b + 1))"
        case .headerNotJSON(let e): m = "header is not JSON: \(e)"
        case .headerNotObject(let t): m = "header must be a JSON object, found \(t)"
        case .badMetadata(let e): m = "__metadata__ \(e)"
        case .badEntry(let t, let e): m = "tensor \"\(t)\": \(e)"
        case .unknownDType(let t, let d): m = "tensor \"\(t)\": unknown dtype \"\(d)\""
        case .badOffsets(let t, let b, let e): m = "tensor \"\(t)\": data_offsets [\(b), \(e)] end before they begin"
        case .overlap(let t, let p): m = "tensor \"\(t)\" overlaps tensor \"\(p)\""
        case .gap(let t, let b, let e): m = "tensor \"\(t)\" begins at \(b), leaving a gap after the previous tensor (which ends at \(e))"
        case .outsideData(let t, let e, let n): m = "tensor \"\(t)\" ends at \(e), outside the data section (\(n) bytes)"
        case .sizeMismatch(let t, let n, let e): m = "tensor \"\(t)\" has \(n) bytes, its shape and dtype need \(e)"
        case .trailingBytes(let n): m = "\(n) bytes after the last tensor are not covered by the header"
        case .missingTensor(let t): m = "no tensor \"\(t)\""
        case .notFloat(let t, let d): m = "tensor \"\(t)\" has integer dtype \(d.rawValue); read it with integers(_:), not as f32"
        case .notInteger(let t, let d): m = "tensor \"\(t)\" has dtype \(d.rawValue), not an integer type"
        case .valueOutOfRange(let t): m = "tensor \"\(t)\" holds a U64 value larger than Int.max"
        case .destinationSize(let t, let n, let e): m = "tensor \"\(t)\" has \(e) elements, the destination holds \(n)"
        case .duplicateTensor(let t): m = "tensor \"\(t)\" is given twice"
        case .badIndex(let e): m = e
        }
        return "\(file): \(m)"
    }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range in the data section.
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped. Opening it parses and validates the header; tensors are read on
/// demand, in place. Immutable after opening: safe to read from several threads.
public final class SafetensorsFile: @unchecked Sendable {
    /// The crate's MAX_HEADER_SIZE.
    public static let maxHeaderBytes = 100_000_000

    public let file: MappedFile
    public var path: String { file.name }
    /// `__metadata__`, when present.
    public let metadata: [String: String]?
    /// Every tensor, in data order.
    public let tensors: [SafetensorsTensorInfo]
    /// Where the data section begins in the file (8 + header length).
    public let dataStart: Int
    let byName: [String: Int]

    public var names: [String] { tensors.map(\.name) }

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let name = file.name
        func fail(_ p: SafetensorsProblem) -> SafetensorsError { SafetensorsError(name, p) }
        let buf = file.bytes
        guard buf.count >= 8 else { throw fail(.tooSmall(fileSize: buf.count)) }
        let n = buf.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        if n > UInt64(SafetensorsFile.maxHeaderBytes) {
            throw fail(.headerTooLarge(headerBytes: n, limit: SafetensorsFile.maxHeaderBytes))
        }
        guard Int(n) <= buf.count - 8 else { throw fail(.headerBeyondFile(headerBytes: n, fileSize: buf.count)) }
        let header = UnsafeBufferPointer(start: buf.baseAddress!.assumingMemoryBound(to: UInt8.self) + 8, count: Int(n))
        if let bad = UTF8Validation.firstInvalidByte(header) { throw fail(.headerNotUTF8(byte: bad)) }
        let json: JSON
        do throws(JSONParseError) { json = try JSONParser.parse(header) } catch {
            throw fail(.headerNotJSON(error.description))
        }
        guard case .object(let top) = json else { throw fail(.headerNotObject(found: json.typeName)) }

        var meta: [String: String]?
        var infos: [SafetensorsTensorInfo] = []
        infos.reserveCapacity(top.count)
        for (key, value) in top {
            if key == "__metadata__" {
                switch value {
                case .null: break
                case .object(let o):
                    var m: [String: String] = [:]
                    for (k, v) in o {
                        guard case .string(let s) = v else {
                            throw fail(.badMetadata("value of \"\(k)\" must be a string, found \(v.typeName)"))
                        }
                        m[k] = s
                    }
                    meta = m
                default: throw fail(.badMetadata("must be an object of strings, found \(value.typeName)"))
                }
                continue
            }
            infos.append(try SafetensorsFile.entry(key, value, fail))
        }
        // Validate as the crate does: sorted by offsets, the tensors must tile the data section.
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        let dataBytes = buf.count - 8 - Int(n)
        var expected = 0
        for (i, t) in infos.enumerated() {
            let b = t.dataOffsets.lowerBound
            if b < expected { throw fail(.overlap(tensor: t.name, previous: infos[i - 1].name)) }
            if b > expected { throw fail(.gap(tensor: t.name, begin: b, expected: expected)) }
            if t.dataOffsets.upperBound > dataBytes {
                throw fail(.outsideData(tensor: t.name, end: t.dataOffsets.upperBound, dataBytes: dataBytes))
            }
            expected = t.dataOffsets.upperBound
        }
        if expected != dataBytes { throw fail(.trailingBytes(count: dataBytes - expected)) }

        metadata = meta
        tensors = infos
        dataStart = 8 + Int(n)
        var map: [String: Int] = [:]
        for (i, t) in infos.enumerated() { map[t.name] = i }
        byName = map
    }

    /// Parses and checks one header entry (everything that needs no other entry).
    static func entry(_ name: String, _ value: JSON,
                      _ fail: (SafetensorsProblem) -> SafetensorsError) throws -> SafetensorsTensorInfo {
        guard case .object(let o) = value else {
            throw fail(.badEntry(tensor: name, "entry must be an object, found \(value.typeName)"))
        }
        guard let d = o["dtype"] else { throw fail(.badEntry(tensor: name, "missing \"dtype\"")) }
        guard case .string(let ds) = d else { throw fail(.badEntry(tensor: name, "\"dtype\" must be a string, found \(d.typeName)")) }
        guard let dtype = SafetensorsDType(rawValue: ds) else { throw fail(.unknownDType(tensor: name, dtype: ds)) }
        guard let s = o["shape"] else { throw fail(.badEntry(tensor: name, "missing \"shape\"")) }
        guard case .array(let sa) = s else { throw fail(.badEntry(tensor: name, "\"shape\" must be an array, found \(s.typeName)")) }
        var shape: [Int] = []
        var elements = 1
        var overflow = false
        for e in sa {
            guard case .int(let x) = e, x >= 0 else {
                throw fail(.badEntry(tensor: name, "\"shape\" must hold non-negative integers"))
            }
            shape.append(x)
            let (p, o) = elements.multipliedReportingOverflow(by: x)
            elements = p; overflow = overflow || o
        }
        guard let off = o["data_offsets"] else { throw fail(.badEntry(tensor: name, "missing \"data_offsets\"")) }
        guard case .array(let oa) = off, oa.count == 2, case .int(let b) = oa[0], case .int(let e) = oa[1],
              b >= 0, e >= 0 else {
            throw fail(.badEntry(tensor: name, "\"data_offsets\" must be two non-negative integers"))
        }
        if e < b { throw fail(.badOffsets(tensor: name, begin: b, end: e)) }
        let (bits, o2) = elements.multipliedReportingOverflow(by: dtype.bitSize)
        if overflow || o2 { throw fail(.badEntry(tensor: name, "shape \(shape) is too large")) }
        if bits % 8 != 0 {
            throw fail(.badEntry(tensor: name, "\(elements) elements of \(dtype.rawValue) do not fill whole bytes"))
        }
        if e - b != bits / 8 { throw fail(.sizeMismatch(tensor: name, bytes: e - b, expected: bits / 8)) }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: b..<e)
    }

    public func contains(_ name: String) -> Bool { byName[name] != nil }

    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let i = byName[name] else { throw SafetensorsError(path, .missingTensor(name)) }
        return tensors[i]
    }

    /// The tensor's bytes in the file (valid while this object lives).
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try info(name)
        return UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + t.dataOffsets.lowerBound)..<(dataStart + t.dataOffsets.upperBound)])
    }

    /// The tensor as f32 (F32, F16, BF16 exactly; F64 rounded to nearest), with its shape.
    public func tensor(_ name: String) throws -> Tensor {
        let t = try info(name)
        let out = Tensor(zeros: t.shape)
        try read(name, into: UnsafeMutableBufferPointer(start: out.pointer, count: out.count))
        return out
    }

    /// Converts the tensor to f32 into `destination` (exactly its element count), e.g. a slice of a
    /// parameter arena.
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        guard t.dtype.isFloat else { throw SafetensorsError(path, .notFloat(tensor: name, dtype: t.dtype)) }
        let n = t.elementCount
        guard destination.count == n else {
            throw SafetensorsError(path, .destinationSize(tensor: name, count: destination.count, expected: n))
        }
        if n == 0 { return }
        let src = try bytes(name)
        SafetensorsConvert.toFloat(t.dtype, src.baseAddress!, destination.baseAddress!, count: n)
    }

    /// The tensor's values as Int (integer and BOOL dtypes; a U64 above Int.max is an error).
    public func integers(_ name: String) throws -> [Int] {
        let t = try info(name)
        guard t.dtype.isInteger else { throw SafetensorsError(path, .notInteger(tensor: name, dtype: t.dtype)) }
        let src = try bytes(name)
        let n = t.elementCount
        var out = [Int](repeating: 0, count: n)
        for i in 0..<n {
            switch t.dtype {
            case .bool, .u8: out[i] = Int(src.load(fromByteOffset: i, as: UInt8.self))
            case .i8: out[i] = Int(src.load(fromByteOffset: i, as: Int8.self))
            case .i16: out[i] = Int(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            case .u16: out[i] = Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            case .i32: out[i] = Int(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case .u32: out[i] = Int(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .i64: out[i] = Int(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case .u64:
                let v = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                guard v <= UInt64(Int.max) else { throw SafetensorsError(path, .valueOutOfRange(tensor: name)) }
                out[i] = Int(v)
            default: preconditionFailure("isInteger covers the cases above")
            }
        }
        return out
    }
}

/// Float conversions of raw little-endian element bytes.
enum SafetensorsConvert {
    static func toFloat(_ dtype: SafetensorsDType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count n: Int) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * n)
        case .f16:
            Parallel.forRanges(n, minWork: 1 << 18) { r in
                for i in r { dst[i] = HalfFloat.toFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
        case .bf16:
            Parallel.forRanges(n, minWork: 1 << 18) { r in
                for i in r { dst[i] = HalfFloat.bfloat16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
        case .f64:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        default:
            preconditionFailure("toFloat called for \(dtype)")
        }
    }
}

// MARK: - Sharded checkpoints

/// The tensors of a checkpoint: one safetensors file, or the shards named by a
/// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`), read as one
/// collection. Each shard is opened (mapped) once.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// The file or index this checkpoint was opened from.
    public let path: String
    public let shards: [SafetensorsFile]
    /// Tensor names: the file's data order, or the index's `weight_map` order.
    public let names: [String]
    /// The index's `metadata` object (e.g. `total_size`), empty for a single file.
    public let indexMetadata: JSONObject
    let location: [String: Int]

    /// `path` is a `.safetensors` file, an index `.json` file, or a directory holding
    /// `model.safetensors` or `model.safetensors.index.json`.
    public init(path: String) throws {
        var isDir: ObjCBool = false
        var p = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            let single = (path as NSString).appendingPathComponent("model.safetensors")
            let index = (path as NSString).appendingPathComponent("model.safetensors.index.json")
            if FileManager.default.fileExists(atPath: single) { p = single }
            else if FileManager.default.fileExists(atPath: index) { p = index }
            else { throw IOError(path, "neither model.safetensors nor model.safetensors.index.json is in this directory") }
        }
        self.path = p
        if !p.hasSuffix(".json") {
            let f = try SafetensorsFile(path: p)
            shards = [f]
            names = f.names
            indexMetadata = JSONObject()
            location = Dictionary(uniqueKeysWithValues: f.names.map { ($0, 0) })
            return
        }
        // An index: small JSON, parsed whole.
        let indexFile = try MappedFile(path: p)
        let text = UnsafeBufferPointer(start: indexFile.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: indexFile.count)
        if let bad = UTF8Validation.firstInvalidByte(text) {
            throw SafetensorsError(p, .badIndex("index is not valid UTF-8 (byte \(bad + 1))"))
        }
        let json: JSON
        do throws(JSONParseError) { json = try JSONParser.parse(text) } catch {
            throw SafetensorsError(p, .badIndex("index is not JSON: \(error.description)"))
        }
        guard case .object(let top) = json else { throw SafetensorsError(p, .badIndex("index must be a JSON object")) }
        if let m = top["metadata"], case .object(let mo) = m { indexMetadata = mo } else { indexMetadata = JSONObject() }
        guard let wm = top["weight_map"] else { throw SafetensorsError(p, .badIndex("index has no \"weight_map\"")) }
        guard case .object(let map) = wm else {
            throw SafetensorsError(p, .badIndex("\"weight_map\" must be an object, found \(wm.typeName)"))
        }
        let dir = (p as NSString).deletingLastPathComponent
        var files: [SafetensorsFile] = []
        var fileIndex: [String: Int] = [:]
        var loc: [String: Int] = [:]
        var order: [String] = []
        for (tensor, v) in map {
            guard case .string(let shard) = v else {
                throw SafetensorsError(p, .badIndex("\"weight_map\".\"\(tensor)\" must be a file name, found \(v.typeName)"))
            }
            if shard.contains("/") || shard == ".." {
                throw SafetensorsError(p, .badIndex("shard name \"\(shard)\" must be a file in the index's directory"))
            }
            let k: Int
            if let existing = fileIndex[shard] { k = existing } else {
                k = files.count
                files.append(try SafetensorsFile(path: dir.isEmpty ? shard : (dir as NSString).appendingPathComponent(shard)))
                fileIndex[shard] = k
            }
            guard files[k].contains(tensor) else { throw SafetensorsError(files[k].path, .missingTensor(tensor)) }
            loc[tensor] = k
            order.append(tensor)
        }
        shards = files
        names = order
        location = loc
    }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The shard holding `name`.
    public func file(for name: String) throws -> SafetensorsFile {
        guard let k = location[name] else { throw SafetensorsError(path, .missingTensor(name)) }
        return shards[k]
    }

    public func info(_ name: String) throws -> SafetensorsTensorInfo { try file(for: name).info(name) }
    public func tensor(_ name: String) throws -> Tensor { try file(for: name).tensor(name) }
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try file(for: name).read(name, into: destination)
    }
    public func integers(_ name: String) throws -> [Int] { try file(for: name).integers(name) }
}

// MARK: - Writer

/// One tensor to write.
public struct SafetensorsEntry {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    enum Payload { case tensor(Tensor), raw([UInt8]) }
    let payload: Payload

    /// An f32 tensor, stored as F32, F16 or BF16 (both rounded to nearest even, as torch does).
    public init(_ name: String, _ tensor: Tensor, as dtype: SafetensorsDType = .f32) {
        precondition(dtype == .f32 || dtype == .f16 || dtype == .bf16, "a Tensor is written as F32, F16 or BF16")
        self.name = name; self.dtype = dtype; self.shape = tensor.shape; payload = .tensor(tensor)
    }

    /// Integers stored as I64 or I32 (e.g. position ids).
    public init(_ name: String, integers: [Int], shape: [Int], as dtype: SafetensorsDType = .i64) {
        precondition(dtype == .i64 || dtype == .i32, "integers are written as I64 or I32")
        precondition(integers.count == shape.reduce(1, *), "\(integers.count) integers for shape \(shape)")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(integers.count * dtype.bitSize / 8)
        for v in integers {
            if dtype == .i64 { withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) } }
            else { withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) } }
        }
        self.name = name; self.dtype = dtype; self.shape = shape; payload = .raw(bytes)
    }

    /// Bytes already in `dtype`'s little-endian layout (their count must match the shape).
    public init(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        self.name = name; self.dtype = dtype; self.shape = shape; payload = .raw(bytes)
    }

    var byteCount: Int {
        switch payload {
        case .tensor(let t): return t.count * dtype.bitSize / 8
        case .raw(let b): return b.count
        }
    }
}

public enum SafetensorsWriter {
    /// The header and layout the Rust crate's `serialize_to_file` produces: tensors sorted by descending
    /// dtype rank, then by name (bytewise); `__metadata__` first, its keys sorted bytewise (the crate's
    /// HashMap order is arbitrary, so with several keys only the order can differ); the JSON padded with
    /// spaces to a multiple of 8 bytes.
    public static func header(_ entries: [SafetensorsEntry], metadata: [String: String]?) throws -> (header: [UInt8], order: [Int]) {
        var seen = Set<String>()
        for e in entries {
            if !seen.insert(e.name).inserted { throw SafetensorsError("<writer>", .duplicateTensor(e.name)) }
            let elements = e.shape.reduce(1, *)
            if elements * e.dtype.bitSize != e.byteCount * 8 {
                throw SafetensorsError("<writer>", .sizeMismatch(tensor: e.name, bytes: e.byteCount, expected: elements * e.dtype.bitSize / 8))
            }
        }
        let order = entries.indices.sorted { a, b in
            let ra = entries[a].dtype.rank, rb = entries[b].dtype.rank
            if ra != rb { return ra > rb }
            return Array(entries[a].name.utf8).lexicographicallyPrecedes(entries[b].name.utf8)
        }
        var top = JSONObject()
        if let m = metadata {
            var mo = JSONObject()
            for k in m.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }) { mo[k] = .string(m[k]!) }
            top.appendUnchecked("__metadata__", .object(mo))
        }
        var offset = 0
        for i in order {
            let e = entries[i]
            let info = JSONObject([("dtype", .string(e.dtype.rawValue)), ("shape", .ints(e.shape)),
                                   ("data_offsets", .ints([offset, offset + e.byteCount]))])
            top.appendUnchecked(e.name, .object(info))
            offset += e.byteCount
        }
        var json: [UInt8] = []
        try JSONSerializer.write(.object(top), to: &json)
        while json.count % 8 != 0 { json.append(0x20) }
        if json.count > SafetensorsFile.maxHeaderBytes {
            throw SafetensorsError("<writer>", .headerTooLarge(headerBytes: UInt64(json.count), limit: SafetensorsFile.maxHeaderBytes))
        }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        return (out, order)
    }

    /// Writes `entries` to `path` atomically: a temporary file in the same directory, fsync, rename.
    public static func write(_ entries: [SafetensorsEntry], metadata: [String: String]? = nil, to path: String) throws {
        let (head, order): ([UInt8], [Int])
        do { (head, order) = try header(entries, metadata: metadata) } catch let e as SafetensorsError {
            throw SafetensorsError(path, e.problem)
        }
        let sink = try FileSink(path: path)
        try head.withUnsafeBytes { try sink.write($0) }
        var chunk = [UInt16](repeating: 0, count: 1 << 16)
        for i in order {
            let e = entries[i]
            switch e.payload {
            case .raw(let b): try b.withUnsafeBytes { try sink.write($0) }
            case .tensor(let t):
                if e.dtype == .f32 {
                    try sink.write(UnsafeRawBufferPointer(start: t.pointer, count: 4 * t.count))
                    continue
                }
                var done = 0
                while done < t.count {
                    let n = min(chunk.count, t.count - done)
                    for j in 0..<n {
                        let f = t.pointer[done + j]
                        chunk[j] = (e.dtype == .f16 ? HalfFloat.fromFloat(f) : HalfFloat.bfloat16FromFloat(f)).littleEndian
                    }
                    try chunk.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<(2 * n)])) }
                    done += n
                }
            }
        }
        try sink.finish()
    }
}
