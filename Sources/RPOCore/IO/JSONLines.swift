// JSON Lines records over the byte streams: one JSON object per line, read with bounded memory (a line
// at most `maxLineBytes`), every error naming the source and the line number; written compact, one per
// line, optionally zstd-compressed. With two or more cores, decompression runs ahead of parsing and
// compression behind serialization on a second thread (bounded queues of 1 MB chunks), as a
// `zstdcat | parse | zstd` pipeline would.
import Foundation

/// An error about one record: printed by the tools as `<source>:<record>: <message>`.
public struct RecordError: Error, CustomStringConvertible, Sendable {
    public let source: String
    /// 1-based line number of the record in its source; nil when the error is not about one record.
    public let record: Int?
    public let message: String

    public init(source: String, record: Int?, _ message: String) {
        self.source = source; self.record = record; self.message = message
    }

    public var description: String {
        if let r = record { return "\(source):\(r): \(message)" }
        return "\(source): \(message)"
    }
}

/// Splits a byte source into lines ("\n"-terminated; a final unterminated line counts; a trailing "\r"
/// is removed) and validates that each is UTF-8.
public final class LineReader {
    public let source: ByteSource
    public let maxLineBytes: Int
    public private(set) var lineNumber = 0
    /// Bytes taken from the source so far (the decompressed size, for throughput figures).
    public private(set) var bytesRead = 0
    var buf: UnsafeMutableRawBufferPointer
    var start = 0, end = 0
    var eof = false

    public var name: String { source.name }

    public init(_ source: ByteSource, maxLineBytes: Int = 256 << 20) {
        self.source = source
        self.maxLineBytes = maxLineBytes
        buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit { buf.deallocate() }

    /// Calls `body` with the next line's bytes (valid until the next call) and returns its result;
    /// nil at the end of input.
    public func withNextLine<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R? {
        var scanFrom = start
        while true {
            // Look for a newline in what is buffered.
            if scanFrom < end, let nl = memchr(buf.baseAddress! + scanFrom, 0x0A, end - scanFrom) {
                let nlIndex = buf.baseAddress!.distance(to: nl)
                let line = try finishLine(from: start, to: nlIndex)
                start = nlIndex + 1
                return try body(line)
            }
            if end - start > maxLineBytes {
                lineNumber += 1
                throw RecordError(source: name, record: lineNumber, "line longer than \(maxLineBytes) bytes")
            }
            if eof {
                if start == end { return nil }
                let line = try finishLine(from: start, to: end)
                start = end
                return try body(line)
            }
            // Make room: move the partial line to the front, grow if it fills the buffer.
            if start > 0 {
                if end > start { memmove(buf.baseAddress!, buf.baseAddress! + start, end - start) }
                end -= start; start = 0
            }
            if end == buf.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buf.count * 2, alignment: 16)
                bigger.baseAddress!.copyMemory(from: buf.baseAddress!, byteCount: end)
                buf.deallocate()
                buf = bigger
            }
            scanFrom = end
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[end...]))
            if n == 0 { eof = true } else { end += n; bytesRead += n }
        }
    }

    func finishLine(from a: Int, to b: Int) throws -> UnsafeBufferPointer<UInt8> {
        lineNumber += 1
        var e = b
        if e > a && buf[e - 1] == 0x0D { e -= 1 }
        if e - a > maxLineBytes {
            throw RecordError(source: name, record: lineNumber, "line longer than \(maxLineBytes) bytes")
        }
        let line = UnsafeBufferPointer(start: buf.baseAddress!.assumingMemoryBound(to: UInt8.self) + a, count: e - a)
        if let bad = UTF8Validation.firstInvalidByte(line) {
            throw RecordError(source: name, record: lineNumber, "invalid UTF-8 at byte \(bad + 1)")
        }
        return line
    }

    /// The next line as a String, nil at the end.
    public func nextLine() throws -> String? {
        try withNextLine { String(decoding: $0, as: UTF8.self) }
    }
}

/// Reads JSON Lines records (objects). Blank lines are not records and are passed over (their line
/// numbers still count); anything else that is not a JSON object is an error.
public final class RecordReader: Sequence, IteratorProtocol {
    public let lines: LineReader
    public var name: String { lines.name }
    /// Line number of the record last returned.
    public var recordNumber: Int { lines.lineNumber }
    /// The error that ended iteration through `Sequence`, if any (prefer `read()`, which throws).
    public private(set) var error: Error?

    /// A compressed source is decompressed ahead on a second thread when there is more than one core.
    public init(_ source: ByteSource, maxLineBytes: Int = 256 << 20) {
        let decompressing = source is ZstdSource || source is GzipSource
        lines = LineReader(decompressing && Parallel.threads > 1 ? ReadAheadSource(source) : source,
                           maxLineBytes: maxLineBytes)
    }

