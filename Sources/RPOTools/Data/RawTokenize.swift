// `rpo-tokenize --raw` / `--decode`: tokenise one string field of any record (adding `<field>_ids`) or decode
// one id-array field (adding the text field), passing every other field through. Input lines that are not
// JSON (the first non-blank line does not start with '{') are plain text, each line taken as {"text": line}.
import Foundation
import RPOCore
import RPOAlignment

public struct RawTokenizeOptions: Sendable {
    /// The field read: a string (tokenise) or an array of ids (decode).
    public var field: String
    public var decode = false
    /// Tokenise: add the tokenizer's special tokens (HF `tokenizer(text)`); decode: keep them in the text (HF default).
    public var specialTokens = true
    public var blockSize = 1024

    public init(field: String) { self.field = field }

    /// The field written: `<field>_ids` when tokenising; when decoding, `<field>` without its `_ids`
    /// suffix, or `<field>_text`.
    public var outputField: String {
        if !decode { return field + "_ids" }
        return field.hasSuffix("_ids") && field.count > 4 ? String(field.dropLast(4)) : field + "_text"
    }
}

public enum RawTokenize {
    /// Processes every line of `lines`; returns the number of records written.
    @discardableResult
    public static func run(_ lines: LineReader, tokenizer: any TextTokenizer, options: RawTokenizeOptions,
                           to writer: RecordWriter, progress: ((Int) -> Void)? = nil) throws -> Int {
        var plainText: Bool? = nil
        var block: [(record: JSONObject, line: Int)] = []
        var written = 0
        let name = lines.name
        func flush() throws {
            let items = block
            let out = try OrderedParallel.map(items.count) { i in
                try transform(items[i].record, line: items[i].line, source: name, tokenizer, options)
            }
            for r in out { try writer.write(r) }
            written += out.count
            block.removeAll(keepingCapacity: true)
            progress?(written)
        }
        while let line = try lines.nextLine() {
            let number = lines.lineNumber
            let blank = line.allSatisfy { $0 == " " || $0 == "\t" }
            if plainText == nil {
                if blank { continue }
                plainText = !line.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("{")
            }
            if plainText! {
                block.append((JSONObject([("text", .string(line))]), number))
            } else {
                if blank { continue }
                let parsed: JSON
                do throws(JSONParseError) { parsed = try JSONParser.parse(line) } catch {
                    throw RecordError(source: lines.name, record: number, error.description)
                }
                guard case .object(let o) = parsed else {
                    throw RecordError(source: lines.name, record: number, "expected a JSON object, found \(parsed.typeName)")
                }
                block.append((o, number))
            }
            if block.count >= options.blockSize { try flush() }
        }
        if !block.isEmpty { try flush() }
        return written
    }

    static func transform(_ record: JSONObject, line: Int, source: String, _ tok: any TextTokenizer,
                          _ o: RawTokenizeOptions) throws -> JSONObject {
        var r = record
        let f = record.field(o.field, source: source, record: line)
        if o.decode {
            let ids = try f.intArray()
            if let k = ids.firstIndex(where: { !tok.isTokenId($0) }) {
                throw RecordError(source: source, record: line,
                                  "field \"\(o.field)\"[\(k)] = \(ids[k]) is not a token id of the tokenizer")
            }
            r[o.outputField] = .string(try tok.decode(ids, skipSpecialTokens: !o.specialTokens))
        } else {
            r[o.outputField] = .ints(try tok.encode(try f.string(), addSpecialTokens: o.specialTokens))
        }
        return r
    }
}
