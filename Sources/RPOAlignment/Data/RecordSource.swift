// Input records for the dataset readers: JSON Lines (zstd, gzip or plain), or one JSON array of objects
// (AlpacaEval's outputs.json, datasets exported as arrays), recognised by the first non-blank byte.
import Foundation
import RPOCore

/// A data or configuration error of the dataset pipeline that is not about one input record.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public final class DataRecordSource {
    public let name: String
    let reader: RecordReader?
    var array: [JSON] = []
    var position = 0
    /// 1-based number of the record last returned: its line in JSON Lines, its element in an array.
    public private(set) var recordNumber = 0
    /// Whether the input is a JSON array rather than JSON Lines.
    public let isArray: Bool

    public convenience init(path: String?, maxLineBytes: Int = 256 << 20) throws {
        try self.init(try openDecompressed(path: path), maxLineBytes: maxLineBytes)
    }

    public init(_ source: ByteSource, maxLineBytes: Int = 256 << 20) throws {
        name = source.name
        let peek = PeekSource(source)
        var n = 1
        var first: UInt8? = nil
        while first == nil {
            let head = try peek.peek(n)
            if head.count < n { break }
            let c = head[n - 1]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { n += 1 } else { first = c }
        }
        if first == UInt8(ascii: "[") {
            isArray = true
            reader = nil
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = try chunk.withUnsafeMutableBytes { try peek.read(into: $0) }
                if got == 0 { break }
                bytes.append(contentsOf: chunk[0..<got])
            }
            let parsed: JSON
            do {
                parsed = try bytes.withUnsafeBufferPointer { buf in
                    if let bad = UTF8Validation.firstInvalidByte(buf) {
                        throw RecordError(source: source.name, record: nil, "invalid UTF-8 at byte \(bad + 1)")
                    }
                    do throws(JSONParseError) { return try JSONParser.parse(buf) } catch {
                        throw RecordError(source: source.name, record: nil, error.description)
                    }
                }
            }
            guard case .array(let a) = parsed else { throw RecordError(source: source.name, record: nil, "expected a JSON array") }
            array = a
        } else {
            isArray = false
            reader = RecordReader(peek, maxLineBytes: maxLineBytes)
        }
    }

    /// The next record, nil at the end.
    public func next() throws -> JSONObject? {
        if let r = reader {
            let rec = try r.read()
            recordNumber = r.recordNumber
            return rec
        }
        guard position < array.count else { return nil }
        let v = array[position]
        position += 1
        recordNumber = position
        guard case .object(let o) = v else {
            throw RecordError(source: name, record: recordNumber, "expected a JSON object, found \(v.typeName)")
        }
        return o
    }

    /// An error about the record last returned.
    public func error(_ message: String) -> RecordError {
        RecordError(source: name, record: recordNumber, message)
    }

    /// The field `key` of `record` (the record last returned), for typed access with located errors.
    public func field(_ record: JSONObject, _ key: String) -> RecordField {
        RecordField(key: key, value: record[key], source: name, record: recordNumber)
    }
}
