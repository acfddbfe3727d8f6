// What a judge is to the runner: something that reads the official judge messages for one presentation of a
// comparison (one order of the two texts) and answers with text (an API model) or with the log-probabilities
// of the two labels (a local model). Failures that concern one request are part of the reply, so that they
// become judgment records; errors thrown stop the whole run (e.g. an API key the server rejects).
import RPOCore

/// One presentation of one comparison to the judge.
public struct JudgeRequest: Sendable {
    /// 0-based position of the comparison in the input.
    public var index: Int
    /// The record's id as text (for messages).
    public var id: String
    /// 0 for the seeded (official) order, 1 for the swapped order of `--both-orders`.
    public var pass: Int
    /// The two official user messages.
    public var messages: [ChatMessage]
    /// The template that made them (task and labels, for judges that score the labels directly).
    public var template: JudgeTemplate
    /// The conversation's prompt and the two texts in the order shown (label 1 first), for judges that score
    /// texts directly (the reward judge).
    public var prompt = ""
    public var texts: [String] = []

    public init(index: Int, id: String, pass: Int, messages: [ChatMessage], template: JudgeTemplate) {
        self.index = index; self.id = id; self.pass = pass; self.messages = messages; self.template = template
    }
}

/// A judge's reply to one request.
public struct JudgeReply: Sendable {
    /// The answer text (API judges), nil when there is none.
    public var raw: String?
    /// Log-probabilities of the two labels as the next token (local judges), in label order.
    public var labelLogProbs: [Double]?
    /// Rewards of the two texts in label order (the reward judge); the larger wins, equal rewards tie.
    public var rewards: [Double]?
    /// Why there is no usable answer, after any retries (nil on success).
    public var error: String?
    /// Requests made (1 + retries used).
    public var attempts: Int
    /// Wall time spent on this request, retries and waits included.
    public var seconds: Double

    public init(raw: String? = nil, labelLogProbs: [Double]? = nil, rewards: [Double]? = nil, error: String? = nil,
                attempts: Int = 1, seconds: Double = 0) {
        self.raw = raw; self.labelLogProbs = labelLogProbs; self.rewards = rewards; self.error = error
        self.attempts = attempts; self.seconds = seconds
    }
}

/// A judge backend: the OpenAI-compatible API judge, a local causal LM, or a reward model.
public protocol JudgeBackend: Sendable {
    /// Written into every judgment record, e.g. "api:gpt-4-0613".
    var name: String { get }
    /// How many requests the runner may have in flight at once.
    var maxConcurrency: Int { get }
    /// Judges one presentation. Failures of this request are returned in the reply; a thrown error stops
    /// the run.
    func judge(_ request: JudgeRequest) async throws -> JudgeReply
}
