// The data model of the official loaders (docs/method.md §11.1): an `Example` per formatted prompt holding its
// generations, preference pairs and SFT index, and a dataset keyed by the formatted prompt, so that rows
// sharing a prompt merge into one example with several pairs. Order is first appearance (Python dicts).
import Foundation
import RPOCore

public enum TruncationMode: String, Sendable, CaseIterable {
    /// Keep the first `max_prompt_length` prompt tokens (tldr, shp, ultrabin).
    case keepStart = "keep_start"
    /// Keep the last `max_prompt_length` prompt tokens (the default; hh, oasst, alpacaeval).
    case keepEnd = "keep_end"
}

/// A preference: generation `chosen` is preferred to generation `rejected` (indices into `generations`).
public struct PreferencePair: Sendable, Equatable {
    public var chosen: Int
    public var rejected: Int
    public init(_ chosen: Int, _ rejected: Int) { self.chosen = chosen; self.rejected = rejected }
}

public struct PreferenceExample: Sendable {
    /// The formatted prompt (chat markers, spaces collapsed where the loader does so).
    public var prompt = ""
    public var generations: [String] = []
    public var pairs: [PreferencePair] = []
    /// Index of the SFT target in `generations`; negative counts from the end as in Python (upstream's
    /// default -1 is the last generation).
    public var sftIndex = -1
    public var scores: [Double] = []
    /// Unpaired data: whether each generation is desirable ("chosen").
    public var desirable: [Bool] = []
    public var truncationMode: TruncationMode = .keepEnd
    public var datasetName = ""
    /// The unformatted prompt (AlpacaEval's instruction).
    public var originalPrompt = ""
    /// 1-based numbers of the input records merged into this example, for diagnostics.
    public var sourceRecords: [Int] = []

    public init() {}

    /// The generation index `sftIndex` refers to, nil when there is none.
    public var resolvedSFTIndex: Int? {
        let n = generations.count
        guard n > 0 else { return nil }
        let i = sftIndex < 0 ? sftIndex + n : sftIndex
        return i >= 0 && i < n ? i : nil
    }

    /// `Example.remove_extra_spaces`: collapse runs of spaces/tabs in the prompt and every generation.
    public mutating func removeExtraSpaces() {
        prompt = PythonText.collapseSpaces(prompt)
        generations = generations.map(PythonText.collapseSpaces)
    }
}

/// Examples keyed by formatted prompt, in first-seen order. The key is the prompt as the loader formats it
/// *before* `remove_extra_spaces` (upstream indexes its dict that way), so prompts that differ only in
/// repeated spaces stay separate examples, as upstream.
public struct PreferenceDataset: Sendable {
    public let name: String
    public private(set) var examples: [PreferenceExample] = []
    var index: [String: Int] = [:]

    public init(name: String) { self.name = name }

    public var pairCount: Int { examples.reduce(0) { $0 + $1.pairs.count } }

    /// Edits the example stored under `key`, creating it (empty) on first use.
    public mutating func update(_ key: String, _ body: (inout PreferenceExample) throws -> Void) rethrows {
        let i: Int
        if let j = index[key] { i = j } else {
            i = examples.count
            index[key] = i
            examples.append(PreferenceExample())
        }
        try body(&examples[i])
    }

    /// Keeps the first `n` examples (samples and tests).
    public mutating func keepFirst(_ n: Int) {
        guard n < examples.count else { return }
        examples.removeLast(examples.count - n)
        index = index.filter { $0.value < n }
    }

    mutating func mapExamples(_ body: (inout PreferenceExample) throws -> Void) rethrows {
        for i in examples.indices { try body(&examples[i]) }
    }
}
