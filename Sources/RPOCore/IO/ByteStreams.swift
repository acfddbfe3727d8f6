// Byte sources and sinks: files and standard streams, zstd and gzip decompression (recognised by magic
// bytes, concatenated frames/members accepted, truncation an error) and zstd compression. Fixed buffers:
// memory does not grow with the input.
import CZlib
import CZstd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An I/O failure, naming the file (`<stdin>`/`<stdout>` for the standard streams).
public struct IOError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let message: String
    public init(_ source: String, _ message: String) { self.source = source; self.message = message }
    public var description: String { "\(source): \(message)" }
}

/// A write to a pipe (or socket) whose reader has gone (EPIPE): the tools end quietly, as a filter killed by
/// SIGPIPE does (`rpo-tool ... | head -1`).
public struct BrokenPipe: Error, CustomStringConvertible, Sendable {
    public let source: String
    public init(_ source: String) { self.source = source }
    public var description: String { "\(source): write failed: broken pipe (the reader has gone)" }
}

/// Something that fills a buffer: returns the number of bytes read, 0 at the end.
public protocol ByteSource: AnyObject {
    var name: String { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A file descriptor (an opened file or standard input).
public final class FileSource: ByteSource {
    public let name: String
    let fd: Int32
    let owns: Bool

    /// `path` nil or "-" reads standard input.
    public init(path: String?) throws {
        if path == nil || path == "-" {
            name = "<stdin>"; fd = 0; owns = false
        } else {
            name = path!
            fd = open(path!, O_RDONLY | O_CLOEXEC)
            owns = true
            if fd < 0 { throw IOError(path!, String(cString: strerror(errno))) }
            var st = stat()
            if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw IOError(path!, "is a directory")
            }
        }
    }

    deinit { if owns { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw IOError(name, "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Bytes held in memory (tests, and small inputs already loaded).
public final class MemorySource: ByteSource {
    public let name: String
    let data: [UInt8]
    var position = 0
    public init(_ data: [UInt8], name: String = "<memory>") { self.data = data; self.name = name }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, data.count - position)
        if n > 0 {
            data.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
            }
        }
        position += n
        return n
    }
}

public enum Compression: Equatable, Sendable {
    case none, gzip, zstd
}

/// Opens `path` (nil or "-" = stdin) and returns a source of its decompressed bytes, with the format
/// recognised from the first bytes: zstd (28 B5 2F FD), gzip (1F 8B), anything else is plain.
public func openDecompressed(path: String?) throws -> ByteSource {
    try openDecompressed(FileSource(path: path))
}

public func openDecompressed(_ raw: ByteSource) throws -> ByteSource {
    let peek = PeekSource(raw)
    let head = try peek.peek(4)
    if head.count >= 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD {
        return try ZstdSource(peek)
    }
    // zstd skippable frames (magic 0x184D2A5?) also begin a zstd stream.
    if head.count >= 4 && (head[0] & 0xF0) == 0x50 && head[1] == 0x2A && head[2] == 0x4D && head[3] == 0x18 {
        return try ZstdSource(peek)
    }
    if head.count >= 2 && head[0] == 0x1F && head[1] == 0x8B {
        return try GzipSource(peek)
    }
    return peek
}

/// Lets the format detector look at the first bytes without consuming them.
package final class PeekSource: ByteSource {
    let inner: ByteSource
    var pending: [UInt8] = []
    package var name: String { inner.name }
    package init(_ inner: ByteSource) { self.inner = inner }

    package func peek(_ n: Int) throws -> [UInt8] {
        var tmp = [UInt8](repeating: 0, count: n)
        while pending.count < n {
            let got = try tmp.withUnsafeMutableBytes { try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(n - pending.count)])) }
            if got == 0 { break }
            pending.append(contentsOf: tmp[0..<got])
        }
        return pending
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !pending.isEmpty {
            let n = min(buffer.count, pending.count)
            pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            pending.removeFirst(n)
            return n
        }
        return try inner.read(into: buffer)
    }
}

