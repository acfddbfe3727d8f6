// rpo-convert: a model or a tokenizer (GGUF file, Hugging Face directory) -> a complete Hugging Face
// directory that transformers loads unchanged (AutoModelForCausalLM, AutoTokenizer). Thin: options,
// validation; the logic is HFConversion (RPOTools), TokenizerExport and CausalLM.save (RPOCore).
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

@main
struct RPOConvert: ParsableCommand {
    static func main() { Tool.main(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "rpo-convert",
        abstract: "Write a GGUF model (or any model / tokenizer rpo loads) as a Hugging Face directory.",
        discussion: """
        transformers can read a GGUF file but cannot save what it read; rpo-train's checkpoints of a GGUF \
        model are Hugging Face directories. This tool writes the same directory without training.

        INPUT: a .gguf file (llama architecture; tokenizer models gpt2 with pre gpt2, smollm, llama-bpe, \
        qwen2, or llama SPM), a Hugging Face model directory (config.json + model.safetensors), or with \
        --tokenizer-only a tokenizer directory (tokenizer.json, or vocab.json + merges.txt) or a \
        tokenizer.json file.

        OUTPUT (-o DIR, nothing on standard output):
          config.json              the model's configuration (dtype float32)
          model.safetensors        the weights in F32 (GGUF blocks dequantized)
          tokenizer.json           the tokenizer pipeline, vocabulary and merges
          tokenizer_config.json    bos/eos/unk/pad, add_bos_token, chat_template,
                                   model_max_length, tokenizer_class
          special_tokens_map.json  bos/eos/unk/pad
          generation_config.json   bos/eos/pad ids (as transformers derives them)
        A directory source's own tokenizer and generation files are copied instead.

        EXAMPLES:
          rpo-convert models/SmolLM2-135M-Instruct.Q4_1.gguf -o smollm2-hf
          python3 -c 'from transformers import AutoTokenizer as T; print(T.from_pretrained("smollm2-hf")("Hi"))'
          rpo-convert --tokenizer-only models/SmolLM2-135M-Instruct.Q4_1.gguf -o smollm2-tok
          rpo-tokenize --raw --tokenizer smollm2-tok texts.jsonl -o ids.jsonl
        """)

    @Argument(help: ArgumentHelp("A .gguf file or a Hugging Face directory.", valueName: "source"))
    var source: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The directory to write.", valueName: "dir"))
    var output: String

    @Flag(name: .customLong("tokenizer-only"), help: "Write only the tokenizer files (into the directory, which may exist).")
    var tokenizerOnly = false

    @Flag(help: "Replace an existing non-empty output directory (whole-model conversion).")
    var force = false

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        if source.isEmpty { throw ValidationError("give a source model or tokenizer") }
        if !FileManager.default.fileExists(atPath: source) { throw ValidationError("\(source): no such file or directory") }
        if !tokenizerOnly && !force,
           let entries = try? FileManager.default.contentsOfDirectory(atPath: output), !entries.isEmpty {
            throw ValidationError("\(output) exists and is not empty (--force replaces it)")
        }
    }

    func run() throws {
        try Tool.run("rpo-convert", display: display) { diag in
            let files = try HFConversion.run(source: source, directory: output, tokenizerOnly: tokenizerOnly)
            diag.note("wrote \(output): \(files.joined(separator: ", "))")
        }
    }
}
