// The second-thread stages of the record streams (decompression ahead of parsing, compression behind
// serialization), tested directly so that they are covered on one-core machines too: data and errors in
// order, early drops, failures surfacing at the next call.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// Yields `data` in pieces of varying size, then fails (or ends).
final class PiecewiseSource: ByteSource {
    let name = "pieces"
    let data: [UInt8]
    let failAtEnd: Bool
    var pos = 0, step = 0
    init(_ data: [UInt8], failAtEnd: Bool) { self.data = data; self.failAtEnd = failAtEnd }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if pos == data.count {
            if failAtEnd { throw IOError(name, "broken at the end") }
            return 0
        }
        step += 1
        let n = min(buffer.count, data.count - pos, [1, 7, 4096, 100_000, 3][step % 5])
        data.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pos, byteCount: n) }
        pos += n
        return n
    }
}

/// Collects bytes; fails once more than `limit` bytes were written.
final class LimitedSink: ByteSink, @unchecked Sendable {
    let name = "limited"
    let limit: Int
    var data: [UInt8] = []
    var finished = false
    init(limit: Int) { self.limit = limit }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if data.count + bytes.count > limit { throw IOError(name, "disk full") }
        data.append(contentsOf: bytes)
    }
    func flush() throws {}
    func finish() throws { finished = true }
}

@Suite struct PipelineTests {
    static func drain(_ s: ByteSource, chunk: Int = 333) throws -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buf.withUnsafeMutableBytes { try s.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    @Test func readAheadDeliversEverythingInOrder() throws {
        var rng = RNG(seed: 3)
        let data = (0..<3_000_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let ahead = ReadAheadSource(PiecewiseSource(data, failAtEnd: false), chunkBytes: 1 << 16, depth: 2)
        #expect(try PipelineTests.drain(ahead) == data)
        #expect(try PipelineTests.drain(ahead).isEmpty)  // stays at the end
        #expect(ahead.name == "pieces")
    }

    @Test func readAheadErrorComesAfterTheData() throws {
        let data = Array(repeating: UInt8(ascii: "x"), count: 200_000)
        let ahead = ReadAheadSource(PiecewiseSource(data, failAtEnd: true), chunkBytes: 1 << 14, depth: 3)
        var got = 0
        var buf = [UInt8](repeating: 0, count: 1000)
        do {
            while true {
                let n = try buf.withUnsafeMutableBytes { try ahead.read(into: $0) }
                #expect(n > 0)
                got += n
            }
        } catch let e as IOError {
            #expect(e.message == "broken at the end")
        }
        #expect(got == data.count)
    }

    @Test func readAheadDroppedEarlyStops() throws {
        for _ in 0..<20 {
            let ahead = ReadAheadSource(PiecewiseSource([UInt8](repeating: 1, count: 1 << 20), failAtEnd: false),
                                        chunkBytes: 4096, depth: 2)
            var buf = [UInt8](repeating: 0, count: 10)
            _ = try buf.withUnsafeMutableBytes { try ahead.read(into: $0) }
        }  // each dropped with its producer blocked on a full queue: it must wake and end, not hang
    }

    @Test func writeBehindWritesInOrderAndReportsFailure() throws {
        let sink = LimitedSink(limit: 10_000)
        let behind = WriteBehind(sink, bufferBytes: 1024)
        var buffer: [UInt8] = []
        for k in 0..<5 {
            buffer = [UInt8](repeating: UInt8(k), count: 1000)
            try behind.submit(&buffer)
            #expect(buffer.isEmpty)
        }
        try behind.waitIdle()
        #expect(sink.data == (0..<5).flatMap { [UInt8](repeating: UInt8($0), count: 1000) })
        // Past the limit: the failure surfaces at a later call, and stays.
        var thrown = false
        do {
            for _ in 0..<20 {
                buffer = [UInt8](repeating: 9, count: 1000)
                try behind.submit(&buffer)
            }
            try behind.waitIdle()
        } catch let e as IOError {
            thrown = true
            #expect(e.message == "disk full")
        }
        #expect(thrown)
        #expect(throws: IOError.self) { try behind.waitIdle() }
        behind.close()
        #expect(behind.sink == nil)  // the thread let go of the sink
        #expect(sink.data.count == 10_000)
    }

    @Test func compressedRecordWriterReportsASinkFailure() throws {
        // zstd output: with more than one core the compression runs on a second thread.
        let sink = LimitedSink(limit: 50_000)
        let w = RecordWriter(try ZstdSink(sink))
        #expect(throws: IOError.self) {
            for r in sampleRecords(30_000) { try w.write(r) }
            try w.finish()
        }
        #expect(!sink.finished)
    }

    @Test func compressedRecordsRoundTripThroughBothThreads() throws {
        let recs = sampleRecords(20_000)
        let mem = MemorySink()
        let w = RecordWriter(try ZstdSink(mem))
        for r in recs { try w.write(r) }
        try w.flush()
        #expect(!mem.data.isEmpty)  // flush made the frames so far visible
        try w.finish()
        #expect(mem.finished)
        let reader = RecordReader(ReadAheadSource(try openDecompressed(MemorySource(mem.data, name: "z"))))
        var back: [JSONObject] = []
        while let r = try reader.read() { back.append(r) }
        #expect(back == recs)
    }
}
