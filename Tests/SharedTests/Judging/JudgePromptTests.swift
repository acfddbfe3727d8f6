// The official judge prompts, seeded orders and answer parsing against fixtures made by running the official
// compare.py classes (scripts/make_judge_fixtures.py): byte-identical messages, identical orders and choices.
import Foundation
import Testing
@testable import Shared

/// Loads a fixture of Tests/Fixtures/judging as a JSON object.
func judgingFixture(_ name: String) throws -> JSONObject {
    let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("judging/\(name)")))
    guard case .object(let o) = try JSONParser.parse(String(decoding: data, as: UTF8.self)) else {
        throw RecordError(source: name, record: nil, "not an object")
    }
    return o
}

extension JSON {
    subscript(_ key: String) -> JSON { objectValue?[key] ?? .null }
    var string: String { stringValue ?? "" }
    var array: [JSON] { arrayValue ?? [] }
}

/// Byte-for-byte comparison (Swift's String == is canonical equivalence, which would hide differences).
func sameBytes(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

func roles(_ j: JSON) -> [JudgeRole] { j.array.compactMap { JudgeRole(rawValue: $0.string) } }

@Suite struct JudgePromptTests {
    static let prompts = Result { try judgingFixture("prompts.json") }

    @Test func messagesAreByteIdenticalToTheOfficialTemplates() throws {
        let f = try Self.prompts.get()
        var checked = 0
        for case .object(let c) in f["templates"]!.array {
            let task = JudgeTask(rawValue: c["task"]!.string)!
            let t = try JudgeTemplate(task: task, labels: c["labels"]!.string, humanPrefix: c["human_prefix"]!.string,
                                      assistantPrefix: c["assistant_prefix"]!.string)
            var order = SeededOrder(seed: UInt64(c["seed"]!.intValue!))
            for comp in c["comparisons"]!.array {
                let o = order.next()
                #expect(o == roles(comp["order"]), "\(task) seed \(c["seed"]!): order")
                let first = o[0] == .candidate ? comp["candidate"].string : comp["baseline"].string
                let second = o[1] == .candidate ? comp["candidate"].string : comp["baseline"].string
                let msgs = t.messages(prompt: comp["prompt"].string, first: first, second: second)
                let want = comp["messages"].array
                #expect(msgs.count == want.count)
                for (m, w) in zip(msgs, want) {
                    #expect(m.role == w["role"].string)
                    #expect(sameBytes(m.content, w["content"].string), "\(task) labels \(t.labels): \(m.content.debugDescription) vs \(w["content"].string.debugDescription)")
                    checked += 1
                }
            }
        }
        #expect(checked == 48)  // 2 tasks x 2 label/marker sets x 6 prompts x 2 messages
    }

    @Test func seededOrdersEqualPythonsRandomShuffle() throws {
        let f = try Self.prompts.get()
        var seeds = 0
        for case .object(let c) in f["orders"]!.array {
            let seed = UInt64(c["seed"]!.string)!
            var order = SeededOrder(seed: seed)
            let mine = (0..<300).map { _ in order.next()[0] == .candidate }
            let want = c["candidate_first"]!.array.map { $0.boolValue! }
            #expect(mine == want, "seed \(seed)")
            seeds += 1
        }
        #expect(seeds == 12)
    }

    @Test func cleanResponseAndHistoryAsUpstream() throws {
        let f = try Self.prompts.get()
        for c in f["clean_response"]!.array {
            #expect(sameBytes(JudgeTemplate.cleanResponse(c["text"].string), c["cleaned"].string), "\(c["text"].string.debugDescription)")
        }
        let t = try JudgeTemplate(task: .dialogue)
        for c in f["history"]!.array {
            #expect(sameBytes(t.history(fromPrompt: c["prompt"].string), c["history"].string), "\(c["prompt"].string.debugDescription)")
        }
    }

    @Test func answersParseAsUpstream() throws {
        let f = try Self.prompts.get()
        var n = 0
        for c in f["parse"]!.array {
            let t = try JudgeTemplate(task: JudgeTask(rawValue: c["task"].string)!, labels: c["labels"].string)
            let order = roles(c["order"])
            let parsed = t.parse(answer: c["answer"].string)
            let label = "\(c["task"].string) \(c["labels"].string) \(c["answer"].string.debugDescription)"
            switch c["outcome"].string {
            case "chosen":
                guard case .position(let p) = parsed else { Issue.record("\(label): \(parsed)"); continue }
                #expect(order[p].rawValue == c["winner"].string, "\(label)")
            case "none":
                #expect(parsed == .noMatch, "\(label)")
            default:  // value_error
                guard case .unknownLabel = parsed else { Issue.record("\(label): \(parsed)"); continue }
            }
            n += 1
        }
        #expect(n > 150)
    }

    /// The whitespace of str.strip() and the IGNORECASE equivalents of the parsed words, over all of Unicode.
    @Test func pythonCharacterClassesOverAllCodePoints() throws {
        let f = try judgingFixture("python_text.json")
        let spaces = Set(f["isspace"]!.array.map { UInt32($0.intValue!) })
        var equiv: [Unicode.Scalar: Set<UInt32>] = [:]
        for (k, v) in f["ignorecase"]!.objectValue! { equiv[k.unicodeScalars.first!] = Set(v.array.map { UInt32($0.intValue!) }) }
        #expect(Set(f["space"]!.array.map { UInt32($0.intValue!) }) == [0x20])
        #expect(f["dot_rejects"]!.array.map { $0.intValue! } == [0x0A])
        var mismatches: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let c = Unicode.Scalar(v) else { continue }
            if PythonText.isSpace(c) != spaces.contains(v) { mismatches.append("space U+\(String(v, radix: 16))") }
            for (letter, set) in equiv where JudgeTemplate.matchesIgnoringCase(c, letter) != set.contains(v) {
                mismatches.append("\(letter) U+\(String(v, radix: 16))")
            }
            if JudgeTemplate.matchesIgnoringCase(c, " ") != (v == 0x20) { mismatches.append("' ' U+\(String(v, radix: 16))") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    @Test func badLabelsAreRejected() {
        for bad in ["1", "11", "123", "", "1\n"] {
            #expect(throws: JudgeTemplateError.self) { _ = try JudgeTemplate(task: .dialogue, labels: bad) }
        }
    }

    /// CPython: random.seed(0); [random.getrandbits(32) for _ in range(3)] and random.seed(2**40+5) likewise.
    @Test func mersenneTwisterOutputsAsCPython() {
        var r = PythonRandom(seed: 0)
        #expect([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)] == [3_626_764_237, 1_654_615_998, 3_255_389_356])
        var s = PythonRandom(seed: (1 << 40) + 5)
        #expect([s.getrandbits(32), s.getrandbits(32)] == [2_166_296_868, 2_220_160_828])
    }
}
