// Fixture access for the tokenizer tests: the parity texts (built from data/ exactly as
// scripts/make_tokenizer_fixtures.py builds them), the expected ids/decodes, and the committed tokenizer
// files decompressed once into a temporary directory.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum TokFixtures {
    static func fixture(_ rel: String) -> String { TestPaths.fixture("tokenizers/\(rel)") }

    /// All decompressed bytes of a (zstd/gzip/plain) file.
    static func readAll(_ path: String) throws -> [UInt8] {
        let src = try openDecompressed(path: path)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buf.withUnsafeMutableBytes { try src.read(into: $0) }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func parse(_ bytes: [UInt8]) throws -> JSON {
        try bytes.withUnsafeBufferPointer { try JSONParser.parse($0) }
    }

    static func jsonLines(_ path: String) throws -> [JSONObject] {
        let all = try readAll(path)
        return try all.split(separator: 0x0A).map { line in
            try Array(line).withUnsafeBufferPointer { try JSONParser.parse($0).objectValue! }
        }
    }

    /// Where the committed tokenizers are unpacked (once per test process).
    static let unpacked: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rpo-tok-fixtures-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Decompresses `<name>/*.zst` and copies the other files of the fixture directory `name`; returns the
    /// unpacked directory.
    static func directory(_ name: String) throws -> String {
        let src = fixture(name)
        let dst = (unpacked as NSString).appendingPathComponent(name)
        try? FileManager.default.createDirectory(atPath: dst, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: src) {
            let from = (src as NSString).appendingPathComponent(f)
            if f.hasSuffix(".zst") {
                let to = (dst as NSString).appendingPathComponent(String(f.dropLast(4)))
                if !FileManager.default.fileExists(atPath: to) {
                    try Data(try readAll(from)).write(to: URL(fileURLWithPath: to), options: .atomic)
                }
            } else {
                let to = (dst as NSString).appendingPathComponent(f)
                if !FileManager.default.fileExists(atPath: to) { try FileManager.default.copyItem(atPath: from, toPath: to) }
            }
        }
        return dst
    }

    /// A decompressed single fixture file (e.g. a vocab GGUF).
    static func file(_ rel: String) throws -> String {
        let dst = (unpacked as NSString).appendingPathComponent((rel as NSString).lastPathComponent.replacingOccurrences(of: ".zst", with: ""))
        if !FileManager.default.fileExists(atPath: dst) {
            try Data(try readAll(fixture(rel))).write(to: URL(fileURLWithPath: dst), options: .atomic)
        }
        return dst
    }

    static func lastRange(of needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.count - needle.count
        while i >= 0 {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i -= 1
        }
        return nil
    }

    /// HH rows 0..<500 (prompt through the last "\n\nAssistant:", chosen and rejected responses), the 805
    /// AlpacaEval instructions, the first 400 text_davinci_003 outputs, then the hand-made edge cases.
    static let texts: [String] = {
        var out: [String] = []
        let hh = try! readAll(TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz"))
        let marker = Array("\n\nAssistant:".utf8)
        for line in hh.split(separator: 0x0A).prefix(500) {
            let o = try! Array(line).withUnsafeBufferPointer { try JSONParser.parse($0).objectValue! }
            let c = Array(o["chosen"]!.stringValue!.utf8), r = Array(o["rejected"]!.stringValue!.utf8)
            let k = lastRange(of: marker, in: c)! + marker.count
            let kr = lastRange(of: marker, in: r)! + marker.count
            out.append(String(decoding: c[..<k], as: UTF8.self))
            out.append(String(decoding: c[k...], as: UTF8.self))
            out.append(String(decoding: r[kr...], as: UTF8.self))
        }
        let a = try! parse(readAll(TestPaths.data("alpaca_eval/example/outputs.json"))).arrayValue!
        out += a.map { $0.objectValue!["instruction"]!.stringValue! }
        let b = try! parse(readAll(TestPaths.data("alpaca_eval/results/text_davinci_003/model_outputs.json"))).arrayValue!
        out += b.prefix(400).map { $0.objectValue!["output"]!.stringValue! }
        out += edgeCases
        return out
    }()

    static let edgeCases: [String] = {
        try! parse(readAll(fixture("edge-cases.json"))).arrayValue!.map { $0.stringValue! }
    }()

    /// Expected records: ids, decoded (nil = the text itself), decoded with special tokens skipped.
    struct Expected { let ids: [Int]; let decoded: String?; let decodedSkip: String? }

    static func expected(_ name: String) throws -> [Expected] {
        try jsonLines(fixture("expected/\(name).jsonl.zst")).map { o in
            Expected(ids: o["ids"]!.arrayValue!.map { $0.intValue! }, decoded: o["decoded"]?.stringValue,
                     decodedSkip: o["decoded_skip"]?.stringValue)
        }
    }

    /// Checks every text: ids (batch encode, on all Parallel.threads) and both decodes; reports the first mismatches.
    static func checkParity(_ tok: Tokenizer, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let exp = try expected(name)
        #expect(exp.count == texts.count, "\(name): \(exp.count) expected records for \(texts.count) texts", sourceLocation: sourceLocation)
        guard exp.count == texts.count else { return }
        let got = tok.encode(batch: texts)
        var idMismatches: [String] = [], decodeMismatches: [String] = []
        for (i, e) in exp.enumerated() {
            if got[i] != e.ids {
                idMismatches.append("#\(i) \(texts[i].debugDescription.prefix(60)): got \(got[i].prefix(16)) expected \(e.ids.prefix(16))")
            }
            let d = tok.decode(e.ids), want = e.decoded ?? texts[i]
            let ds = tok.decode(e.ids, skipSpecialTokens: true), wantS = e.decodedSkip ?? want
            if d != want || ds != wantS {
                decodeMismatches.append("#\(i) got \(d.debugDescription.prefix(60)) / \(ds.debugDescription.prefix(40)) expected \(want.debugDescription.prefix(60)) / \(wantS.debugDescription.prefix(40))")
            }
        }
        #expect(idMismatches.isEmpty, "\(name): \(idMismatches.count) of \(texts.count) texts encode differently:\n\(idMismatches.prefix(5).joined(separator: "\n"))", sourceLocation: sourceLocation)
        #expect(decodeMismatches.isEmpty, "\(name): \(decodeMismatches.count) of \(texts.count) decodes differ:\n\(decodeMismatches.prefix(5).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
}
