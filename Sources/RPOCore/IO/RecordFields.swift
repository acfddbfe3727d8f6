// Typed access to record fields with errors that name the field, the source and the record.
// Usage: `let ids = try reader.field(record, "prompt_ids").intArray()`.
import Foundation

/// A field looked up in a record, carrying where it came from so that conversions can report errors.
public struct RecordField {
    public let key: String
    public let value: JSON?
    public let source: String
    public let record: Int?

    package init(key: String, value: JSON?, source: String, record: Int?) {
        self.key = key; self.value = value; self.source = source; self.record = record
    }

    func fail(_ message: String) -> RecordError { RecordError(source: source, record: record, message) }

    func present() throws -> JSON {
        guard let v = value else { throw fail("missing field \"\(key)\"") }
        return v
    }

    public var exists: Bool { value != nil && value != .null }

    public func string() throws -> String {
        let v = try present()
        guard case .string(let s) = v else { throw fail("field \"\(key)\" must be a string, found \(v.typeName)") }
        return s
    }

    public func int() throws -> Int {
        let v = try present()
        guard let i = v.intValue else { throw fail("field \"\(key)\" must be an integer, found \(describe(v))") }
        return i
    }

    public func double() throws -> Double {
        let v = try present()
        guard let d = v.doubleValue else { throw fail("field \"\(key)\" must be a number, found \(v.typeName)") }
        return d
    }

    public func bool() throws -> Bool {
        let v = try present()
        guard case .bool(let b) = v else { throw fail("field \"\(key)\" must be a boolean, found \(v.typeName)") }
        return b
    }

    public func object() throws -> JSONObject {
        let v = try present()
        guard case .object(let o) = v else { throw fail("field \"\(key)\" must be an object, found \(v.typeName)") }
        return o
    }

    public func array() throws -> [JSON] {
        let v = try present()
        guard case .array(let a) = v else { throw fail("field \"\(key)\" must be an array, found \(v.typeName)") }
        return a
    }

    /// An array of integers (token ids, indices).
    public func intArray() throws -> [Int] {
        let a = try array()
        var out = [Int](); out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard let x = e.intValue else {
                throw fail("field \"\(key)\"[\(i)] must be an integer, found \(describe(e))")
            }
            out.append(x)
        }
        return out
    }

    /// An array of finite numbers as Float (embeddings, weights).
    public func floatArray() throws -> [Float] {
        let a = try array()
        var out = [Float](); out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard let d = e.doubleValue else {
                throw fail("field \"\(key)\"[\(i)] must be a number, found \(e.typeName)")
            }
            out.append(Float(d))
        }
        return out
    }

    public func stringArray() throws -> [String] {
        let a = try array()
        return try a.enumerated().map { i, e in
            guard case .string(let s) = e else {
                throw fail("field \"\(key)\"[\(i)] must be a string, found \(e.typeName)")
            }
            return s
        }
    }

    func describe(_ v: JSON) -> String {
        if let d = v.doubleValue { return "\(d)" }
        return v.typeName
    }
}

extension RecordReader {
    /// The field `key` of `record` (the record last read), for typed access with located errors.
    public func field(_ record: JSONObject, _ key: String) -> RecordField {
        RecordField(key: key, value: record[key], source: name, record: recordNumber)
    }
}

extension JSONObject {
    /// The field `key`, located at `source`:`record` for error messages.
    public func field(_ key: String, source: String, record: Int?) -> RecordField {
        RecordField(key: key, value: self[key], source: source, record: record)
    }
}