/// Streaming zstd decompression; accepts concatenated frames; a stream ending inside a frame is an error.
public final class ZstdSource: ByteSource {
    let inner: ByteSource
    let dctx: OpaquePointer
    var inBuf: UnsafeMutableRawBufferPointer
    var inPos = 0, inEnd = 0
    var eof = false
    var frameOpen = false  // inside a frame that has not been completely decoded and flushed
    public var name: String { inner.name }

    init(_ inner: ByteSource) throws {
        self.inner = inner
        guard let d = ZSTD_createDCtx() else { throw IOError(inner.name, "cannot create a zstd context") }
        dctx = d
        inBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
    }

    deinit { ZSTD_freeDCtx(dctx); inBuf.deallocate() }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if inPos == inEnd && !eof {
                inEnd = try inner.read(into: inBuf); inPos = 0
                if inEnd == 0 { eof = true }
            }
            if inPos == inEnd && eof {
                if frameOpen { throw IOError(name, "truncated zstd stream (the input ends inside a frame)") }
                return 0
            }
            var input = ZSTD_inBuffer(src: inBuf.baseAddress, size: inEnd, pos: inPos)
            var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let r = ZSTD_decompressStream(dctx, &output, &input)
            if ZSTD_isError(r) != 0 {
                throw IOError(name, "invalid zstd data: \(String(cString: ZSTD_getErrorName(r)))")
            }
            inPos = input.pos
            frameOpen = r != 0
            if output.pos > 0 { return output.pos }
        }
    }
}

/// Streaming gzip decompression (zlib); accepts concatenated members; truncation is an error.
public final class GzipSource: ByteSource {
    let inner: ByteSource
    var stream = z_stream()
    var inBuf: UnsafeMutableRawBufferPointer
    var eof = false
    var memberOpen = true
    public var name: String { inner.name }

    init(_ inner: ByteSource) throws {
        self.inner = inner
        inBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
        let r = inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        if r != Z_OK { throw IOError(inner.name, "cannot initialise zlib (\(r))") }
    }

    deinit { inflateEnd(&stream); inBuf.deallocate() }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if stream.avail_in == 0 && !eof {
                let n = try inner.read(into: inBuf)
                if n == 0 { eof = true } else {
                    stream.next_in = inBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(n)
                }
            }
            if stream.avail_in == 0 && eof {
                if memberOpen { throw IOError(name, "truncated gzip stream (the input ends inside a member)") }
                return 0
            }
            if !memberOpen {
                // Another member follows the previous one.
                inflateReset(&stream)
                memberOpen = true
            }
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(buffer.count)
            let r = inflate(&stream, Z_NO_FLUSH)
            let produced = buffer.count - Int(stream.avail_out)
            switch r {
            case Z_STREAM_END: memberOpen = false
            case Z_OK, Z_BUF_ERROR: break
            default:
                let msg = stream.msg.map { String(cString: $0) } ?? "error \(r)"
                throw IOError(name, "invalid gzip data: \(msg)")
            }
            if produced > 0 { return produced }
        }
    }
}

// MARK: - Sinks

/// Where bytes go. `finish()` completes the output (ends a compressed frame, renames a temporary file
/// into place); an output that is dropped without `finish()` leaves no file behind.
public protocol ByteSink: AnyObject {
    var name: String { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes everything written so far readable by a consumer (ends a compressed block).
    func flush() throws
    func finish() throws
}

/// Standard output, or a file written under a temporary name and renamed into place by `finish()`.
/// A path that exists and is not a regular file (a character device such as /dev/null, a FIFO, a socket) is
/// written in place, as zstd and gzip do, never replaced; a symbolic link is followed (to a regular file: the
/// temporary file goes beside that file, the link stays); a directory is an error.
public final class FileSink: ByteSink {
    public let name: String
    let fd: Int32
    let finalPath: String?
    let tempPath: String?
    /// The registration of `tempPath` for removal on SIGINT/SIGTERM.
    let tempSlot: Int?
    /// False for standard output (not closed).
    let owns: Bool
    var finished = false

