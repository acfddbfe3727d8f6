// Batch-invariant matrix-vector products for decoding (see rpo_kernels.h). Each dot product of length C
// runs one accumulator of W lanes over chunks of W floats (the last chunk zero-padded by a masked load),
// fused multiply-adds in chunk order, then a fixed horizontal reduction: the same operations for a row
// computed alone or in a tile of 4 tokens (so the tile shapes may be chosen freely). Tiles of 4 weight rows
// x up to 4 tokens keep the 4 weight rows in L1 while every token of the batch passes over them, so a step
// reads the weights from memory once.
// Reference: llama.cpp ggml_vec_dot_f32 (one dot per output), llm.c matmul_forward tiling.
#include "rpo_kernels.h"
#include "arch.h"
#include <stddef.h>

#define TR 4  // weight rows per tile
#define TT 4  // tokens per tile
// Software prefetch of the weights two tiles ahead into L2: the hardware prefetcher alone loses the four
// interleaved row streams at every tile boundary. Measured on this machine (2 threads, C = 576, 230 MB of
// rows): batch 1 from 24 to 38 GB/s (the read bandwidth), batch 8 from 58 to 112 GFLOP/s; into L1 (T0) or
// one tile ahead gains far less. Prefetching past the end of the weights is harmless (no fault).
#define PF_AHEAD (2 * TR)

typedef void (*tile_fn)(float *, long, const float *, long, const float *, const float *, long);

#if RPO_X86

// MARK: AVX-512

