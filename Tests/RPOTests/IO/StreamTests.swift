// Record streams: zstd / gzip / plain round trips, concatenated frames, and every malformed-input error
// with its source and line number.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// Runs a shell command, feeding `input` on stdin; returns (status, stdout).
func shell(_ command: String, input: [UInt8] = []) throws -> (Int32, [UInt8]) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let writer = Thread { inPipe.fileHandleForWriting.write(Data(input)); try? inPipe.fileHandleForWriting.close() }
    writer.start()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, [UInt8](out))
}

func sampleRecords(_ n: Int) -> [JSONObject] {
    (0..<n).map { i in
        JSONObject([
            ("id", .string("r\(i)")),
            ("text", .string("line \(i): \"quoted\", tab\t, ünïcödé, 🙂")),
            ("ids", .ints((0..<(i % 50)).map { $0 * 7 + i })),
            ("score", .double(Double(i) / 3)),
        ])
    }
}

func encode(_ records: [JSONObject], compression: Compression) throws -> [UInt8] {
    let mem = MemorySink()
    let sink: ByteSink = compression == .zstd ? try ZstdSink(mem) : mem
    let w = RecordWriter(sink)
    for r in records { try w.write(r) }
    try w.finish()
    return mem.data
}

func decodeAll(_ bytes: [UInt8], name: String = "test.jsonl") throws -> [JSONObject] {
    let reader = RecordReader(try openDecompressed(MemorySource(bytes, name: name)))
    var out: [JSONObject] = []
    while let r = try reader.read() { out.append(r) }
    return out
}

/// The RecordError thrown while reading all of `bytes`.
func readError(_ bytes: [UInt8], maxLineBytes: Int = 1 << 20) -> Error? {
    do {
        let reader = RecordReader(try openDecompressed(MemorySource(bytes, name: "in.jsonl")), maxLineBytes: maxLineBytes)
        while try reader.read() != nil {}
        return nil
    } catch { return error }
}