    /// Opens `path` (nil or "-" = stdin), decompressing zstd or gzip as found.
    public convenience init(path: String?, maxLineBytes: Int = 256 << 20) throws {
        self.init(try openDecompressed(path: path), maxLineBytes: maxLineBytes)
    }

    /// The next record, nil at the end of input.
    public func read() throws -> JSONObject? {
        while true {
            let parsed: JSON?? = try lines.withNextLine { line -> JSON? in
                if isBlank(line) { return nil }
                do throws(JSONParseError) { return try JSONParser.parse(line) } catch {
                    throw RecordError(source: name, record: lines.lineNumber, error.description)
                }
            }
            guard let p = parsed else { return nil }  // end of input
            guard let value = p else { continue }     // blank line
            guard case .object(let obj) = value else {
                throw RecordError(source: name, record: lines.lineNumber,
                                  "expected a JSON object, found \(value.typeName)")
            }
            return obj
        }
    }

    public func next() -> JSONObject? {
        guard error == nil else { return nil }
        do { return try read() } catch { self.error = error; return nil }
    }

    /// An error about the record last read.
    public func error(_ message: String) -> RecordError {
        RecordError(source: name, record: recordNumber, message)
    }

    package func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in line where !(c == 0x20 || c == 0x09 || c == 0x0D) { return false }
        return true
    }
}

/// Writes records as JSON Lines: whole lines only, buffered, compressed when asked. Call `finish()` at
/// the end; a writer dropped without it ends no frame (so a consumer sees a truncated stream, not a short
/// valid one) and leaves no output file.
public final class RecordWriter {
    public let sink: ByteSink
    var buffer: [UInt8] = []
    let flushThreshold = 1 << 20
    public private(set) var recordsWritten = 0
    /// Compresses on a second thread (zstd output with more than one core).
    let behind: WriteBehind?

    public init(_ sink: ByteSink) {
        self.sink = sink
        buffer.reserveCapacity(flushThreshold + 4096)
        behind = sink is ZstdSink && Parallel.threads > 1 ? WriteBehind(sink, bufferBytes: flushThreshold + 4096) : nil
    }

    deinit { behind?.close() }

    /// Opens `path` (nil or "-" = stdout) with compression `compression` (.none or .zstd).
    public convenience init(path: String?, compression: Compression, level: Int = 3) throws {
        let file = try FileSink(path: path)
        switch compression {
        case .none: self.init(file)
        case .zstd: self.init(try ZstdSink(file, level: level))
        case .gzip: throw IOError(file.name, "gzip output is not supported; use zstd or plain")
        }
    }

    public var name: String { sink.name }

    public func write(_ record: JSONObject) throws {
        do { try JSONSerializer.write(record, to: &buffer) } catch {
            throw IOError(name, "record \(recordsWritten + 1): \(error.description)")
        }
        buffer.append(0x0A)
        recordsWritten += 1
        if buffer.count >= flushThreshold { try drain() }
    }

    /// Writes a line of text as is (a trailing newline is added).
    public func writeLine(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        recordsWritten += 1
        if buffer.count >= flushThreshold { try drain() }
    }

    func drain() throws {
        if buffer.isEmpty { return }
        if let b = behind { try b.submit(&buffer); return }
        try buffer.withUnsafeBytes { try sink.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Makes everything written so far visible downstream (for slow producers such as training metrics).
    public func flush() throws {
        try drain()
        try behind?.waitIdle()
        try sink.flush()
    }

    public func finish() throws {
        try drain()
        try behind?.waitIdle()
        behind?.close()
        try sink.finish()
    }
}

// MARK: - Second-thread stages

/// Reads an inner source (a decompressor) ahead on its own thread into a few chunks, so that decompression
/// overlaps parsing. Data and errors arrive in order; dropping the reader stops the thread after its
/// current read.
final class ReadAheadSource: ByteSource {
    struct Chunk { var bytes: [UInt8]; var count: Int }

    final class State: @unchecked Sendable {
        let inner: ByteSource
        let cond = NSCondition()
        var ready: [Chunk] = []     // filled, in order
        var spare: [[UInt8]] = []
        var ended = false           // the inner source is at its end or failed
        var failure: Error?
        var cancelled = false
        init(_ inner: ByteSource) { self.inner = inner }
    }

    let state: State
    var current: Chunk?
    var pos = 0
    var name: String { state.inner.name }

    init(_ inner: ByteSource, chunkBytes: Int = 1 << 20, depth: Int = 3) {
        state = State(inner)
        for _ in 0..<depth { state.spare.append([UInt8](repeating: 0, count: chunkBytes)) }
        let s = state
        let t = Thread { ReadAheadSource.produce(s) }
        t.name = "rpo-read-ahead"
        t.start()
    }

    deinit {
        state.cond.lock()
        state.cancelled = true
        state.cond.broadcast()
        state.cond.unlock()
    }

    static func produce(_ s: State) {
        while true {
            s.cond.lock()
            while s.spare.isEmpty && !s.cancelled { s.cond.wait() }
            if s.cancelled { s.cond.unlock(); return }
            var bytes = s.spare.removeLast()
            s.cond.unlock()
            var n = 0
            var eof = false
            var failure: Error?
            let capacity = bytes.count
            bytes.withUnsafeMutableBytes { b in
                // Fill at least half the chunk, so the hand-overs stay few.
                while n < capacity / 2 {
                    do {
                        let k = try s.inner.read(into: UnsafeMutableRawBufferPointer(rebasing: b[n...]))
                        if k == 0 { eof = true; break }
                        n += k
                    } catch { failure = error; break }
                }
            }
            s.cond.lock()
            if n > 0 { s.ready.append(Chunk(bytes: bytes, count: n)) } else { s.spare.append(bytes) }
            let done = eof || failure != nil
            if done { s.ended = true; s.failure = failure }
            s.cond.broadcast()
            s.cond.unlock()
            if done { return }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if let c = current, pos < c.count {
                let n = min(buffer.count, c.count - pos)
                c.bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pos, byteCount: n) }
                pos += n
                return n
            }
            state.cond.lock()
            if let c = current { state.spare.append(c.bytes); current = nil }
            state.cond.broadcast()
            while state.ready.isEmpty && !state.ended { state.cond.wait() }
            if !state.ready.isEmpty {
                current = state.ready.removeFirst()
                pos = 0
                state.cond.unlock()
                continue
            }
            let failure = state.failure
            state.cond.unlock()
            if let f = failure { throw f }
            return 0
        }
    }
}

