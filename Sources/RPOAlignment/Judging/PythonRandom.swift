// Python's `random` module, as far as the official judge uses it: MT19937 seeded from an integer the way
// CPython's `random.seed(int)` does (init_by_array over the 32-bit words of |seed|), `getrandbits(k)` for
// k <= 32, `_randbelow` (rejection sampling on getrandbits) and `shuffle` (Fisher-Yates from the end).
// Reference: CPython 3.11 Modules/_randommodule.c (genrand_uint32, init_genrand, init_by_array, random_seed,
// _random_Random_getrandbits_impl) and Lib/random.py (_randbelow_with_getrandbits, shuffle); unchanged since 3.2.
// Used only to reproduce compare.py's seeded order of the two responses; rpo's own randomness is `RNG`.
import RPOCore

/// CPython's Mersenne Twister with its integer seeding.
public struct PythonRandom: Sendable {
    static let N = 624, M = 397
    var mt = [UInt32](repeating: 0, count: 624)
    var index = 624

    /// `random.seed(seed)` for a non-negative integer seed (Python uses |seed| for negative ones).
    public init(seed: UInt64) {
        // random_seed: the absolute value as little-endian 32-bit words, at least one word.
        var key: [UInt32] = [UInt32(truncatingIfNeeded: seed)]
        if seed >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: seed >> 32)) }
        initByArray(key)
    }

    mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<Self.N {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = Self.N
    }

    mutating func initByArray(_ key: [UInt32]) {
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(Self.N, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= Self.N { mt[0] = mt[Self.N - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(Self.N - 1) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= Self.N { mt[0] = mt[Self.N - 1]; i = 1 }
        }
        mt[0] = 0x8000_0000  // MSB is 1, assuring a non-zero initial array
    }

    /// genrand_uint32: the next 32-bit output.
    public mutating func nextUInt32() -> UInt32 {
        if index >= Self.N {
            for k in 0..<Self.N {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % Self.N] & 0x7FFF_FFFF)
                mt[k] = mt[(k + Self.M) % Self.N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
            }
            index = 0
        }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `getrandbits(k)` for 1 <= k <= 32: the top k bits of one output.
    public mutating func getrandbits(_ k: Int) -> UInt32 {
        precondition(k >= 1 && k <= 32, "getrandbits is implemented for 1...32 bits")
        return nextUInt32() >> UInt32(32 - k)
    }

    /// `_randbelow(n)`: uniform in 0..<n by rejection on `getrandbits(n.bit_length())` (n < 2^32).
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n > 0 && n < (1 << 32))
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `random.shuffle(x)`: for i from the end down to 1, swap x[i] with x[randbelow(i + 1)].
    public mutating func shuffle<T>(_ x: inout [T]) {
        var i = x.count - 1
        while i >= 1 {
            let j = randbelow(i + 1)
            x.swapAt(i, j)
            i -= 1
        }
    }
}
