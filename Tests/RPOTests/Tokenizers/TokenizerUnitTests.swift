// Stage-level checks: the two BPE merge loops against each other, the split-behaviour folds against HF's
// documented examples, batch encoding against one-by-one encoding, and the scanners on inputs that exercise
// each regex alternative.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite("Tokenizer stages")
struct TokenizerUnitTests {
    /// The heap loop (HF Word::merge_all) is the oracle of the linear scan, and vice versa: both must give
    /// the same symbols on every GPT-2 piece of the parity texts, and on long artificial pieces.
    @Test func bpeMergeLoopsAgree() throws {
        let tok = try TokenizerParityTests.gpt2.get()
        guard case .bpe(let m) = tok.model else { Issue.record("not BPE"); return }
        var s = BPEScratch()
        var pieces = Pieces(), pre = PreTokenizerScratch()
        var checked = 0
        var texts = Array(TokFixtures.texts.prefix(400))
        texts.append(String(repeating: "abcabcab", count: 40))
        texts.append(String(repeating: "ē", count: 70))
        for text in texts {
            pieces.reset()
            pieces.bytes = Array(text.utf8)
            pieces.spans = [ByteSpan(0, pieces.bytes.count)]
            pieces.atStart = [true]
            // Whole text as one piece (long) and as its pre-tokenized pieces.
            var spans = pieces.spans
            tok.preTokenizer!.apply(&pieces, &pre)
            spans += pieces.spans
            for sp in spans {
                var a: [Int32] = []
                pieces.bytes.withUnsafeBufferPointer { b in m.initialSymbols(b.baseAddress!, Int(sp.start), Int(sp.end), &a) }
                guard a.count > 1 else { continue }
                var lin = a, ranks: [UInt32] = []
                m.mergeLinear(&lin, &ranks)
                s.symbols = a
                m.mergeHeap(&s)
                #expect(lin == s.symbols, "piece \(sp): linear \(lin.prefix(8)) heap \(s.symbols.prefix(8))")
                checked += 1
            }
        }
        #expect(checked > 5000)
    }

    /// HF's split behaviours on "the-final--countdown" split at "-" (tokenizers normalizer.rs tests).
    @Test(arguments: [
        (SplitBehavior.removed, ["the", "final", "countdown"]),
        (.isolated, ["the", "-", "final", "-", "-", "countdown"]),
        (.mergedWithPrevious, ["the-", "final-", "-", "countdown"]),
        (.mergedWithNext, ["the", "-final", "-", "-countdown"]),
        (.contiguous, ["the", "-", "final", "--", "countdown"]),
    ])
    func splitBehaviours(_ behavior: SplitBehavior, _ want: [String]) {
        let pt = PreTokenizer(steps: [.split(.literal([UInt8(ascii: "-")]), behavior, invert: false)])
        var p = Pieces(), s = PreTokenizerScratch()
        p.bytes = Array("the-final--countdown".utf8)
        p.spans = [ByteSpan(0, p.bytes.count)]
        p.atStart = [true]
        pt.apply(&p, &s)
        let got = p.spans.map { String(decoding: p.bytes[Int($0.start)..<Int($0.end)], as: UTF8.self) }
        #expect(got == want)
    }

    static func pieces(_ pattern: SplitPattern, _ text: String) -> [String] {
        var out: [ByteSpan] = []
        let b = Array(text.utf8)
        b.withUnsafeBufferPointer { pattern.findMatches($0.baseAddress!, 0, b.count, into: &out) }
        return out.map { String(decoding: b[Int($0.start)..<Int($0.end)], as: UTF8.self) }
    }

    /// Expected splits as onig gives them (from HF tokenizers 0.23.3 `pre_tokenize_str`).
    @Test func scannerAlternatives() {
        #expect(Self.pieces(.gpt2, "Hello  world's 123!? \n\n x") == ["Hello", " ", " world", "'s", " 123", "!?", " \n\n", " x"])
        #expect(Self.pieces(.gpt2, "'S ''s\t\tb  ") == ["'", "S", " ''", "s", "\t", "\t", "b", "  "])
        #expect(Self.pieces(.llama3(maxDigits: 3), "I'M 12345 \tx\n\n y.\n") == ["I", "'M", " ", "123", "45", " ", "\tx", "\n\n", " y", ".\n"])
        #expect(Self.pieces(.llama3(maxDigits: 1), "a 42") == ["a", " ", "4", "2"])
        #expect(Self.pieces(.wordsAndSymbols, "Hey, you_2! ") == ["Hey", ",", "you_2", "!"])
    }

    @Test func batchEncodingMatchesSingle() throws {
        let tok = try TokenizerParityTests.smollm2.get()
        let texts = Array(TokFixtures.texts.prefix(300))
        let batch = tok.encode(batch: texts, addSpecialTokens: false)
        for (i, t) in texts.enumerated() { #expect(batch[i] == tok.encode(t, addSpecialTokens: false)) }
    }
}
