// rpo-bench streams: throughput of reading (decompress + split + validate + parse) and rewriting (parse +
// serialize + compress) zstd JSON Lines of tokenized preference pairs, in MB/s of decompressed text.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

struct Streams: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "JSON Lines stream throughput (MB/s of decompressed text).",
        discussion: """
            Example (scripts/bench/01-streams.sh runs this next to zstdcat | python3 json.loads):
              rpo-bench streams generate --records 60000 -o pairs.jsonl.zst
              rpo-bench streams read pairs.jsonl.zst
              rpo-bench streams rewrite pairs.jsonl.zst -o copy.jsonl.zst
            """,
        subcommands: [Generate.self, Read.self, Rewrite.self]
    )

    static func result(_ bench: String, bytes: Int, records: Int, seconds: Double) throws {
        try emit([("bench", .string(bench)), ("bytes", .int(bytes)), ("records", .int(records)),
                  ("seconds", .double(seconds)), ("mb_per_s", rounded(Double(bytes) / seconds / 1e6))])
    }
}

extension Streams {
    /// Records shaped like rpo-tokenize's examples: HH-RLHF dialogues split into prompt and completions,
    /// with token ids drawn from a Zipf-like distribution over a 50,257-token vocabulary (about one id per
    /// four bytes of text).
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write benchmark records (tokenized HH-RLHF pairs with synthetic token ids).",
            discussion: """
                Output record (one per line):
                  {"id":"hh-000017","prompt_id":"p-000017","dataset":"hh","split":"test","prompt":"\\n\\nHuman: ...",
                   "chosen":" ...","rejected":" ...","prompt_ids":[...],"chosen_input_ids":[...],
                   "chosen_label_start":83,"rejected_input_ids":[...],"rejected_label_start":83,"sft_target":false}
                """
        )

        @Option(help: "Number of records.")
        var records: Int = 60_000

        @Option(help: "HH-RLHF JSON Lines ({chosen, rejected}) to take the texts from.")
        var texts: String = "data/hh-rlhf/harmless-base/test.jsonl.gz"

        @OptionGroup var seed: SeedOptions
        @OptionGroup var output: OutputOptions

        mutating func validate() throws {
            if records < 1 { throw ValidationError("--records must be positive") }
        }

        func run() throws {
            try Tool.run("rpo-bench") { _ in
                let reader = try RecordReader(path: texts)
                var pairs: [(String, String, String)] = []
                while let r = try reader.read() {
                    let chosen = try reader.field(r, "chosen").string()
                    let rejected = try reader.field(r, "rejected").string()
                    guard let cut = chosen.range(of: "\n\nAssistant:", options: .backwards) else { continue }
                    let prompt = String(chosen[..<cut.upperBound])
                    let rej = rejected.hasPrefix(prompt) ? String(rejected.dropFirst(prompt.count)) : rejected
                    pairs.append((prompt, String(chosen[cut.upperBound...]), rej))
                }
                if pairs.isEmpty { throw CLIError.failure("\(texts): no usable {chosen, rejected} records") }
                var rng = RNG(seed: seed.seed)
                func ids(_ text: String) -> [Int] {
                    (0..<max(1, text.utf8.count / 4)).map { _ in Int(pow(50257.0, rng.nextDouble())) - 1 }
                }
                let out = try output.openRecords()
                for i in 0..<records {
                    let (p, c, r) = pairs[i % pairs.count]
                    let pid = ids(p)
                    let id = String(format: "%06d", i)
                    try out.write(JSONObject([
                        ("id", .string("hh-\(id)")), ("prompt_id", .string("p-\(id)")), ("dataset", .string("hh")),
                        ("split", .string("test")), ("prompt", .string(p)), ("chosen", .string(c)), ("rejected", .string(r)),
                        ("prompt_ids", .ints(pid)), ("chosen_input_ids", .ints(pid + ids(c))),
                        ("chosen_label_start", .int(pid.count)), ("rejected_input_ids", .ints(pid + ids(r))),
                        ("rejected_label_start", .int(pid.count)), ("sft_target", .bool(false)),
                    ]))
                }
                try out.finish()
            }
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and parse every record (decompress, split lines, validate UTF-8, parse JSON).")

        @Argument(help: "Input JSON Lines (zstd, gzip or plain); '-' or absent: standard input.")
        var input: String?

        func run() throws {
            try Tool.run("rpo-bench") { _ in
                let start = now()
                let reader = try RecordReader(path: input)
                var n = 0
                while try reader.read() != nil { n += 1 }
                try Streams.result("streams.read", bytes: reader.lines.bytesRead, records: n, seconds: now() - start)
            }
        }
    }

    struct Rewrite: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read, parse, serialize and compress every record (zstd level 3 unless told otherwise).")

        @Argument(help: "Input JSON Lines (zstd, gzip or plain); '-' or absent: standard input.")
        var input: String?

        @OptionGroup var output: OutputOptions

        func run() throws {
            try Tool.run("rpo-bench") { _ in
                let start = now()
                let reader = try RecordReader(path: input)
                let writer = try output.openRecords()
                var n = 0
                while let r = try reader.read() { try writer.write(r); n += 1 }
                try writer.finish()
                // The result goes to standard error when the records themselves go to standard output.
                if output.output == nil || output.output == "-" {
                    Stderr.write("{\"bench\":\"streams.rewrite\",\"bytes\":\(reader.lines.bytesRead),\"records\":\(n),\"seconds\":\(now() - start)}\n")
                } else {
                    try Streams.result("streams.rewrite", bytes: reader.lines.bytesRead, records: n, seconds: now() - start)
                }
            }
        }
    }
}
