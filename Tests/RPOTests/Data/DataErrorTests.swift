// Every error path of the readers, the input source, the element tokenizer and the raw mode: each is a
// located, self-describing error (never a crash).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

/// The real SmolLM2 tokenizer with its EOS hidden, to reach the "no EOS" errors.
struct TokenizerWithoutEOS: TextTokenizer {
    let base: Tokenizer
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int] { base.encode(text, addSpecialTokens: addSpecialTokens) }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) throws -> String { base.decode(ids, skipSpecialTokens: skipSpecialTokens) }
    var bosTokenId: Int? { base.bosTokenId }
    var eosTokenId: Int? { nil }
    var eosToken: String? { nil }
}

@Suite struct DataErrorTests {
    func readError(_ kind: DatasetKind, _ lines: [String], split: String = "test") -> String? {
        let bytes = Array(lines.joined(separator: "\n").utf8)
        do {
            _ = try DatasetReader.read(kind, from: try DataRecordSource(MemorySource(bytes, name: "in")), options: DatasetOptions(split: split))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        (DatasetKind.tldr, #"{"info":{"post":"p"},"summaries":[{"text":"a"},{"text":"b"}],"choice":2}"#, #"in:1: field "choice" must be 0 or 1, found 2"#),
        (.tldr, #"{"info":{"post":"p"},"summaries":[{"text":"a"},"b"],"choice":0}"#, #"in:1: field "summaries"[1] must be an object"#),
        (.tldr, #"{"summaries":[],"choice":0}"#, #"in:1: missing field "info""#),
        (.tldr, #"{"info":{"post":3},"summaries":[],"choice":0}"#, #"in:1: field "post" must be a string, found number"#),
        (.shp, #"{"history":"h","human_ref_A":"a","human_ref_B":"b","score_A":1,"score_B":2,"labels":3}"#, #"in:1: field "labels" must be 0 or 1, found 3"#),
        (.shp, #"{"history":"h","human_ref_A":"a","human_ref_B":"b","score_A":0,"score_B":2,"labels":1}"#, "in:1: scores must be positive to form a score ratio (score_A 0.0, score_B 2.0)"),
        (.ultrabin, #"{"prompt":"p","chosen":[],"rejected":[]}"#, #"in:1: field "chosen" must be a non-empty array of messages"#),
        (.ultrabin, #"{"prompt":"p","chosen":[{"role":"assistant"}],"rejected":[]}"#, #"in:1: missing field "content""#),
        (.alpacaeval, #"{"output":"o"}"#, #"in:1: missing field "instruction""#),
        (.oasst, #"{"message_id":"m","text":"t","role":"prompter"}"#, #"in:1: missing field "lang""#),
        (.oasst, #"{"message_tree_id":"t","prompt":{"message_id":"m","text":"t","role":"prompter","lang":"en","replies":[1]}}"#, "in:1: replies[0] of message m must be an object"),
        (.generic, #"{"prompt":["hi"],"chosen":"a","rejected":"b"}"#, #"in:1: field "prompt"[0] must be a message object"#),
        (.generic, #"{"prompt":"p","chosen":"a"}"#, #"in:1: missing field "rejected""#),
        (.unpaired, #"{"prompt":"p","completion":"c","label":"yes"}"#, #"in:1: field "label" must be true/false (or 1/0)"#),
        (.unpaired, #"{"prompt":"p","completion":"c"}"#, #"in:1: missing field "label""#),
    ])
    func readerErrors(_ kind: DatasetKind, _ line: String, _ expected: String) {
        #expect(readError(kind, [line]) == expected)
    }

    @Test func invalidUTF8InAJSONArray() {
        let bytes: [UInt8] = Array("[{\"instruction\": \"".utf8) + [0xC3, 0x28] + Array("\"}]".utf8)
        let e = #expect(throws: RecordError.self) { _ = try DataRecordSource(MemorySource(bytes, name: "a.json")) }
        #expect(e?.description == "a.json: invalid UTF-8 at byte 19")
    }

    @Test func tokenizerWithoutEOS() throws {
        let t = TokenizerWithoutEOS(base: try SharedTokenizers.smolLM2)
        let official = #expect(throws: DataError.self) { _ = try ElementTokenizer(tokenizer: t, mode: .official) }
        #expect(official?.description == "the tokenizer has no EOS token, which the official mode appends as text")
        let concat = #expect(throws: DataError.self) { _ = try ElementTokenizer(tokenizer: t, mode: .concat) }
        #expect(concat?.description == "the tokenizer has no EOS token id, which the concat mode appends")
    }

    @Test func rawModeErrors() throws {
        func run(_ text: String, decode: Bool = false) throws -> String? {
            var o = RawTokenizeOptions(field: decode ? "text_ids" : "text")
            o.decode = decode
            do {
                try RawTokenize.run(LineReader(MemorySource(Array(text.utf8), name: "raw")), tokenizer: try SharedTokenizers.smolLM2,
                                    options: o, to: RecordWriter(MemorySink()))
                return nil
            } catch let e as RecordError { return e.description }
        }
        #expect(try run("{\"text\": \"a\"}\n[1]\n") == "raw:2: expected a JSON object, found array")
        #expect(try run("{\"text\": \"a\"}\n{\"text\": \n") == "raw:2: invalid JSON at byte 10: unexpected end of input")
        #expect(try run("{\"text_ids\": [1, \"x\"]}", decode: true) == #"raw:1: field "text_ids"[1] must be an integer, found string"#)
        #expect(try run("plain text\n{\"not\": \"json mode\"}\n") == nil)   // plain-text input: every line is text
    }
}
