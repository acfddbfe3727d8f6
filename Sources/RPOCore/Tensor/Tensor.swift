// fp32 tensors: reference-counted storage, a shape, and views that share storage without copying.
// Kernels work on raw pointers (llm.c style); Tensor is the owner and the bookkeeping around them.
import Foundation

/// 64-byte aligned fp32 buffer, freed with its last reference.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// A dense row-major fp32 tensor or a contiguous view into another tensor's storage.
public struct Tensor: @unchecked Sendable {
    public let storage: TensorStorage
    public let offset: Int
    public let shape: [Int]

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// A new zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.storage = TensorStorage(count: shape.reduce(1, *))
        self.offset = 0
        self.shape = shape
    }

    /// A new tensor holding `values` (row-major) with the given shape.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    init(storage: TensorStorage, offset: Int, shape: [Int]) {
        precondition(offset >= 0 && offset + shape.reduce(1, *) <= storage.count, "view out of bounds")
        self.storage = storage; self.offset = offset; self.shape = shape
    }

    /// The same elements under another shape of the same size (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(storage: storage, offset: offset, shape: newShape)
    }

    /// Rows `range` of the leading dimension (no copy).
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(storage: storage, offset: offset + range.lowerBound * inner,
                      shape: [range.count] + shape.dropFirst())
    }

    /// Row `i` of the leading dimension, with that dimension dropped (no copy).
    public subscript(i: Int) -> Tensor {
        let r = rows(i..<(i + 1))
        return r.reshaped(Array(shape.dropFirst()))
    }

    /// A copy with its own storage.
    public func copy() -> Tensor {
        let t = Tensor(zeros: shape)
        t.pointer.update(from: pointer, count: count)
        return t
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    /// self = op(a) * op(b) for 2-D tensors (through OpenBLAS sgemm).
    public func matmul(_ a: Tensor, _ b: Tensor, transA: Transpose = .none, transB: Transpose = .none,
                       accumulate: Bool = false) {
        precondition(a.rank == 2 && b.rank == 2 && rank == 2)
        let m = transA == .none ? a.shape[0] : a.shape[1]
        let k = transA == .none ? a.shape[1] : a.shape[0]
        let kb = transB == .none ? b.shape[0] : b.shape[1]
        let n = transB == .none ? b.shape[1] : b.shape[0]
        precondition(k == kb && shape == [m, n], "matmul shapes \(a.shape) x \(b.shape) -> \(shape)")
        BLAS.sgemm(transA, transB, m: m, n: n, k: k, a: a.pointer, lda: a.shape[1], b: b.pointer,
                   ldb: b.shape[1], beta: accumulate ? 1 : 0, c: pointer, ldc: n)
    }
}
