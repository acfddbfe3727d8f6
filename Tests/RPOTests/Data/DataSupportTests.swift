// The pieces around the readers: input detection (JSON Lines or one JSON array), the order-keeping parallel
// map, Python's white space and space collapsing.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

struct TestFailure: Error { let index: Int }

@Suite struct DataSupportTests {
    @Test func recordSourceDetectsArraysAndLines() throws {
        let array = try DataRecordSource(MemorySource(Array(" \n\t[{\"a\": 1}, {\"a\": 2}]\n".utf8), name: "x.json"))
        #expect(array.isArray)
        #expect(try array.next()?["a"] == .int(1))
        #expect(try array.next()?["a"] == .int(2))
        #expect(array.recordNumber == 2)
        #expect(try array.next() == nil)
        let lines = try DataRecordSource(MemorySource(Array("\n{\"a\": 1}\n\n{\"a\": 2}\n".utf8), name: "x.jsonl"))
        #expect(!lines.isArray)
        _ = try lines.next()
        #expect(try lines.next()?["a"] == .int(2))
        #expect(lines.recordNumber == 4)   // line numbers count blank lines
        let bad = try DataRecordSource(MemorySource(Array("[{\"a\": 1}, 3]".utf8), name: "x.json"))
        _ = try bad.next()
        let e = #expect(throws: RecordError.self) { _ = try bad.next() }
        #expect(e?.description == "x.json:2: expected a JSON object, found number")
        let broken = #expect(throws: RecordError.self) { _ = try DataRecordSource(MemorySource(Array("[{\"a\": 1},".utf8), name: "x.json")) }
        #expect(broken?.description.hasPrefix("x.json: invalid JSON") == true)
        let empty = try DataRecordSource(MemorySource([], name: "e"))
        #expect(try empty.next() == nil)
    }

    @Test func orderedParallelKeepsOrderAndReportsTheFirstError() throws {
        let squares = try OrderedParallel.map(10_000) { i -> Int in
            var x = 0
            for k in 0..<(i % 97) { x &+= k }   // uneven work
            return i * i + (x - x)
        }
        #expect(squares == (0..<10_000).map { $0 * $0 })
        let e = #expect(throws: TestFailure.self) {
            _ = try OrderedParallel.map(1000) { i -> Int in
                if i == 300 || i == 700 { throw TestFailure(index: i) }
                return i
            }
        }
        #expect(e?.index == 300)
        #expect(try OrderedParallel.map(0) { $0 }.isEmpty)
    }

    @Test func pythonWhiteSpaceAndCollapse() {
        // The 29 code points of Python's `\s` (printed by `re.match(r'\s', chr(c))` over all of Unicode).
        let expected: Set<UInt32> = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
                                     0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
                                     0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]
        var found = Set<UInt32>()
        for v in UInt32(0)...0x10FFFF { if let s = Unicode.Scalar(v), PythonText.isSpace(s) { found.insert(v) } }
        #expect(found == expected)
        #expect(PythonText.collapseSpaces("a  b\t\tc \td e\n\nf   ") == "a b c d e\n\nf ")
        #expect(PythonText.collapseSpaces("no change") == "no change")
    }
}
