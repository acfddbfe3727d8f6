// SHA-256 against the NIST FIPS 180-4 example vectors (one block, two blocks, a million 'a' fed in pieces and
// from a file), and the model fingerprint built on it.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite struct SHA256Tests {
    static func hex(_ s: String) -> String { var h = SHA256(); h.update(Array(s.utf8)); return h.hexDigest() }

    @Test func nistVectors() {
        #expect(Self.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // 55, 56 and 64 bytes: the padding boundaries.
        #expect(Self.hex(String(repeating: "a", count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(Self.hex(String(repeating: "a", count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(Self.hex(String(repeating: "a", count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func millionAsInPiecesAndFromAFile() throws {
        let want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        var h = SHA256()
        let piece = [UInt8](repeating: 0x61, count: 999)  // pieces that straddle block boundaries
        var left = 1_000_000
        while left > 0 { let n = min(left, piece.count); h.update(piece.prefix(n)); left -= n }
        #expect(h.hexDigest() == want)
        let dir = TempDir()
        try Data(repeating: 0x61, count: 1_000_000).write(to: URL(fileURLWithPath: dir.file("a")))
        var f = SHA256()
        try f.update(file: dir.file("a"))
        #expect(f.hexDigest() == want)
        #expect(throws: IOError.self) { var g = SHA256(); try g.update(file: dir.file("missing")) }
    }

    @Test func modelFingerprintCoversWeightsAndTokenizer() throws {
        let dir = TempDir()
        let model = dir.file("m")
        try FileManager.default.copyItem(atPath: TestPaths.fixture("train/tiny"), toPath: model)
        var h = SHA256()
        try h.update(file: model + "/model.safetensors")
        let weightsOnly = try ModelFiles.fingerprint(model)
        #expect(weightsOnly == "sha256:" + h.hexDigest())
        try "{}".write(toFile: model + "/tokenizer.json", atomically: true, encoding: .utf8)
        let withTokenizer = try ModelFiles.fingerprint(model)
        #expect(withTokenizer != weightsOnly)
        try "{\"x\":1}".write(toFile: model + "/config.json.bak", atomically: true, encoding: .utf8)
        #expect(try ModelFiles.fingerprint(model) == withTokenizer, "other files do not count")
        #expect(throws: IOError.self) { _ = try ModelFiles.fingerprint(dir.file("none")) }
    }
}
