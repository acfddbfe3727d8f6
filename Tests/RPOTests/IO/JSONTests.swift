// The JSON parser and serializer: RFC 8259 acceptance and rejection, field order, exact numbers.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct JSONTests {
    @Test func parsesValues() throws {
        let v = try JSONParser.parse(#" {"a": [1, -2, 3.5, -0.0, 1e3, 12345678901234567890], "b": {"c": null, "d": true, "e": false}, "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude42"} "#)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["a", "b", "s"])
        #expect(o["a"] == .array([.int(1), .int(-2), .double(3.5), .double(-0.0), .double(1000), .double(12345678901234567168)]))
        #expect(o["b"] == .object(JSONObject([("c", .null), ("d", .bool(true)), ("e", .bool(false))])))
        #expect(o["s"] == .string("x\"\\/\u{8}\u{c}\n\r\té🙂"))
    }

    @Test(arguments: [
        "", "{", "{\"a\"}", "{\"a\":}", "[1,]", "[1 2]", "01", "1.", ".5", "1e", "-", "+1", "\"abc", "\"\\x\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"a\u{1}b\"", "nul", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "[1] x", "{\"a\":1,\"a\":2}",
        "1e999",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { _ = try JSONParser.parse(text) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { _ = try JSONParser.parse(deep) }
    }

    @Test func serializerKeepsOrderAndEscapes() throws {
        var o = JSONObject()
        o["z"] = .int(1)
        o["a"] = .string("q\"b\\n\n\u{1}é")
        o["m"] = .array([.double(0.1), .float(0.1), .int(-7), .null, .bool(false)])
        #expect(try JSONSerializer.string(.object(o)) == #"{"z":1,"a":"q\"b\\n\n\u0001é","m":[0.1,0.1,-7,null,false]}"#)
        o["z"] = nil
        #expect(o.keys == ["a", "m"])
        // Written, read and written again: the same bytes (a Float is read back as a Double with the same text).
        let once = try JSONSerializer.string(.object(o))
        #expect(try JSONSerializer.string(try JSONParser.parse(once)) == once)
    }

    @Test func nonFiniteNumbersAreWriteErrors() {
        var o = JSONObject()
        o["loss"] = .double(.nan)
        #expect(throws: JSONWriteError.self) { _ = try JSONSerializer.string(.object(o)) }
        o["loss"] = .array([.float(.infinity)])
        #expect(throws: JSONWriteError.self) { _ = try JSONSerializer.string(.object(o)) }
    }

    /// Floats written in their shortest form read back (as Double, then narrowed) to the same bits.
    @Test func floatsRoundTripExactly() throws {
        var rng = RNG(seed: 7)
        var values: [Float] = [0, -0, 1, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 0.1, 1e-38]
        for _ in 0..<200_000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let f = Float(bitPattern: bits)
            if f.isFinite { values.append(f) }
        }
        for _ in 0..<100_000 { values.append(Float(rng.nextDouble() * 2 - 1)) }
        var o = JSONObject()
        o["e"] = .floats(values)
        let text = try JSONSerializer.string(.object(o))
        guard case .object(let back) = try JSONParser.parse(text) else { Issue.record(); return }
        let got = try back.field("e", source: "t", record: 1).floatArray()
        #expect(got.count == values.count)
        let mismatches = zip(got, values).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(mismatches == 0)
    }

    @Test func integersAtTheLimits() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9223372036854775808))
        for v in [0, 1, -1, 9, 10, -10, 123456789, Int.max, Int.min] {
            #expect(try JSONSerializer.string(.int(v)) == String(v))
        }
    }

    /// The integer-array fast path (token ids): every digit count, signs, whitespace, lengths around the
    /// stack buffer's size, and the cases it must leave to the general parser.
    @Test func integerArrays() throws {
        var rng = RNG(seed: 9)
        var values: [Int] = [0, -0, 7, -7, 99_999_999, 123_456_789_012_345_678, -999_999_999_999_999_999,
                             Int.max, Int.min, 1_000_000_000_000_000_000]
        for digits in 1...19 {
            for _ in 0..<40 {
                var v = 0
                for _ in 0..<digits { v = v &* 10 &+ rng.below(10) }
                values.append(rng.below(4) == 0 ? -v : v)
            }
        }
        let text = "[" + values.map(String.init).joined(separator: ",") + "]"
        #expect(try JSONParser.parse(text) == .ints(values))
        let spaced = "[ " + values.map(String.init).joined(separator: " ,\n\t") + " ]"
        #expect(try JSONParser.parse(spaced) == .ints(values))
        #expect(try JSONSerializer.string(.ints(values)) == text)
        for n in [4095, 4096, 4097, 10_000] {
            let ids = (0..<n).map { _ in rng.below(50_257) }
            let t = "[" + ids.map(String.init).joined(separator: ",") + "]"
            #expect(try JSONParser.parse(t) == .ints(ids))
            #expect(try JSONSerializer.string(.ints(ids)) == t)
        }
        #expect(try JSONParser.parse("[1,2.5,3]") == .array([.int(1), .double(2.5), .int(3)]))
        #expect(try JSONParser.parse("[1,\"a\"]") == .array([.int(1), .string("a")]))
        #expect(try JSONParser.parse("[-0]") == .array([.int(0)]))
        for bad in ["[01]", "[1,-]", "[1,,2]", "[1 2]", "[-]", "[1,]", "[12345678", "[00000000001]"] {
            #expect(throws: JSONParseError.self, "\(bad)") { _ = try JSONParser.parse(bad) }
        }
    }

    /// Doubles take a fast path (Clinger: exact significand and power of ten, one rounding) when they can;
    /// strtod, correctly rounded, is the oracle for every case, fast or not.
    @Test func doublesMatchStrtod() throws {
        var rng = RNG(seed: 21)
        var texts = ["0.0", "-0.0", "1e22", "1e23", "9007199254740993.0", "9007199254740992e-22", "123456789012345678901e-5",
                     "0.1", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308", "0.000000000000000000000000001",
                     "1.5e-22", "1.5e-23", "12345678.9e+15", "0.0063856714", "-3.4028235e38", "1E5", "7e-0"]
        for _ in 0..<20_000 {
            let digits = 1 + rng.below(20)
            var m = ""
            for k in 0..<digits { m += String(k == 0 ? 1 + rng.below(9) : rng.below(10)) }
            let point = rng.below(digits + 1)
            let cut = max(point, 1)
            let fraction = String(m.dropFirst(cut))
            var t = String(m.prefix(cut)) + "." + (fraction.isEmpty ? "0" : fraction)
            if rng.below(2) == 0 { t += "e" + String(rng.below(61) - 30) }
            if rng.below(2) == 0 { t = "-" + t }
            texts.append(t)
        }
        for _ in 0..<20_000 {  // floats written in their shortest form, as embeddings are
            texts.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7FFF_FFFF).description)
        }
        var mismatches: [String] = []
        for t in texts where !t.contains("inf") && !t.contains("nan") {
            let want = strtod(t, nil)
            guard case .double(let got) = try JSONParser.parse(t) else { mismatches.append(t); continue }
            if got.bitPattern != want.bitPattern { mismatches.append(t) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func fieldErrorsNameTheFieldAndRecord() throws {
        let o = JSONObject([("ids", .array([.int(1), .string("x")])), ("p", .int(3))])
        do {
            _ = try o.field("ids", source: "in.jsonl", record: 12).intArray()
            Issue.record("expected an error")
        } catch let e as RecordError {
            #expect(e.description == "in.jsonl:12: field \"ids\"[1] must be an integer, found string")
        }
        #expect(throws: RecordError.self) { _ = try o.field("missing", source: "s", record: 1).string() }
        #expect(throws: RecordError.self) { _ = try o.field("p", source: "s", record: 1).string() }
    }
}