__attribute__((target("avx512f"), always_inline)) static inline void
tile512(float *out, long ldo, const float *inp, long C, const float *w, const float *bias, long o, int nr, int nt) {
    __m512 acc[TR][TT];
    for (int r = 0; r < nr; r++) for (int t = 0; t < nt; t++) acc[r][t] = _mm512_setzero_ps();
    long c = 0;
    for (; c + 16 <= C; c += 16) {
        __m512 x[TT];
        for (int t = 0; t < nt; t++) x[t] = _mm512_loadu_ps(inp + t * C + c);
        for (int r = 0; r < nr; r++) {
            __m512 wv = _mm512_loadu_ps(w + (o + r) * C + c);
            _mm_prefetch((const char *)(w + (o + r) * C + c + PF_AHEAD * C), _MM_HINT_T1);
            for (int t = 0; t < nt; t++) acc[r][t] = _mm512_fmadd_ps(wv, x[t], acc[r][t]);
        }
    }
    if (c < C) {
        __mmask16 m = (__mmask16)((1u << (C - c)) - 1);
        __m512 x[TT];
        for (int t = 0; t < nt; t++) x[t] = _mm512_maskz_loadu_ps(m, inp + t * C + c);
        for (int r = 0; r < nr; r++) {
            __m512 wv = _mm512_maskz_loadu_ps(m, w + (o + r) * C + c);
            for (int t = 0; t < nt; t++) acc[r][t] = _mm512_fmadd_ps(wv, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            out[t * ldo + o + r] = bias ? s + bias[o + r] : s;
        }
}

// One function per tile shape: constant bounds, so the tile's accumulators live in registers.
#define TILE512(R, T) \
    __attribute__((target("avx512f"))) static void tile512_##R##x##T(float *out, long ldo, const float *inp, long C, \
        const float *w, const float *bias, long o) { tile512(out, ldo, inp, C, w, bias, o, R, T); }
TILE512(4, 4) TILE512(4, 3) TILE512(4, 2) TILE512(4, 1)
TILE512(1, 4) TILE512(1, 3) TILE512(1, 2) TILE512(1, 1)

static const tile_fn tiles512[2][TT] = {
    {tile512_1x1, tile512_1x2, tile512_1x3, tile512_1x4},
    {tile512_4x1, tile512_4x2, tile512_4x3, tile512_4x4},
};

// MARK: AVX2 + FMA

static const int mask8[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

__attribute__((target("avx2,fma"), always_inline)) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
tile256(float *out, long ldo, const float *inp, long C, const float *w, const float *bias, long o, int nr, int nt) {
    __m256 acc[TR][TT];
    for (int r = 0; r < nr; r++) for (int t = 0; t < nt; t++) acc[r][t] = _mm256_setzero_ps();
    long c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 x[TT];
        for (int t = 0; t < nt; t++) x[t] = _mm256_loadu_ps(inp + t * C + c);
        for (int r = 0; r < nr; r++) {
            __m256 wv = _mm256_loadu_ps(w + (o + r) * C + c);
            if ((c & 15) == 0) _mm_prefetch((const char *)(w + (o + r) * C + c + PF_AHEAD * C), _MM_HINT_T1);
            for (int t = 0; t < nt; t++) acc[r][t] = _mm256_fmadd_ps(wv, x[t], acc[r][t]);
        }
    }
    if (c < C) {
        __m256i m = _mm256_loadu_si256((const __m256i *)(mask8 + 8 - (C - c)));
        __m256 x[TT];
        for (int t = 0; t < nt; t++) x[t] = _mm256_maskload_ps(inp + t * C + c, m);
        for (int r = 0; r < nr; r++) {
            __m256 wv = _mm256_maskload_ps(w + (o + r) * C + c, m);
            for (int t = 0; t < nt; t++) acc[r][t] = _mm256_fmadd_ps(wv, x[t], acc[r][t]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) {
            float s = hsum256(acc[r][t]);
            out[t * ldo + o + r] = bias ? s + bias[o + r] : s;
        }
}

#define TILE256(R, T) \
    __attribute__((target("avx2,fma"))) static void tile256_##R##x##T(float *out, long ldo, const float *inp, long C, \
        const float *w, const float *bias, long o) { tile256(out, ldo, inp, C, w, bias, o, R, T); }
TILE256(4, 4) TILE256(4, 3) TILE256(4, 2) TILE256(4, 1)
TILE256(1, 4) TILE256(1, 3) TILE256(1, 2) TILE256(1, 1)

static const tile_fn tiles256[2][TT] = {
    {tile256_1x1, tile256_1x2, tile256_1x3, tile256_1x4},
    {tile256_4x1, tile256_4x2, tile256_4x3, tile256_4x4},
};

#endif  // RPO_X86

// MARK: Portable

// Eight partial sums over the products c = 8j + i, added pairwise at the end: one fixed order.
static void tile_portable(float *out, long ldo, const float *inp, long C, const float *w, const float *bias, long o,
                          int nr, int nt) {
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) {
            const float *a = w + (o + r) * C, *b = inp + t * C;
            float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            long c = 0;
            for (; c + 8 <= C; c += 8)
                for (int i = 0; i < 8; i++) p[i] += a[c + i] * b[c + i];
            for (int i = 0; c + i < C; i++) p[i] += a[c + i] * b[c + i];
            float s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
            out[t * ldo + o + r] = bias ? s + bias[o + r] : s;
        }
}

// MARK: Dispatch

static int detect_isa(void) {
#if RPO_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return RPO_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return RPO_ISA_AVX2;
#endif
    return RPO_ISA_PORTABLE;
}

int rpo_cpu_isa(void) {
    static int isa;  // 0 until detected; a benign race, every thread computes the same value
    if (isa == 0) isa = detect_isa();
    return isa;
}

void rpo_rows_matvec(int isa, float *out, long ldo, const float *inp, long N, long C,
                     const float *w, const float *bias, long o0, long o1) {
    if (isa > rpo_cpu_isa()) isa = RPO_ISA_PORTABLE;  // never an instruction the CPU lacks
#if RPO_X86
    const tile_fn(*table)[TT] = isa == RPO_ISA_AVX512 ? tiles512 : isa == RPO_ISA_AVX2 ? tiles256 : NULL;
#else
    const tile_fn(*table)[TT] = NULL;
#endif
    for (long o = o0; o < o1;) {
        const int nr = o + TR <= o1 ? TR : 1;
        for (long n = 0; n < N; n += TT) {
            const int nt = N - n < TT ? (int)(N - n) : TT;
            float *y = out + n * ldo;
            const float *x = inp + n * C;
            if (table) table[nr == TR][nt - 1](y, ldo, x, C, w, bias, o);
            else tile_portable(y, ldo, x, C, w, bias, o, nr, nt);
        }
        o += nr;
    }
}
