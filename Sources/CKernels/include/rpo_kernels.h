// Hand-written kernels that Swift cannot express with a per-machine instruction set (AVX-512, AVX2+FMA),
// chosen at run time from what the CPU supports, with a portable C path otherwise.
#ifndef RPO_KERNELS_H
#define RPO_KERNELS_H

/// Instruction sets of the hand-written kernels, in increasing order.
enum { RPO_ISA_PORTABLE = 1, RPO_ISA_AVX2 = 2 /* AVX2 + FMA */, RPO_ISA_AVX512 = 3 /* AVX-512F */ };

/// The best instruction set this CPU supports.
int rpo_cpu_isa(void);

/// out[n * ldo + o] = dot(inp[n * C ...], w[o * C ...]) (+ bias[o]) for every n < N and o0 <= o < o1, with
/// the instructions of `isa` (the portable path if the CPU lacks them). w is (OC, C) row-major
/// (torch.nn.Linear). Every dot product is computed by the same instruction sequence whatever N, o0, o1 and
/// the position of its row in the batch: results are batch-invariant (for a given isa). Weight rows are
/// read from memory once for all N rows (tiles of 4 rows x 4 tokens).
void rpo_rows_matvec(int isa, float *out, long ldo, const float *inp, long N, long C,
                     const float *w, const float *bias, long o0, long o1);

// Elementwise kernels on a vectorised exp (vmath.c), each with the instructions of `isa` (as above):
/// Σ exp(x[i] - shift), accumulated in double.
double rpo_sum_exp(int isa, const float *x, float shift, long n);
/// out[i] = scale * exp(x[i] - shift) (out may alias x).
void rpo_scaled_exp(int isa, float *out, const float *x, float shift, float scale, long n);
/// out = gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (out may alias x).
void rpo_gelu_tanh_forward(int isa, float *out, const float *x, long n);
/// dinp = gelu_tanh'(x) * dout.
void rpo_gelu_tanh_backward(int isa, float *dinp, const float *dout, const float *x, long n);
/// out = silu(gate) * up.
void rpo_swiglu_forward(int isa, float *out, const float *gate, const float *up, long n);
/// dup = dout * silu(gate); dgate = dout * up * silu'(gate).
void rpo_swiglu_backward(int isa, float *dgate, float *dup, const float *dout, const float *gate, const float *up, long n);

/// Σ x[i], streaming with software prefetch (the benchmarks' read-bandwidth measure).
double rpo_stream_sum(int isa, const float *x, long n);

/// A part of a parallel region: part p of `parts`.
typedef void (*rpo_team_fn)(void *ctx, long part, long parts);

/// Starts the worker team on first call (threads - 1 helper threads; later calls change nothing) and
/// returns its size, the caller included.
long rpo_team_size(long threads);

/// Runs fn(ctx, p, parts) for every p < parts (at most the team size) on the team, part 0 on the calling
/// thread; returns when all parts are done. Regions nested in a part, or started while another thread's
/// region runs, run their parts one after another on the calling thread.
void rpo_team_run(rpo_team_fn fn, void *ctx, long parts);

#endif
