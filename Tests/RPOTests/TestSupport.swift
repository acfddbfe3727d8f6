// Helpers shared by the tests: fixture paths, temporary directories, closeness checks that report the
// worst element and the first mismatches.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

enum TestPaths {
    /// The repository root (the directory holding Package.swift).
    static let root: URL = {
        var u = URL(fileURLWithPath: #filePath)
        while u.path != "/" {
            u.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    static func fixture(_ rel: String) -> String { root.appendingPathComponent("Tests/Fixtures/\(rel)").path }
    static func models(_ rel: String) -> String { root.appendingPathComponent("models/\(rel)").path }
    static func data(_ rel: String) -> String { root.appendingPathComponent("data/\(rel)").path }
}

/// A fresh temporary directory, removed when the value is dropped.
final class TempDir {
    let url: URL
    var path: String { url.path }
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rpo-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Checks |a - e| <= atol + rtol * |e| elementwise; on failure records the max difference and the first
/// five mismatches.
func expectClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    var bad: [String] = []
    var maxDiff: Float = 0
    var nBad = 0
    for i in 0..<actual.count {
        let d = abs(actual[i] - expected[i])
        if !(d <= maxDiff) || d.isNaN { maxDiff = d.isNaN ? .nan : max(maxDiff, d) }
        if !(d <= atol + rtol * abs(expected[i])) {
            nBad += 1
            if bad.count < 5 { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        }
    }
    #expect(nBad == 0, "\(label): \(nBad) of \(actual.count) outside atol \(atol) rtol \(rtol); max |diff| \(maxDiff); \(bad.joined(separator: ", "))",
            sourceLocation: sourceLocation)
}

/// Reads a committed JSON fixture (path relative to Tests/Fixtures).
func loadJSONFixture(_ rel: String) throws -> JSON {
    try JSONParser.parse(String(contentsOfFile: TestPaths.fixture(rel), encoding: .utf8))
}

extension JSON {
    /// The value as an array of Doubles (NaN for non-numbers), for fixtures.
    var doubleArray: [Double] { (arrayValue ?? []).map { $0.doubleValue ?? .nan } }
    /// The member `key` of an object value, for fixtures.
    func member(_ key: String) -> JSON? { objectValue?[key] }
}
