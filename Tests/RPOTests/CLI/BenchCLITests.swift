// rpo-bench as `make bench` runs it: result records on standard output, errors in the rpo format with exit
// codes 1 (runtime) and 64 (usage). Tiny sizes: this checks the plumbing, not the speed.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct BenchCLITests {
    func records(_ r: ToolResult) throws -> [JSONObject] {
        try decodeAll(r.stdout, name: "stdout")
    }

    @Test func streamsGenerateReadRewrite() throws {
        let tmp = TempDir()
        let data = tmp.file("pairs.jsonl.zst")
        let gen = try Tools.run("rpo-bench", ["streams", "generate", "--records", "40", "--seed", "3",
                                              "--texts", TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz"), "-o", data])
        #expect(gen.status == 0, "\(gen.stderr)")
        #expect(gen.stdout.isEmpty)
        let recs = try decodeAll(try [UInt8](Data(contentsOf: URL(fileURLWithPath: data))))
        #expect(recs.count == 40)
        let first = recs[0]
        let prompt = try first.field("prompt_ids", source: "gen", record: 1).intArray()
        let chosen = try first.field("chosen_input_ids", source: "gen", record: 1).intArray()
        #expect(Array(chosen.prefix(prompt.count)) == prompt)
        #expect(try first.field("chosen_label_start", source: "gen", record: 1).int() == prompt.count)
        #expect(chosen.allSatisfy { $0 >= 0 && $0 < 50257 })

        let read = try Tools.run("rpo-bench", ["streams", "read", data])
        #expect(read.status == 0, "\(read.stderr)")
        let r = try records(read)
        #expect(r.count == 1)
        #expect(r.first?["bench"] == .string("streams.read"))
        #expect(r.first?["records"] == .int(40))
        let plain = try shell("zstd -dc '\(data)' | wc -c").1
        #expect(r.first?["bytes"]?.intValue == Int(String(decoding: plain, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))

        let copy = tmp.file("copy.jsonl.zst")
        let rw = try Tools.run("rpo-bench", ["streams", "rewrite", data, "-o", copy])
        #expect(rw.status == 0, "\(rw.stderr)")
        #expect(try records(rw).first?["bench"] == .string("streams.rewrite"))
        #expect(try decodeAll(try [UInt8](Data(contentsOf: URL(fileURLWithPath: copy)))) == recs)

        // Same seed, same records.
        let again = tmp.file("again.jsonl.zst")
        _ = try Tools.run("rpo-bench", ["streams", "generate", "--records", "40", "--seed", "3",
                                        "--texts", TestPaths.data("hh-rlhf/harmless-base/test.jsonl.gz"), "-o", again])
        #expect(try decodeAll(try [UInt8](Data(contentsOf: URL(fileURLWithPath: again)))) == recs)
    }

    @Test func sgemmAndLoadReport() throws {
        let s = try Tools.run("rpo-bench", ["sgemm", "--only", "minilm.qkv", "--threads", "1", "--seconds", "0.01"])
        #expect(s.status == 0, "\(s.stderr)")
        let r = try records(s)
        #expect(r.map { $0["impl"] } == [.string("panels"), .string("openblas")])  // rpo's sgemm, then OpenBLAS's threads
        #expect(r.allSatisfy { $0["shape"] == .string("minilm.qkv") && ($0["gflops"]?.doubleValue ?? 0) > 0 })

        let l = try Tools.run("rpo-bench", ["load", TestPaths.fixture("gguf/types.gguf"), "--repeat", "1"])
        // types.gguf holds an IQ4_NL tensor, which cannot be dequantized: a clear error, exit 1.
        #expect(l.status == 1)
        #expect(l.stderr.hasPrefix("rpo-bench: error: "))
        #expect(l.stderr.contains("IQ4_NL"))
        let st = try Tools.run("rpo-bench", ["load", TestPaths.fixture("safetensors/writer.safetensors"), "--repeat", "1"])
        #expect(st.status == 0, "\(st.stderr)")
        #expect(try records(st).first?["parameters"] == .int(15 + 5 + 16 + 12 + 0 + 2))
    }

    @Test func errorsAndUsage() throws {
        let missing = try Tools.run("rpo-bench", ["streams", "read", "/nonexistent/x.jsonl.zst"])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("rpo-bench: error: /nonexistent/x.jsonl.zst: "))
        #expect(missing.stdout.isEmpty)
        let usage = try Tools.run("rpo-bench", ["sgemm", "--threads", "0"])
        #expect(usage.status == 64)
        let help = try Tools.run("rpo-bench", ["streams", "generate", "--help"])
        #expect(help.status == 0)
        #expect(help.stdoutText.contains("chosen_input_ids"))
    }
}
