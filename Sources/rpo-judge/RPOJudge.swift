// rpo-judge: samples -> pairwise judgments and win rates, with the official RPO judge prompts (compare.py at
// c1b5163) sent to an OpenAI-compatible API or scored by a local model. Library: RPOAlignment/Judging, RPOTools/Judging.
import ArgumentParser
import Foundation
import RPOCore
import RPOAlignment
import RPOTools

@main
struct RPOJudge: AsyncParsableCommand {
    static func main() async { await Tool.mainAsync(Self.self) }


    static let discussion = """
        Input: sample records (rpo-sample), one per comparison. Fields used:
          {"id": "hh-17", "prompt": "\\n<|user|>\\nHi\\n<|assistant|>\\n",
           "policy": "...", "chosen": "...", ...}
        The first --max-comparisons records are judged, each in the seeded order
        of the official compare.py (Python's random seeded with --seed, one
        shuffle per comparison), or in both orders. All records are read and
        checked before the first request.

        Output: one judgment record per comparison, in input order:
          {"id": "hh-17", "candidate": "policy", "baseline": "chosen",
           "task": "dialogue", "judge": "api:gpt-4-0613",
           "order": ["baseline", "candidate"], "winner": "candidate",
           "status": "ok", "raw": "Response 2", "error": null,
           "attempts": 1, "seconds": 0.84,
           "candidate_chars": 412, "baseline_chars": 388}
        (+ "candidate_tokens", "baseline_tokens" with --tokenizer)
        order: the texts as shown, label 1 first. winner: "candidate",
        "baseline", "tie" or null. status: "ok", "unparsed" (the answer names
        no label) or "failed" (no answer; error says why). raw, error,
        attempts, seconds: the seeded presentation; a local judge adds
        "logprobs" (of the two labels). With --both-orders, "swapped" holds the
        reversed presentation {order, winner, status, raw, error, attempts,
        seconds} and winner is the common verdict, "tie" if they disagree.
        With --calibrate (both orders, label log-probabilities needed: the local
        judge), winner is the sign of "calibrated_margin": the candidate's label
        log-prob minus the baseline's, summed over the two orders, so that a
        constant preference for a position cancels (balanced position
        calibration, arXiv 2305.17926). Small local judges mostly pick a
        position; calibrated, their content preference decides.

        Judges: --judge api sends the official request (temperature 0,
        max_tokens 10) to an OpenAI-compatible chat/completions endpoint.
        --judge local --local-model M (a llama .gguf file or a HF directory
        with a chat template) reads the same messages in the model's chat
        template (rendered as apply_chat_template) followed by "Response" ("Summary"); the log-probabilities
        of " 1" and " 2" as the next token decide, one forward pass each.

        --judge reward --reward-model HEAD (from `rpo-judge fit-reward`): a
        Bradley-Terry reward model, a linear head on the sentence embedding of
        each text (its encoder, e.g. all-MiniLM-L6-v2, named in HEAD or by
        --encoder); the text with the larger reward wins, no prompt, no order
        effect; judgment records carry "rewards" (label order).

        --validate: judge the dataset's own responses, "chosen" (candidate)
        against "rejected" (baseline), on held-out example records (rpo-tokenize
        output): the candidate's score, (wins + ties / 2) / attempts, is the
        judge's agreement with the human labels, reported with its 95%
        bootstrap interval and a verdict: "informative" when the interval lies
        above 50%, "uninformative" when it includes 50% (its win rates say
        nothing), "worse than chance" below. In --summary: "validation":
        {"agreement", "agreement_ci95", "verdict"}.

        Summary on standard error, and as JSON in --summary FILE: the official
        win rate (candidate wins / attempts; failures and unparsed answers
        count against both sides), wins / decided, ties counted half, 95%
        bootstrap intervals, mean lengths, position bias.

        --resume (with -o FILE.jsonl) appends each judgment as one line as soon
        as it and all before it are done: after an interruption, rerun the same
        command to judge only what is missing (--retry-failed: also what
        failed). The API key is read from the environment variable named by
        --api-key-env and is never printed or written.

        Examples:
          rpo-sample ... | rpo-judge --task dialogue --judge api \\
              -o judged.jsonl --resume --summary winrate.json
          rpo-judge --task dialogue --local-model models/SmolLM2.gguf \\
              --both-orders samples.zst -o judged.zst
          rpo-judge fit-reward --validation validation.examples.zst \\
              --l2 1e-3,1e-2,1e-1 train.examples.zst -o reward.json
          rpo-judge --task dialogue --validate --reward-model reward.json \\
              test.examples.zst -o validation.zst --summary validation.json
        Fitting the reward judge's head: rpo-judge fit-reward --help.
        """

    static let configuration = CommandConfiguration(
        commandName: "rpo-judge",
        abstract: "Judge candidate texts against baseline texts pairwise with RPO's official judge prompts.",
        discussion: discussion + "\n\nOptions: rpo-judge judge --help. The subcommand judge is the default: `rpo-judge ARGS` is `rpo-judge judge ARGS`.",
        subcommands: [JudgeCommand.self, FitRewardCommand.self],
        defaultSubcommand: JudgeCommand.self)
}