@Suite struct StreamTests {
    @Test(arguments: [Compression.none, .zstd])
    func roundTrip(_ c: Compression) throws {
        let recs = sampleRecords(3000)
        let bytes = try encode(recs, compression: c)
        #expect(try decodeAll(bytes) == recs)
        if c == .zstd { #expect(bytes.count < 3000 * 40, "zstd output should be compressed") }
    }

    @Test func gzipInputAndConcatenatedMembers() throws {
        let recs = sampleRecords(500)
        let plain = try encode(recs, compression: .none)
        let half = plain.count / 2
        let cut = plain[..<half].lastIndex(of: 0x0A)! + 1
        let (s1, g1) = try shell("gzip -c", input: Array(plain[..<cut]))
        let (s2, g2) = try shell("gzip -c", input: Array(plain[cut...]))
        #expect(s1 == 0 && s2 == 0)
        #expect(try decodeAll(g1 + g2) == recs)
    }

    @Test func concatenatedZstdFrames() throws {
        let a = sampleRecords(10), b = sampleRecords(20)
        let bytes = try encode(a, compression: .zstd) + encode(b, compression: .zstd)
        #expect(try decodeAll(bytes) == a + b)
    }

    @Test func systemZstdReadsOurOutputAndWeReadItsOutput() throws {
        let recs = sampleRecords(200)
        let z = try encode(recs, compression: .zstd)
        let (status, plain) = try shell("zstd -dc", input: z)
        #expect(status == 0)
        #expect(plain == (try encode(recs, compression: .none)))
        let (s2, theirs) = try shell("zstd -c -19", input: plain)
        #expect(s2 == 0)
        #expect(try decodeAll(theirs) == recs)
    }

    @Test func truncatedZstdIsAnError() throws {
        let z = try encode(sampleRecords(300), compression: .zstd)
        let err = readError(Array(z[..<(z.count - 7)]))
        #expect(String(describing: err!).contains("truncated zstd"))
    }

    @Test func truncatedGzipIsAnError() throws {
        let (_, g) = try shell("gzip -c", input: try encode(sampleRecords(300), compression: .none))
        let err = readError(Array(g[..<(g.count - 5)]))
        #expect(String(describing: err!).contains("truncated gzip"))
    }

    @Test func corruptZstdIsAnError() throws {
        var z = try encode(sampleRecords(300), compression: .zstd)
        for i in 20..<40 { z[i] ^= 0x5A }
        let err = readError(z)
        #expect(err != nil)
    }

    @Test func malformedJSONNamesTheLine() throws {
        let text = "{\"a\":1}\n\n{\"a\":2}\n{\"a\": tru}\n"
        let err = readError(Array(text.utf8)) as? RecordError
        #expect(err?.source == "in.jsonl")
        #expect(err?.record == 4)  // the blank line counts
        #expect(err?.message.contains("invalid literal") == true)
    }

    @Test func nonObjectLineIsAnError() throws {
        let err = readError(Array("{\"a\":1}\n[1,2]\n".utf8)) as? RecordError
        #expect(err?.record == 2)
        #expect(err?.message == "expected a JSON object, found array")
    }

    @Test func invalidUTF8IsAnError() throws {
        var bytes = Array("{\"a\":\"ok\"}\n{\"a\":\"".utf8)
        bytes += [0xC3, 0x28]  // a lead byte followed by a non-continuation byte
        bytes += Array("\"}\n".utf8)
        let err = readError(bytes) as? RecordError
        #expect(err?.record == 2)
        #expect(err?.message == "invalid UTF-8 at byte 7")
        // Overlong encodings, surrogates and bytes past U+10FFFF are invalid too.
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82]] {
            #expect(UTF8Validation.firstInvalidByte(bad.withUnsafeBufferPointer { $0 }) == 0, "\(bad)")
        }
        let good = Array("aé€𐍈".utf8)
        #expect(good.withUnsafeBufferPointer { UTF8Validation.firstInvalidByte($0) } == nil)
    }

    @Test func overLongLineIsAnError() throws {
        let long = "{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}\n"
        let err = readError(Array(("{\"a\":1}\n" + long).utf8), maxLineBytes: 4096) as? RecordError
        #expect(err?.record == 2)
        #expect(err?.message == "line longer than 4096 bytes")
        // Lines longer than the internal buffer but under the limit are fine.
        let big = "{\"a\":\"" + String(repeating: "y", count: 3 << 20) + "\"}"
        let recs = try decodeAll(Array((big + "\n" + big).utf8))
        #expect(recs.count == 2)
    }

    @Test func crlfAndMissingFinalNewline() throws {
        let recs = try decodeAll(Array("{\"a\":1}\r\n{\"a\":2}".utf8))
        #expect(recs.map { $0["a"] } == [.int(1), .int(2)])
    }

    @Test func emptyInputHasNoRecords() throws {
        #expect(try decodeAll([]).isEmpty)
        #expect(try decodeAll(try encode([], compression: .zstd)).isEmpty)
    }

    @Test func closedPipeIsAWriteError() throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        let sink = FileSinkForTest(fd: fds[1])
        let w = RecordWriter(sink)
        #expect(throws: IOError.self) {
            for r in sampleRecords(20_000) { try w.write(r) }
            try w.finish()
        }
        close(fds[1])
    }

    @Test func fileOutputAppearsOnlyWhenFinished() throws {
        let dir = TempDir()
        let path = dir.file("out.jsonl.zst")
        do {
            let w = try RecordWriter(path: path, compression: .zstd)
            try w.write(sampleRecords(1)[0])
            #expect(!FileManager.default.fileExists(atPath: path))
            // dropped without finish()
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no temporary file left")
        let w = try RecordWriter(path: path, compression: .zstd)
        try w.write(sampleRecords(1)[0])
        try w.finish()
        let r = try RecordReader(path: path)
        #expect(try r.read() == sampleRecords(1)[0])
    }

    @Test func missingFileIsAnError() {
        #expect(throws: IOError.self) { _ = try RecordReader(path: "/nonexistent/x.jsonl") }
    }
}

/// A sink on a raw file descriptor (for the closed-pipe test).
final class FileSinkForTest: ByteSink {
    let fd: Int32
    let name = "<pipe>"
    init(fd: Int32) { self.fd = fd }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
        if n < 0 { throw IOError(name, "write failed: \(String(cString: strerror(errno)))") }
    }
    func flush() throws {}
    func finish() throws {}
}
