// Read-only memory maps of whole files, for the weight formats (safetensors, GGUF): opening a file costs
// nothing but the header parse, pages are read on first touch and shared with the page cache, and the
// tensors' bytes are addressed in place. In-memory buffers stand in for files in tests.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a file, mapped read-only (or copied from memory). Immutable: safe to read from any thread.
public final class MappedFile: @unchecked Sendable {
    /// The path (or the name given to an in-memory buffer), used in error messages.
    public let name: String
    /// All of the file's bytes; valid for the lifetime of this object.
    public let bytes: UnsafeRawBufferPointer
    let mapped: Bool

    public var count: Int { bytes.count }

    /// Maps `path` read-only. An empty file gives an empty buffer.
    public init(path: String) throws {
        name = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw IOError(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw IOError(path, "stat failed: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw IOError(path, "is a directory") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 64))
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw IOError(path, "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    /// A copy of `data` in memory, under `name` (tests, and files built in memory).
    public init(bytes data: [UInt8], name: String) {
        self.name = name
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 64)
        data.withUnsafeBytes { if $0.count > 0 { b.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        bytes = UnsafeRawBufferPointer(b)
        mapped = false
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), bytes.count)
        } else {
            UnsafeMutableRawBufferPointer(mutating: bytes).deallocate()
        }
    }
}

/// IEEE half and bfloat16 to float, exactly (every 16-bit value has an exact float32 equivalent).
public enum HalfFloat {
    /// binary16 -> binary32: zeros, subnormals, normals, infinities and NaNs (payload kept, as numpy does).
    @inline(__always)
    public static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            // Zero or subnormal: mant * 2^-24, exact in float32.
            let magnitude = Float(mant) * 0x1p-24
            return Float(bitPattern: magnitude.bitPattern | sign)
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    /// bfloat16 -> binary32: the upper half of the float's bits.
    @inline(__always)
    public static func bfloat16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// binary32 -> binary16, rounding to nearest even (as torch `.half()` and numpy `astype(float16)`).
    @inline(__always)
    public static func fromFloat(_ f: Float) -> UInt16 { Float16(f).bitPattern }

    /// binary32 -> bfloat16, rounding to nearest even; NaN becomes the quiet NaN 0x7FC0 (as torch does).
    @inline(__always)
    public static func bfloat16FromFloat(_ f: Float) -> UInt16 {
        if f.isNaN { return 0x7FC0 }
        let u = f.bitPattern
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }
}