struct JudgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Judge candidate texts against baseline texts pairwise with RPO's official judge prompts.",
        discussion: RPOJudge.discussion)

    @OptionGroup var input: InputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var display: DisplayOptions

    @Option(help: "dialogue (HH) or summarization (TL;DR): which official prompt.") var task: String
    @Option(help: "Field of the candidate text (upstream -ck; default policy, with --validate chosen).") var candidate: String?
    @Option(help: "Field of the baseline text (upstream -bk; default chosen, with --validate rejected).") var baseline: String?
    @Flag(help: "Validate the judge: chosen (candidate) against rejected (baseline); the score is its agreement with the human labels.") var validate = false
    @Option(name: .customLong("prompt-key"), help: "Field of the formatted prompt (upstream -hk).") var promptKey = "prompt"
    @Option(name: .customLong("id-key"), help: "Field of the record id.") var idKey = "id"
    @Option(help: "The two labels of the texts (upstream -l).") var labels = "12"
    @Option(name: .customLong("human-prefix"), help: #"The prompt's user marker (default "\n<|user|>\n")."#) var humanPrefix: String?
    @Option(name: .customLong("assistant-prefix"), help: #"The prompt's assistant marker (default "\n<|assistant|>\n")."#) var assistantPrefix: String?
    @Option(help: "api, local or reward (default: api when --api-base or --api-model is given, reward with --reward-model, else local).") var judge: String?
    @Option(name: .customLong("api-base"), help: "OpenAI-compatible API root (POST <base>/chat/completions).") var apiBase: String?
    @Option(name: .customLong("api-model"), help: "Judge model name (default gpt-4-0613).") var apiModel: String?
    @Option(name: .customLong("api-key-env"), help: "Environment variable holding the API key.") var apiKeyEnv = "OPENAI_API_KEY"
    @Flag(name: .customLong("no-api-key"), help: "Send no key (local servers).") var noAPIKey = false
    @Option(name: .customLong("local-model"), help: "Chat model for --judge local: a llama .gguf file or a HF directory.") var localModel: String?
    @Option(name: .customLong("reward-model"), help: "Reward head for --judge reward (rpo-judge fit-reward output).") var rewardModel: String?
    @Option(help: "Sentence encoder of --judge reward (default: the directory the head names).") var encoder: String?
    @Flag(name: .customLong("both-orders"), help: "Judge each comparison in both orders; disagreement is a tie.") var bothOrders = false
    @Flag(help: "Both orders, decided by their summed label log-prob margins (local judge).") var calibrate = false
    @Option(name: .customLong("max-comparisons"), help: "Judge the first N records (0: all).") var maxComparisons = 256
    @Option(help: "Seed of the orders (as upstream -s), the API request and the bootstrap.") var seed: UInt64 = 0
    @Option(help: "API requests in flight at once.") var concurrency = 4
    @Option(help: "Seconds one API request may take.") var timeout: Double = 10
    @Option(help: "Retries of a request after 429, 408, 409, 5xx, timeouts and connection errors.") var retries = 3
    @Option(help: "First retry delay in seconds (doubled each retry).") var backoff: Double = 1
    @Option(name: .customLong("max-backoff"), help: "Longest computed retry delay in seconds.") var maxBackoff: Double = 60
    @Flag(name: .customLong("no-jitter"), help: "Exact doubling of retry delays (default: seeded jitter).") var noJitter = false
    @Flag(help: "Append to -o FILE.jsonl, skipping the comparisons it already holds.") var resume = false
    @Flag(name: .customLong("retry-failed"), help: "With --resume: judge failed comparisons again.") var retryFailed = false
    @Option(help: "Bootstrap resamples for the 95% intervals.") var bootstrap = 10_000
    @Option(help: "Write the summary as JSON to this file.") var summary: String?
    @Option(help: "Also measure lengths in tokens: tokenizer.json, a model directory or a .gguf file.") var tokenizer: String?

    func runOptions() throws -> JudgeRunOptions {
        guard let t = JudgeTask(rawValue: task) else { throw CLIError.usage("unknown task \"\(task)\" (expected dialogue or summarization)") }
        var o: JudgeRunOptions
        do { o = JudgeRunOptions(template: try JudgeTemplate(task: t, labels: labels, humanPrefix: humanPrefix ?? "\n<|user|>\n",
                                                                    assistantPrefix: assistantPrefix ?? "\n<|assistant|>\n")) }
        catch { throw CLIError.usage(error.description) }
        let candidate = self.candidate ?? (validate ? "chosen" : "policy")
        let baseline = self.baseline ?? (validate ? "rejected" : "chosen")
        guard candidate != baseline else { throw CLIError.usage("--candidate and --baseline name the same field") }
        guard maxComparisons >= 0, bootstrap >= 1 else { throw CLIError.usage("--max-comparisons must be >= 0 and --bootstrap >= 1") }
        (o.candidateKey, o.baselineKey, o.promptKey, o.idKey) = (candidate, baseline, promptKey, idKey)
        (o.seed, o.bothOrders, o.bootstrapResamples, o.retryFailed) = (seed, bothOrders || calibrate, bootstrap, retryFailed)
        o.calibrated = calibrate
        o.validation = validate
        o.maxComparisons = maxComparisons == 0 ? nil : maxComparisons
        if let t = tokenizer { o.lengthTokenizer = try Tokenizer.load(path: t) }
        return o
    }

    func backend() throws -> JudgeBackend {
        let kind = judge ?? (apiBase != nil || apiModel != nil ? "api" : rewardModel != nil ? "reward" : "local")
        if kind != "reward" && (rewardModel != nil || encoder != nil) { throw CLIError.usage("--reward-model and --encoder are for --judge reward") }
        switch kind {
        case "api":
            var a = APIJudgeOptions()
            if let b = apiBase { a.baseURL = b }
            if let m = apiModel { a.model = m }
            if !noAPIKey {
                guard let key = ProcessInfo.processInfo.environment[apiKeyEnv], !key.isEmpty else {
                    throw CLIError.usage("the API key variable \(apiKeyEnv) is not set (set it, name another with --api-key-env, or use --no-api-key for a local server)")
                }
                a.apiKey = APIKey(key)
            }
            (a.timeout, a.retries, a.backoff, a.maxBackoff) = (timeout, retries, backoff, maxBackoff)
            (a.jitter, a.seed, a.concurrency) = (!noJitter, seed, concurrency)
            guard timeout > 0, retries >= 0, backoff >= 0, maxBackoff >= 0, concurrency >= 1 else {
                throw CLIError.usage("--timeout must be > 0, --concurrency >= 1, --retries/--backoff/--max-backoff >= 0")
            }
            do { return try APIJudge(options: a) } catch { throw CLIError.usage("\(error)") }
        case "local":
            guard let path = localModel else {
                throw CLIError.usage("--judge local needs --local-model (a .gguf file or a model directory), or configure an API judge with --api-base")
            }
            return try LocalJudge.load(path: path)
        case "reward":
            guard let path = rewardModel else { throw CLIError.usage("--judge reward needs --reward-model HEAD (from rpo-judge fit-reward)") }
            return try RewardJudge.load(path: path, encoderPath: encoder)
        default:
            throw CLIError.usage("unknown judge \"\(kind)\" (expected api, local or reward)")
        }
    }

    mutating func run() async throws {
        try await Tool.runAsync("rpo-judge", display: display) { diag in
            let options = try runOptions()
            let judgeBackend = try backend()
            if calibrate && !(judgeBackend is LocalJudge) {
                throw CLIError.usage("--calibrate needs the judge's label log-probabilities: use --judge local")
            }
            if resume && (output.output == nil || output.output == "-" || output.compression != .none) {
                throw CLIError.usage("--resume appends to a plain JSON Lines file: give -o FILE.jsonl (or -o FILE --no-compress)")
            }
            if retryFailed && !resume { throw CLIError.usage("--retry-failed needs --resume") }
            let items = try JudgeRun.loadItems(try input.openRecords(), options: options)
            let log = resume ? try JudgmentLog(path: output.output!) : nil
            if let l = log, l.droppedBytes > 0 {
                diag.warning("\(l.path): cut an unfinished last line (\(l.droppedBytes) bytes) before resuming")
            }
            let writer = log == nil ? try output.openRecords() : nil
            let sink: JudgmentSink = log ?? FlushingSink(writer!)
            let bar = ProgressLine(enabled: display.showProgress, label: "judged", unit: "comparisons", total: items.count)
            let (result, records) = try await JudgeRun.run(items: items, options: options, backend: judgeBackend,
                                                           previous: log?.previous, sink: sink,
                                                           progress: { done, _ in bar.update(done) })
            bar.finish()
            try writer?.finish()
            try log?.finish(rewrite: result.superseded > 0 || result.rejudged > 0 ? records : nil)
            if let path = summary {
                let w = RecordWriter(try FileSink(path: path))
                try w.write(result.json)
                try w.finish()
            }
            for line in result.lines { diag.note(line) }
            if result.rates.attempts > 0 && result.rates.failed == result.rates.attempts {
                // Nothing was judged: not a result (the output keeps every failure for --resume --retry-failed).
                throw CLIError.failure("every one of the \(result.rates.attempts) comparisons failed (no judge answered); " +
                                       (resume ? "rerun with --retry-failed to judge them again" : "--resume --retry-failed can judge them again"))
            }
            if result.rates.failed > 0 {
                diag.warning("\(result.rates.failed) of \(result.rates.attempts) comparisons have no answer (status \"failed\")" +
                             (resume ? "; rerun with --retry-failed to judge them again" : "; --resume --retry-failed can judge them again"))
            }
        }
    }
}
