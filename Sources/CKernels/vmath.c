// Elementwise kernels built on a vectorised exp: the row log-sum-exp and softmax-gradient of the vocabulary
// head, the GELU (tanh form) and SwiGLU activations, forward and backward. libm's expf / tanhf / expm1f
// were 10-15% of a GPT-2 forward and 5-7% of a SmolLM2 one (perf); these run 16 (8) lanes at a time.
// exp: Cephes expf (x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n by scalef / exponent bits),
// relative error ~1 ulp. GELU-tanh uses 1 + tanh(u) = 2 sigmoid(2u), exact in real arithmetic, so
// gelu(x) = x sigmoid(2u): no cancellation for negative x. Tails are done with masked vectors, so an
// element's result never depends on where a range starts (decoding stays batch-invariant).
// Reference: Cephes expf.c; llm.c gelu_forward / gelu_backward; transformers activations.py.
#include "rpo_kernels.h"
#include "arch.h"
#include <math.h>

#define LOG2E 1.44269504088896341f
#define C1 0.693359375f
#define C2 -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
#define S2PI 0.7978845608028654f  // sqrt(2/pi)
#define GK 0.044715f

#if RPO_X86

// MARK: AVX-512

#define T512 __attribute__((target("avx512f")))

T512 static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));  // NaN stays NaN
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(C1), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(C2), r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);  // p * 2^n with correct overflow to inf and underflow to 0
}

#define MASK512(i, n) ((n) - (i) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ((n) - (i))) - 1))

T512 static double sum_exp512(const float *x, float shift, long n) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    const __m512 s = _mm512_set1_ps(shift);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
        e = _mm512_maskz_mov_ps(m, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
}

T512 static void scaled_exp512(float *out, const float *x, float shift, float scale, long n) {
    const __m512 s = _mm512_set1_ps(shift), g = _mm512_set1_ps(scale);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(g, e));
    }
}

T512 static void gelu_fwd512(float *out, const float *x, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 u = _mm512_mul_ps(_mm512_set1_ps(S2PI), _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(GK), v), _mm512_mul_ps(v, v), v));
        __m512 e = exp512(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u));
        _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
    }
}

T512 static void gelu_bwd512(float *dinp, const float *dout, const float *x, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i), x2 = _mm512_mul_ps(v, v);
        __m512 u = _mm512_mul_ps(_mm512_set1_ps(S2PI), _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(GK), v), x2, v));
        __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u))));
        __m512 du = _mm512_mul_ps(_mm512_set1_ps(S2PI), _mm512_fmadd_ps(_mm512_set1_ps(3.0f * GK), x2, _mm512_set1_ps(1.0f)));
        // d/dx x sigmoid(2u) = s + 2 x s (1 - s) du
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), v), _mm512_mul_ps(s, _mm512_sub_ps(_mm512_set1_ps(1.0f), s)));
        __m512 d = _mm512_fmadd_ps(t, du, s);
        _mm512_mask_storeu_ps(dinp + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dout + i), d));
    }
}

T512 static void swiglu_fwd512(float *out, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 silu = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, u + i)));
    }
}

T512 static void swiglu_bwd512(float *dg, float *du, const float *d, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = MASK512(i, n);
        __m512 x = _mm512_maskz_loadu_ps(m, g + i), dv = _mm512_maskz_loadu_ps(m, d + i);
        __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_mask_storeu_ps(du + i, m, _mm512_mul_ps(_mm512_mul_ps(dv, x), s));
        // dgate = d u s (1 + x (1 - s))
        __m512 f = _mm512_fmadd_ps(x, _mm512_sub_ps(_mm512_set1_ps(1.0f), s), _mm512_set1_ps(1.0f));
        __m512 r = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dv, _mm512_maskz_loadu_ps(m, u + i)), s), f);
        _mm512_mask_storeu_ps(dg + i, m, r);
    }
}

// MARK: AVX2 + FMA

#define T256 __attribute__((target("avx2,fma")))

T256 static inline __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);  // below: the result is flushed to 0 (expf gives < 2^-126)
    const __m256 hi = _mm256_set1_ps(88.72283f);   // above: inf (expf overflows)
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(C1), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(C2), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n for n in [-126, 128]: n = 128 (x near 88.72) as 2 * 2^127
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i big = _mm256_cmpgt_epi32(ni, _mm256_set1_epi32(127));
    ni = _mm256_sub_epi32(ni, _mm256_and_si256(big, _mm256_set1_epi32(1)));
    __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    p = _mm256_mul_ps(p, pow2);
    p = _mm256_blendv_ps(p, _mm256_add_ps(p, p), _mm256_castsi256_ps(big));
    p = _mm256_blendv_ps(p, _mm256_set1_ps(INFINITY), over);
    return _mm256_andnot_ps(under, p);
}

static const int tailmask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define MASK256(i, n) _mm256_loadu_si256((const __m256i *)(tailmask + 8 - ((n) - (i) >= 8 ? 8 : (n) - (i))))

T256 static double sum_exp256(const float *x, float shift, long n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    const __m256 s = _mm256_set1_ps(shift);
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), s)), _mm256_castsi256_ps(m));
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    __m256d a = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

T256 static void scaled_exp256(float *out, const float *x, float shift, float scale, long n) {
    const __m256 s = _mm256_set1_ps(shift), g = _mm256_set1_ps(scale);
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 e = exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), s));
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(g, e));
    }
}

T256 static void gelu_fwd256(float *out, const float *x, long n) {
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 v = _mm256_maskload_ps(x + i, m);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(S2PI), _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(GK), v), _mm256_mul_ps(v, v), v));
        __m256 e = exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
        _mm256_maskstore_ps(out + i, m, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
}