/// Writes full buffers to a sink (a compressor) on its own thread, so that compression overlaps
/// serialization. A write error is thrown by the next `submit`, `waitIdle` or by `finish`.
final class WriteBehind: @unchecked Sendable {
    var sink: ByteSink?  // cleared when the thread ends, so the writer holds the last reference
    let cond = NSCondition()
    var queue: [[UInt8]] = []
    var spare: [[UInt8]] = []
    var busy = false
    var closing = false
    var exited = false
    var failure: Error?

    init(_ sink: ByteSink, bufferBytes: Int, depth: Int = 2) {
        self.sink = sink
        for _ in 0..<depth {
            var b: [UInt8] = []
            b.reserveCapacity(bufferBytes)
            spare.append(b)
        }
        let t = Thread { [self] in run() }
        t.name = "rpo-write-behind"
        t.start()
    }

    func run() {
        cond.lock()
        while true {
            while queue.isEmpty && !closing { cond.wait() }
            if queue.isEmpty { break }
            var b = queue.removeFirst()
            busy = true
            let skip = failure != nil
            let out = sink!
            cond.unlock()
            var error: Error?
            if !skip {
                do { try b.withUnsafeBytes { try out.write($0) } } catch let e { error = e }
            }
            b.removeAll(keepingCapacity: true)
            cond.lock()
            busy = false
            if failure == nil, let e = error { failure = e }
            spare.append(b)
            cond.broadcast()
        }
        sink = nil
        exited = true
        cond.broadcast()
        cond.unlock()
    }

    /// Queues `full` for writing and gives back an empty buffer in its place.
    func submit(_ full: inout [UInt8]) throws {
        cond.lock()
        defer { cond.unlock() }
        while spare.isEmpty && failure == nil { cond.wait() }
        if let f = failure { throw f }
        let empty = spare.removeLast()
        queue.append(full)
        full = empty
        cond.broadcast()
    }

    /// Waits until everything queued is written.
    func waitIdle() throws {
        cond.lock()
        defer { cond.unlock() }
        while (!queue.isEmpty || busy) && !exited { cond.wait() }
        if let f = failure { throw f }
    }

    /// Ends the thread after the queued buffers (those still queued after a failure are dropped) and waits
    /// for it.
    func close() {
        cond.lock()
        closing = true
        cond.broadcast()
        while !exited { cond.wait() }
        cond.unlock()
    }
}

/// UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) with an ASCII fast path.
public enum UTF8Validation {
    /// Index of the first byte of the first invalid sequence, or nil when all of `b` is valid.
    public static func firstInvalidByte(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = b.count
        var i = 0
        guard let p = b.baseAddress else { return nil }
        while i < n {
            // 8 ASCII bytes at a time.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            if i >= n { break }
            let c = p[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; hi = 0x9F
            case 0xF0: need = 3; lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; hi = 0x8F
            default: return i
            }
            if i + need >= n { return i }  // the sequence runs past the end
            let c1 = p[i + 1]
            if c1 < lo || c1 > hi { return i }
            var k = 2
            while k <= need {
                if p[i + k] < 0x80 || p[i + k] > 0xBF { return i }
                k += 1
            }
            i += need + 1
        }
        return nil
    }
}