    /// `path` nil or "-" writes standard output.
    public init(path: String?) throws {
        if path == nil || path == "-" {
            name = "<stdout>"; fd = 1; finalPath = nil; tempPath = nil; tempSlot = nil; owns = false
            return
        }
        let p = path!
        name = p
        owns = true
        var target = p
        var st = stat()
        if lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
            // Follow the link; a dangling one is written through (creating its target).
            if let resolved = realpath(p, nil) {
                target = String(cString: resolved)
                free(resolved)
                if stat(target, &st) != 0 { st = stat() }
            } else {
                st = stat()
                st.st_mode = S_IFLNK
            }
        } else if lstat(p, &st) != 0 {
            st = stat()  // absent: a new regular file
        }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFDIR { throw IOError(p, "is a directory") }
        if kind != 0 && kind != S_IFREG {
            // A device, FIFO or socket (or a dangling link): written in place, never replaced.
            fd = open(p, O_WRONLY | O_CLOEXEC | (kind == S_IFLNK ? O_CREAT | O_TRUNC : 0), 0o644)
            if fd < 0 { throw IOError(p, String(cString: strerror(errno))) }
            finalPath = nil; tempPath = nil; tempSlot = nil
            return
        }
        finalPath = target
        let dir = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).\(getpid()).tmp"
        tempPath = tmp
        tempSlot = TempFiles.register(tmp)
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            let e = errno
            TempFiles.unregister(tempSlot)
            throw IOError(p, String(cString: strerror(e)))
        }
    }

    deinit {
        if owns { close(fd) }
        if let t = tempPath, !finished { unlink(t) }
        TempFiles.unregister(tempSlot)
    }

    /// True when this sink is a terminal (used to refuse compressed output there).
    public var isTerminal: Bool { isatty(fd) != 0 }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw BrokenPipe(name) }
                throw IOError(name, "write failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    public func flush() throws {}

    public func finish() throws {
        guard !finished else { return }
        if let t = tempPath, let f = finalPath {
            if fsync(fd) != 0 && errno != EINVAL { throw IOError(name, "fsync failed: \(String(cString: strerror(errno)))") }
            if rename(t, f) != 0 { throw IOError(name, "rename failed: \(String(cString: strerror(errno)))") }
        }
        finished = true
        TempFiles.unregister(tempSlot)
    }
}

/// Bytes collected in memory (tests).
public final class MemorySink: ByteSink {
    public let name: String
    public private(set) var data: [UInt8] = []
    public private(set) var finished = false
    public init(name: String = "<memory>") { self.name = name }
    public func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
    public func flush() throws {}
    public func finish() throws { finished = true }
}

/// zstd compression in front of another sink. One frame per stream, ended by `finish()`.
public final class ZstdSink: ByteSink {
    let inner: ByteSink
    let cctx: OpaquePointer
    var outBuf: UnsafeMutableRawBufferPointer
    var finished = false
    public var name: String { inner.name }

    public init(_ inner: ByteSink, level: Int = 3) throws {
        self.inner = inner
        guard let c = ZSTD_createCCtx() else { throw IOError(inner.name, "cannot create a zstd context") }
        cctx = c
        let r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
        if ZSTD_isError(r) != 0 {
            ZSTD_freeCCtx(cctx)
            throw IOError(inner.name, "invalid zstd level \(level): \(String(cString: ZSTD_getErrorName(r)))")
        }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        outBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit { ZSTD_freeCCtx(cctx); outBuf.deallocate() }

    func run(_ bytes: UnsafeRawBufferPointer, _ mode: ZSTD_EndDirective) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: outBuf.baseAddress, size: outBuf.count, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, mode)
            if ZSTD_isError(remaining) != 0 {
                throw IOError(name, "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            if output.pos > 0 { try inner.write(UnsafeRawBufferPointer(start: outBuf.baseAddress, count: output.pos)) }
            let done = mode == ZSTD_e_continue ? input.pos == input.size : remaining == 0
            if done { return }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try run(bytes, ZSTD_e_continue) }

    public func flush() throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), ZSTD_e_flush)
        try inner.flush()
    }

    public func finish() throws {
        guard !finished else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), ZSTD_e_end)
        finished = true
        try inner.finish()
    }
}
