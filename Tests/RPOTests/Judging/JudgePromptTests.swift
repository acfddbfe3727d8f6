// The official judge prompts, seeded orders and answer parsing against fixtures made by running the official
// compare.py classes (scripts/make_judge_fixtures.py): byte-identical messages, identical orders and choices.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

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
    var jText: String { stringValue ?? "" }
    var jList: [JSON] { arrayValue ?? [] }
}

/// Byte-for-byte comparison (Swift's String == is canonical equivalence, which would hide differences).
func sameUTF8(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

func judgeRoles(_ j: JSON) -> [JudgeRole] { j.jList.compactMap { JudgeRole(rawValue: $0.jText) } }

@Suite struct JudgePromptTests {
    static let prompts = Result { try judgingFixture("prompts.json") }

    @Test func messagesAreByteIdenticalToTheOfficialTemplates() throws {
        let f = try Self.prompts.get()
        var checked = 0
        for case .object(let c) in f["templates"]!.jList {
            let task = JudgeTask(rawValue: c["task"]!.jText)!
            let t = try JudgeTemplate(task: task, labels: c["labels"]!.jText, humanPrefix: c["human_prefix"]!.jText,
                                      assistantPrefix: c["assistant_prefix"]!.jText)
            var order = SeededOrder(seed: UInt64(c["seed"]!.intValue!))
            for comp in c["comparisons"]!.jList {
                let o = order.next()
                #expect(o == judgeRoles(comp["order"]), "\(task) seed \(c["seed"]!): order")
                let first = o[0] == .candidate ? comp["candidate"].jText : comp["baseline"].jText
                let second = o[1] == .candidate ? comp["candidate"].jText : comp["baseline"].jText
                let msgs = t.messages(prompt: comp["prompt"].jText, first: first, second: second)
                let want = comp["messages"].jList
                #expect(msgs.count == want.count)
                for (m, w) in zip(msgs, want) {
                    #expect(m.role == w["role"].jText)
                    #expect(sameUTF8(m.content, w["content"].jText), "\(task) labels \(t.labels): \(m.content.debugDescription) vs \(w["content"].jText.debugDescription)")
                    checked += 1
                }
            }
        }
        #expect(checked == 48)  // 2 tasks x 2 label/marker sets x 6 prompts x 2 messages
    }

    @Test func seededOrdersEqualPythonsRandomShuffle() throws {
        let f = try Self.prompts.get()
        var seeds = 0
        for case .object(let c) in f["orders"]!.jList {
            let seed = UInt64(c["seed"]!.jText)!
            var order = SeededOrder(seed: seed)
            let mine = (0..<300).map { _ in order.next()[0] == .candidate }
            let want = c["candidate_first"]!.jList.map { $0.boolValue! }
            #expect(mine == want, "seed \(seed)")
            seeds += 1
        }
        #expect(seeds == 12)
    }

    @Test func cleanResponseAndHistoryAsUpstream() throws {
        let f = try Self.prompts.get()
        for c in f["clean_response"]!.jList {
            #expect(sameUTF8(JudgeTemplate.cleanResponse(c["text"].jText), c["cleaned"].jText), "\(c["text"].jText.debugDescription)")
        }
        let t = try JudgeTemplate(task: .dialogue)
        for c in f["history"]!.jList {
            #expect(sameUTF8(t.history(fromPrompt: c["prompt"].jText), c["history"].jText), "\(c["prompt"].jText.debugDescription)")
        }
    }

    @Test func answersParseAsUpstream() throws {
        let f = try Self.prompts.get()
        var n = 0
        for c in f["parse"]!.jList {
            let t = try JudgeTemplate(task: JudgeTask(rawValue: c["task"].jText)!, labels: c["labels"].jText)
            let order = judgeRoles(c["order"])
            let parsed = t.parse(answer: c["answer"].jText)
            let label = "\(c["task"].jText) \(c["labels"].jText) \(c["answer"].jText.debugDescription)"
            switch c["outcome"].jText {
            case "chosen":
                guard case .position(let p) = parsed else { Issue.record("\(label): \(parsed)"); continue }
                #expect(order[p].rawValue == c["winner"].jText, "\(label)")
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
        let spaces = Set(f["isspace"]!.jList.map { UInt32($0.intValue!) })
        var equiv: [Unicode.Scalar: Set<UInt32>] = [:]
        for (k, v) in f["ignorecase"]!.objectValue! { equiv[k.unicodeScalars.first!] = Set(v.jList.map { UInt32($0.intValue!) }) }
        #expect(Set(f["space"]!.jList.map { UInt32($0.intValue!) }) == [0x20])
        #expect(f["dot_rejects"]!.jList.map { $0.intValue! } == [0x0A])
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
