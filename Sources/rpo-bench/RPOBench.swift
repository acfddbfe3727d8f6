// rpo-bench: throughput measurements that `make bench` (scripts/bench/*.sh) puts next to the Python/PyTorch
// equivalents. Each subcommand prints one JSON record per measurement on standard output; the scripts
// format them. One file per subcommand: add yours to `subcommands` below.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

@main
struct RPOBench: ParsableCommand {
    static func main() { Tool.main(Self.self) }


    static let configuration = CommandConfiguration(
        commandName: "rpo-bench",
        abstract: "Throughput benchmarks of rpo's building blocks (JSON records on standard output).",
        discussion: """
            Each measurement is a JSON object on standard output, e.g.
              {"bench":"streams.read","bytes":157286400,"seconds":0.61,"mb_per_s":257.9,"records":60000}
            The scripts in scripts/bench/ run these next to the Python equivalents and print the ratios:
              rpo-bench streams generate --records 60000 -o /tmp/pairs.jsonl.zst
              rpo-bench streams read /tmp/pairs.jsonl.zst
              rpo-bench sgemm --threads 1,2
            Timings are wall-clock: run them on a quiet machine.
            """,
        // One subcommand per line (each area adds its own).
        subcommands: [
            Streams.self,
            Sgemm.self,
            Load.self,
            LM.self,
            Optim.self,
            Sample.self,
            Embed.self,
            Train.self,
        ]
    )
}

/// Monotonic wall-clock seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Writes one result record to standard output, unbuffered (nothing else goes there).
func emit(_ fields: [(String, JSON)]) throws {
    var bytes: [UInt8] = []
    try JSONSerializer.write(JSONObject(fields), to: &bytes)
    bytes.append(0x0A)
    try bytes.withUnsafeBytes { try FileSink(path: nil).write($0) }
}

/// A rate rounded for display (the raw numbers are also in the record).
func rounded(_ x: Double, _ digits: Int = 1) -> JSON {
    let p = pow(10, Double(digits))
    return .double((x * p).rounded() / p)
}
