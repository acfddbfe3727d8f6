// sgemm (OpenBLAS) against its naive twin on odd shapes and every transpose combination; the row kernels
// against direct formulas.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

func randomArray(_ n: Int, _ rng: inout RNG, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

@Suite struct BLASTests {
    // The last three are large enough to be cut into panels (BLAS.minPanelWork): by rows, by columns, both ways.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 33, 1), (33, 7, 257), (257, 1, 33), (1, 257, 7), (33, 33, 33), (257, 257, 7),
                                            (300, 130, 41), (130, 300, 41), (333, 333, 9)]

    @Test(arguments: [Transpose.none, .transposed], [Transpose.none, .transposed])
    func sgemmMatchesNaive(_ ta: Transpose, _ tb: Transpose) {
        var rng = RNG(seed: 42)
        for (m, n, k) in BLASTests.shapes {
            let a = randomArray(m * k, &rng), b = randomArray(k * n, &rng), c0 = randomArray(m * n, &rng)
            var fast = c0, slow = c0
            let lda = ta == .none ? k : m, ldb = tb == .none ? n : k
            for beta: Float in [0, 0.5] {
                fast = c0; slow = c0
                BLAS.sgemm(ta, tb, m: m, n: n, k: k, alpha: 1.5, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &fast, ldc: n)
                BLAS.naiveSgemm(ta, tb, m: m, n: n, k: k, alpha: 1.5, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &slow, ldc: n)
                // fp32 accumulation over k terms of magnitude <= 1: error grows like sqrt(k) * eps * |terms|;
                // 1e-5 * k bounds it with room and still catches a wrong index or transpose.
                expectClose(fast, slow, atol: 1e-5 * Float(k), "sgemm \(ta) \(tb) \(m)x\(n)x\(k) beta \(beta)")
            }
        }
    }

    @Test func softmaxAndLogSoftmaxRows() {
        var rng = RNG(seed: 3)
        let n = 37, c = 1001
        let x = randomArray(n * c, &rng, scale: 30)
        var sm = [Float](repeating: 0, count: n * c), lsm = sm
        Kernels.softmaxRows(&sm, x, rows: n, cols: c)
        Kernels.logSoftmaxRows(&lsm, x, rows: n, cols: c)
        var expS = [Float](), expL = [Float]()
        for i in 0..<n {
            let row = x[(i * c)..<((i + 1) * c)].map(Double.init)
            let mx = row.max()!
            let lse = mx + log(row.map { exp($0 - mx) }.reduce(0, +))
            expL += row.map { Float($0 - lse) }
            expS += row.map { Float(exp($0 - lse)) }
        }
        // Values are probabilities (<= 1) and log-probabilities (|x| <= ~60): float rounding only.
        expectClose(sm, expS, atol: 1e-6, rtol: 1e-5, "softmax")
        expectClose(lsm, expL, atol: 1e-5, rtol: 1e-6, "log-softmax")
    }

    @Test func elementwiseKernelsInParallel() {
        var rng = RNG(seed: 5)
        let n = 1 << 19  // large enough to split across threads
        let a = randomArray(n, &rng), b = randomArray(n, &rng)
        var out = [Float](repeating: 0, count: n)
        Kernels.add(&out, a, b, count: n)
        #expect(out == zip(a, b).map { $0 + $1 })
        Kernels.scale(&out, a, 3, count: n)
        #expect(out == a.map { 3 * $0 })
        out = a
        Kernels.addInPlace(&out, b, count: n)
        #expect(out == zip(a, b).map { $0 + $1 })
    }

    @Test func tensorViewsShareStorage() {
        let t = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let row = t[1]
        #expect(row.shape == [3, 4])
        #expect(row.array == (12..<24).map(Float.init))
        row.pointer[0] = -1
        #expect(t.array[12] == -1)
        let r = t.reshaped([6, 4]).rows(2..<4)
        #expect(r.array == [8, 9, 10, 11, -1, 13, 14, 15].map(Float.init))
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), b = Tensor([1, 0, 0, 1, 1, 1], shape: [3, 2])
        let c = Tensor(zeros: [2, 2])
        c.matmul(a, b)
        #expect(c.array == [4, 5, 10, 11])
    }

    @Test func rngIsDeterministicAndShuffleIsAPermutation() {
        var a = RNG(seed: 1), b = RNG(seed: 1)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var xs = Array(0..<1000)
        a.shuffle(&xs)
        #expect(xs.sorted() == Array(0..<1000))
        #expect(xs != Array(0..<1000))
        let saved = a.stateWords
        let next = a.next()
        var restored = RNG(stateWords: saved)
        #expect(restored.next() == next)
        // The first outputs for seed 1, from a Python transcription of the reference C code of SplitMix64
        // and xoshiro256** (Vigna, prng.di.unimi.it): a change of algorithm would change every shuffle.
        var pinned = RNG(seed: 1)
        #expect((0..<3).map { _ in pinned.next() } == [12966619160104079557, 9600361134598540522, 10590380919521690900])
    }
}