T256 static void gelu_bwd256(float *dinp, const float *dout, const float *x, long n) {
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 v = _mm256_maskload_ps(x + i, m), x2 = _mm256_mul_ps(v, v);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(S2PI), _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(GK), v), x2, v));
        __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u))));
        __m256 du = _mm256_mul_ps(_mm256_set1_ps(S2PI), _mm256_fmadd_ps(_mm256_set1_ps(3.0f * GK), x2, _mm256_set1_ps(1.0f)));
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), v), _mm256_mul_ps(s, _mm256_sub_ps(_mm256_set1_ps(1.0f), s)));
        __m256 d = _mm256_fmadd_ps(t, du, s);
        _mm256_maskstore_ps(dinp + i, m, _mm256_mul_ps(_mm256_maskload_ps(dout + i, m), d));
    }
}

T256 static void swiglu_fwd256(float *out, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 x = _mm256_maskload_ps(g + i, m);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(silu, _mm256_maskload_ps(u + i, m)));
    }
}

T256 static void swiglu_bwd256(float *dg, float *du, const float *d, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i += 8) {
        __m256i m = MASK256(i, n);
        __m256 x = _mm256_maskload_ps(g + i, m), dv = _mm256_maskload_ps(d + i, m);
        __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_maskstore_ps(du + i, m, _mm256_mul_ps(_mm256_mul_ps(dv, x), s));
        __m256 f = _mm256_fmadd_ps(x, _mm256_sub_ps(_mm256_set1_ps(1.0f), s), _mm256_set1_ps(1.0f));
        __m256 r = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dv, _mm256_maskload_ps(u + i, m)), s), f);
        _mm256_maskstore_ps(dg + i, m, r);
    }
}

#endif  // RPO_X86

// MARK: Portable (libm)

static double sum_exp_c(const float *x, float shift, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += expf(x[i] - shift);
    return s;
}
static void scaled_exp_c(float *out, const float *x, float shift, float scale, long n) {
    for (long i = 0; i < n; i++) out[i] = scale * expf(x[i] - shift);
}
static void gelu_fwd_c(float *out, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i], u = S2PI * (v + GK * v * v * v);
        out[i] = v / (1 + expf(-2 * u));
    }
}
static void gelu_bwd_c(float *dinp, const float *dout, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i], u = S2PI * (v + GK * v * v * v), s = 1 / (1 + expf(-2 * u));
        float du = S2PI * (1 + 3 * GK * v * v);
        dinp[i] = dout[i] * (s + 2 * v * s * (1 - s) * du);
    }
}
static void swiglu_fwd_c(float *out, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i++) out[i] = g[i] / (1 + expf(-g[i])) * u[i];
}
static void swiglu_bwd_c(float *dg, float *du, const float *d, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i++) {
        float x = g[i], s = 1 / (1 + expf(-x));
        du[i] = d[i] * x * s;
        dg[i] = d[i] * u[i] * s * (1 + x * (1 - s));
    }
}

// MARK: Dispatch

#if RPO_X86
#define PICK(isa, f512, f256, fc) ((isa) >= RPO_ISA_AVX512 && rpo_cpu_isa() >= RPO_ISA_AVX512 ? f512 \
    : (isa) >= RPO_ISA_AVX2 && rpo_cpu_isa() >= RPO_ISA_AVX2 ? f256 : fc)
#else
#define PICK(isa, f512, f256, fc) ((void)(isa), (fc))
#endif

double rpo_sum_exp(int isa, const float *x, float shift, long n) {
    return PICK(isa, sum_exp512, sum_exp256, sum_exp_c)(x, shift, n);
}
void rpo_scaled_exp(int isa, float *out, const float *x, float shift, float scale, long n) {
    PICK(isa, scaled_exp512, scaled_exp256, scaled_exp_c)(out, x, shift, scale, n);
}
void rpo_gelu_tanh_forward(int isa, float *out, const float *x, long n) {
    PICK(isa, gelu_fwd512, gelu_fwd256, gelu_fwd_c)(out, x, n);
}
void rpo_gelu_tanh_backward(int isa, float *dinp, const float *dout, const float *x, long n) {
    PICK(isa, gelu_bwd512, gelu_bwd256, gelu_bwd_c)(dinp, dout, x, n);
}
void rpo_swiglu_forward(int isa, float *out, const float *gate, const float *up, long n) {
    PICK(isa, swiglu_fwd512, swiglu_fwd256, swiglu_fwd_c)(out, gate, up, n);
}
void rpo_swiglu_backward(int isa, float *dgate, float *dup, const float *dout, const float *gate, const float *up, long n) {
    PICK(isa, swiglu_bwd512, swiglu_bwd256, swiglu_bwd_c)(dgate, dup, dout, gate, up, n);
}

// MARK: Read bandwidth

// Σ x[i] streaming the buffer with the decoding kernel's software prefetch (into L2, 2 KB ahead): the
// benchmark's measure of the machine's read bandwidth, so the bound is not set by a loop the hardware
// prefetcher alone feeds more slowly than the kernel it is compared with.
#if RPO_X86
T512 static double stream_sum512(const float *x, long n) {
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T1);
        _mm_prefetch((const char *)(x + i + 528), _MM_HINT_T1);
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
    }
    double s = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
    for (; i < n; i++) s += x[i];
    return s;
}
T256 static double stream_sum256(const float *x, long n) {
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T1);
        a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(x + i + 8));
    }
    double s = 0;
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(a, b));
    for (int j = 0; j < 8; j++) s += t[j];
    for (; i < n; i++) s += x[i];
    return s;
}
#endif  // RPO_X86
static double stream_sum_c(const float *x, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += x[i];
    return s;
}
double rpo_stream_sum(int isa, const float *x, long n) {
    return PICK(isa, stream_sum512, stream_sum256, stream_sum_c)(x, n);
}
