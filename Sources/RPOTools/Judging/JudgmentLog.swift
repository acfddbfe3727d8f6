// The output of `rpo-judge --resume`: plain JSON Lines, appended and handed to the kernel one whole line per
// judgment (one write(2) each), so a run stopped at any moment leaves every finished judgment readable and
// at most one partial last line, which the next --resume cuts off before appending. Why not zstd frames per
// record: a frame per few-hundred-byte line compresses little, and a killed run would leave a truncated frame
// that every reader rejects. When a resumed run judged some comparisons again (--retry-failed), the file is
// rewritten at the end (temporary name, then rename) with one record per comparison in input order.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RPOCore
import RPOAlignment

public final class JudgmentLog: JudgmentSink {
    public let path: String
    /// The judgments already in the file when it was opened.
    public let previous: PreviousJudgments
    /// Bytes of an unfinished last line that were cut off.
    public let droppedBytes: Int
    var fd: Int32

    /// Opens `path` for appending, creating it if absent, after reading back what it holds.
    public init(path: String) throws {
        self.path = path
        var records: [(line: Int, record: JSONObject)] = []
        var dropped = 0
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else { throw IOError(path, "cannot read the file to resume") }
            let bytes = [UInt8](data)
            if bytes.count >= 4 && bytes[0] == 0x28 && bytes[1] == 0xB5 && bytes[2] == 0x2F && bytes[3] == 0xFD {
                throw IOError(path, "is zstd-compressed; --resume appends to plain JSON Lines (name the output .jsonl)")
            }
            let complete = (bytes.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
            dropped = bytes.count - complete
            if dropped > 0 && truncate(path, off_t(complete)) != 0 {
                throw IOError(path, "cannot cut the unfinished last line: \(String(cString: strerror(errno)))")
            }
            let reader = RecordReader(MemorySource(Array(bytes[0..<complete]), name: path))
            while let r = try reader.read() { records.append((reader.recordNumber, r)) }
        }
        previous = PreviousJudgments(source: path, records: records)
        droppedBytes = dropped
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw IOError(path, String(cString: strerror(errno))) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends one record as one line with one write.
    public func write(_ record: JSONObject) throws {
        var line: [UInt8] = []
        do { try JSONSerializer.write(record, to: &line) } catch { throw IOError(path, error.description) }
        line.append(0x0A)
        try line.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOError(path, "write failed: \(String(cString: strerror(errno)))")
                }
                off += n
            }
        }
    }

    /// Syncs and closes; with `rewrite`, first replaces the file by these records (one per comparison, in
    /// input order), written under a temporary name and renamed into place.
    public func finish(rewrite: [JSONObject]? = nil) throws {
        if fsync(fd) != 0 && errno != EINVAL { throw IOError(path, "fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        guard let records = rewrite else { return }
        let w = RecordWriter(try FileSink(path: path))
        for r in records { try w.write(r) }
        try w.finish()
    }
}
