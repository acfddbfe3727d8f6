// rpo-convert as a user runs it: the files it writes (the very command scripts/make_tokexport_fixtures.py
// checked with transformers), nothing on standard output, exit codes 0 / 1 (a source it cannot convert) /
// 64 (bad usage).
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct ConvertCLITests {
    static func run(_ args: [String]) throws -> ToolResult { try Tools.run("rpo-convert", args) }

    @Test func writesTheVerifiedFiles() throws {
        let tmp = TempDir()
        let tok = tmp.file("tok")
        let r = try Self.run(["--tokenizer-only", try ExportFixtures.gguf("llama-spm"), "-o", tok])
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        #expect(r.stderr == "rpo-convert: wrote \(tok): tokenizer.json, tokenizer_config.json, special_tokens_map.json\n")
        let want = ExportFixtures.section("gguf")["llama-spm"]!.member("sha256")!.objectValue!
        for f in Tokenizer.huggingFaceFileNames {
            #expect(try ExportFixtures.sha(file: tok + "/" + f) == want[f]?.stringValue, "\(f)")
        }
        // A whole model: the tiny GGUF as the script converted it.
        let tiny = try ExportFixtures.gguf("tiny-llama")
        let ckpt = tmp.file("ckpt")
        let w = try Self.run([tiny, "-o", ckpt, "-q"])
        #expect(w.status == 0 && w.stdout.isEmpty && w.stderr.isEmpty, "\(w.stderr)")
        let files = ExportFixtures.section("tiny_checkpoint")["sha256"]!.objectValue!
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: ckpt)) == Set(files.keys))
        for (f, h) in files { #expect(try ExportFixtures.sha(file: ckpt + "/" + f) == h.stringValue, "\(f)") }
        // An existing non-empty directory is replaced only with --force.
        let again = try Self.run([tiny, "-o", ckpt])
        #expect(again.status == 64 && again.stderr.contains("exists and is not empty (--force replaces it)"), "\(again.stderr)")
        let forced = try Self.run([tiny, "-o", ckpt, "--force", "-q"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: ckpt)) == Set(files.keys))
    }

    @Test func errorsAndHelp() throws {
        let tmp = TempDir()
        let missing = try Self.run([tmp.file("nope.gguf"), "-o", tmp.file("out")])
        #expect(missing.status == 64 && missing.stderr.contains("nope.gguf: no such file or directory"), "\(missing.stderr)")
        let bert = tmp.file("bert.gguf")
        try GGUFTokenizerTests.writeGGUF([("tokenizer.ggml.model", "bert"), ("tokenizer.ggml.tokens", ["a"])], to: bert)
        let b = try Self.run(["--tokenizer-only", bert, "-o", tmp.file("out")])
        #expect(b.status == 1 && b.stderr.hasPrefix("rpo-convert: error: \(bert): tokenizer.ggml.model: unsupported tokenizer model \"bert\""), "\(b.stderr)")
        let refused = try Self.run(["--tokenizer-only", try TokFixtures.directory("llama-bpe"), "-o", tmp.file("out")])
        #expect(refused.status == 1 && refused.stderr.contains("added_tokens: the added token \"<|endoftext|>\" has id 128256"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out/tokenizer.json")))
        let help = try Self.run(["--help"])
        #expect(help.status == 0 && help.stdoutText.contains("OUTPUT") && help.stdoutText.contains("generation_config.json"))
    }
}
