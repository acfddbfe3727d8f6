// rpo-bench lm: usage errors exit 64 with the tool's diagnostic; a tiny run prints one JSON object with the
// fields scripts/bench/20-lm.sh reads (the numbers themselves are not checked: timing belongs to make bench).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct LMBenchCLITests {
    @Test func usageErrors() throws {
        for args in [["lm", "--batch", "0"], ["lm", "--seq", "1"], ["lm", "--prompt-fraction", "1.5"]] {
            let r = try Tools.run("rpo-bench", args)
            #expect(r.status == 64, "\(args): exit \(r.status)")
            #expect(r.stderr.contains("rpo-bench") || r.stderr.contains("Error"), "\(r.stderr)")
        }
        let r = try Tools.run("rpo-bench", ["lm", "--shape", "gpt5"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("rpo-bench: error: ") && r.stderr.contains("unknown shape \"gpt5\""), "\(r.stderr)")
    }

    @Test func reportsOneJSONObject() throws {
        let r = try Tools.run("rpo-bench", ["lm", "--shape", "gpt2-124m", "--batch", "1", "--seq", "8", "--steps", "1", "--forward-only"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONParser.parse(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue
        for k in ["tokens_per_s", "s_per_step", "cpu_s_per_step", "model_gflops", "sgemm_gflops", "utilisation", "peak_rss_mb"] {
            #expect(o?[k]?.doubleValue != nil, "missing \(k)")
        }
        #expect(o?["parameters"]?.intValue == 124_439_808)  // GPT-2 small (tied head), as HF counts it
    }
}
