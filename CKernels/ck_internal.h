// ck_internal.h: private helpers shared by the CKernels sources: block sizes, OpenMP helpers, target attributes,
// the quantized-activation layout of ck_matmul's scratch, the per-SIMD-level tables, and portable 8-float vectors
// (clang/gcc vector extensions) that compile to ymm under AVX2/AVX-512 and to SSE pairs in the portable path.
// Not part of the public API (that is include/ckernels.h only).
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "include/ckernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

// MARK: - Attributes

#define CK_INLINE static inline __attribute__((always_inline))
// The intrinsic kernels' helpers (matmul_avx2.c, matmul_avx512.c, matmul_iq4.c: `AI`) carry their own target attribute,
// so they compile right as calls too. The kernel check builds them so (Makefile: -DCK_HELPERS_NOT_INLINED): under
// ASan + UBSan at -O0, forcing every helper inline grew matmul_avx2.c's compile past 20 GB of memory (0.1 GB as calls).
#ifdef CK_HELPERS_NOT_INLINED
#define CK_HELPER static inline
#else
#define CK_HELPER CK_INLINE
#endif

#if defined(__x86_64__) || defined(__i386__)
#define CK_X86 1
// AVX2 level: AVX2 + FMA + F16C (Haswell and later, Zen 1 and later).
#define CK_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi2")))
// AVX-512 level: F + BW + VL + DQ + VNNI (Ice Lake, Sapphire Rapids, Zen 4). Kernels mostly use 256-bit EVEX
// forms (32 registers, vpdpbusd on ymm): on Zen 4 a zmm op costs two ymm ops anyway.
#define CK_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c,bmi2")))
#else
#define CK_X86 0
#endif

// MARK: - Blocks

// Bytes of one block of a quantized format (0 for the float formats): constant-folded where fmt is a constant.
CK_INLINE int ck__block_bytes(int fmt) {
    switch (fmt) {
    case CK_Q4_0: return (int)sizeof(ck_block_q4_0);
    case CK_Q4_1: return (int)sizeof(ck_block_q4_1);
    case CK_Q5_0: return (int)sizeof(ck_block_q5_0);
    case CK_Q5_1: return (int)sizeof(ck_block_q5_1);
    case CK_Q8_0: return (int)sizeof(ck_block_q8_0);
    case CK_Q2_K: return (int)sizeof(ck_block_q2_K);
    case CK_Q3_K: return (int)sizeof(ck_block_q3_K);
    case CK_Q4_K: return (int)sizeof(ck_block_q4_K);
    case CK_Q5_K: return (int)sizeof(ck_block_q5_K);
    case CK_Q6_K: return (int)sizeof(ck_block_q6_K);
    case CK_IQ4_NL: return (int)sizeof(ck_block_iq4_nl);
    case CK_IQ4_XS: return (int)sizeof(ck_block_iq4_xs);
    default: return 0;
    }
}
// Elements per block of a quantized format (0 for the float formats).
CK_INLINE int ck__block_size(int fmt) {
    switch (fmt) {
    case CK_Q4_0: case CK_Q4_1: case CK_Q5_0: case CK_Q5_1: case CK_Q8_0: case CK_IQ4_NL: return CK_QK;
    case CK_Q2_K: case CK_Q3_K: case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: case CK_IQ4_XS: return CK_QK_K;
    default: return 0;
    }
}
CK_INLINE int ck__is_quantized(int fmt) { return ck__block_size(fmt) != 0; }
CK_INLINE int ck__is_k_quant(int fmt) { return ck__block_size(fmt) == CK_QK_K; }

// MARK: - Threads

/// Threads worth using for `work` units when one thread should get at least `grain` of them: 1..nthreads.
CK_INLINE int ck__threads_for(int nthreads, double work, double grain) {
    if (nthreads < 1) nthreads = 1;
    double useful = work / grain;
    if (useful < 1.0) return 1;
    return useful < (double)nthreads ? (int)useful : nthreads;
}
/// Thread ith of nth gets [*begin, *end) of [0, n), split in chunks that are multiples of `align`.
CK_INLINE void ck__split_range(int64_t n, int ith, int nth, int64_t align, int64_t *begin, int64_t *end) {
    int64_t units = (n + align - 1) / align;
    int64_t per = units / nth, extra = units % nth;
    int64_t u0 = ith * per + (ith < extra ? ith : extra);
    int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
    *begin = u0 * align < n ? u0 * align : n;
    *end = u1 * align < n ? u1 * align : n;
}

// MARK: - Pool (cpu/pool.c): persistent workers instead of an OpenMP region per kernel

/// One thread of a job: ith of nth (the caller is thread 0).
typedef struct {
    int ith, nth;
} ck_thread;
typedef void (*ck_job_fn)(void *ctx, const ck_thread *th);
/// Runs fn(ctx, th) on nth threads (fewer if the pool cannot start them; one if another caller owns the pool) and
/// returns when all are done. Every thread of the job must reach each ck__barrier of it.
void ck__parallel(int nth, ck_job_fn fn, void *ctx);
/// Like ck__parallel, but returns once fn has returned on the caller and on every worker that started it by then:
/// workers that have not started are left out (they skip the job). fn must not use ck__barrier, and its threads must
/// take their work with ck__claim so that the caller alone can finish all of it.
void ck__parallel_open(int nth, ck_job_fn fn, void *ctx);
/// Waits until all th->nth threads of the current job have arrived.
void ck__barrier(const ck_thread *th);
/// Units [lo, hi) of work (lo, hi < 2^32) that threads take in chunks: the owner from the front (streaming forward),
/// the others from the back once their own are done. One per cache line.
typedef struct {
    _Alignas(64) uint64_t span;
} ck_claim;
void ck__claim_init(ck_claim *c, int64_t lo, int64_t hi);
/// Takes up to `chunk` units from the front (back = 0) or the back: returns how many (0: none left), first in *start.
int64_t ck__claim(ck_claim *c, int64_t chunk, int back, int64_t *start);
typedef void (*ck_range_fn)(const void *args, int64_t lo, int64_t hi);
/// fn(args, lo, hi) over [0, n) split among nth threads in chunks that are multiples of `align` (ck__split_range).
void ck__parallel_ranges(int nth, int64_t n, int64_t align, ck_range_fn fn, const void *args);

// MARK: - Quantized activations (ck_matmul scratch)

// Row t of T activation rows, quantized to 8 bits in blocks of 32, lives at base + t * stride:
//   int8_t qs[K]   q = round(x / d), 64-byte aligned
//   float  d[nb]   block scale amax / 127
//   float  s[nb]   d * sum(q): the block sum, so the q4_1 min and the q4_0 / q8_0 offsets cost one FMA per block
typedef struct {
    uint8_t *base;
    int64_t stride;  // bytes per row, a multiple of 64
    int64_t K, nb;   // inputs, blocks per row (K / 32)
    int64_t T;       // rows (tokens) of the call
    int fmt;         // weight format of the call (a level may order qs differently for some formats and T)
} ck_qact;

CK_INLINE int64_t ck__qact_stride(int64_t K) { return (K + 8 * (K / CK_QK) + 63) & ~(int64_t)63; }
CK_INLINE int8_t *ck__qact_qs(const ck_qact *a, int64_t t) { return (int8_t *)(a->base + t * a->stride); }
CK_INLINE float *ck__qact_d(const ck_qact *a, int64_t t) { return (float *)(a->base + t * a->stride + a->K); }
CK_INLINE float *ck__qact_s(const ck_qact *a, int64_t t) {
    return (float *)(a->base + t * a->stride + a->K) + a->nb;
}
// The C <= 4 activation rows t0 .. t0 + C - 1 that a SIMD tile reads: int8 values, block scales, block sums.
CK_INLINE void ck__qact_tile(const ck_qact *a, int64_t t0, int C, const int8_t *qa[4], const float *da[4],
                             const float *sa[4]) {
    for (int c = 0; c < C; c++) {
        qa[c] = ck__qact_qs(a, t0 + c);
        da[c] = ck__qact_d(a, t0 + c);
        sa[c] = ck__qact_s(a, t0 + c);
    }
}

// MARK: - Per-level kernel tables (cpu/matmul_*.c, chosen in cpu/matmul.c)

typedef struct {
    /// Whether this level has kernels for fmt (else the dispatch takes a lower level).
    int (*has)(int fmt);
    /// Quantizes activation rows [t0, t1) of x (T, K) into a.
    void (*quantize)(const ck_qact *a, const float *x, int64_t t0, int64_t t1);
    /// out (T, N) rows n0..n1 (all T tokens) = quantized activations · w (N, K)ᵀ, w in a quantized fmt.
    void (*rows_q)(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                   int64_t n1);
    /// The same for F32 / F16 weights with float activations x (T, K).
    void (*rows_f)(int fmt, float *out, const void *w, const float *x, int64_t T, int64_t K, int64_t N, int64_t n0,
                   int64_t n1);
} ck_matmul_impl;

extern const ck_matmul_impl ck__matmul_scalar;
#if CK_X86
extern const ck_matmul_impl ck__matmul_avx2;
extern const ck_matmul_impl ck__matmul_avx512;
extern const ck_matmul_impl ck__matmul_iq4_avx2;  // cpu/matmul_iq4.c: IQ4 formats at the AVX2 level
#endif

// MARK: - Portable 8-float vectors

// The vector helpers are always inlined, so no 256-bit value ever crosses a call in the portable path: the ABI
// note clang gives for them there does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float ck_v8f __attribute__((vector_size(32)));
typedef int32_t ck_v8i __attribute__((vector_size(32)));

CK_INLINE ck_v8f ck_v8_load(const float *p) {
    ck_v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
CK_INLINE void ck_v8_store(float *p, ck_v8f v) { memcpy(p, &v, sizeof v); }
CK_INLINE ck_v8f ck_v8_splat(float x) { return (ck_v8f){x, x, x, x, x, x, x, x}; }
CK_INLINE ck_v8f ck_v8_max(ck_v8f a, ck_v8f b) { return __builtin_elementwise_max(a, b); }
CK_INLINE ck_v8f ck_v8_min(ck_v8f a, ck_v8f b) { return __builtin_elementwise_min(a, b); }
CK_INLINE float ck_v8_hsum(ck_v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
CK_INLINE float ck_v8_hmax(ck_v8f v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = m > v[i] ? m : v[i];
    return m;
}

/// e^x for 8 lanes: Cephes expf (range reduction by ln 2, degree-6 polynomial), within 1 ulp over the whole float
/// range (7.6e-8 relative at worst): lanes above 88.72 give inf, lanes below -86.9 (where e^x nears the
/// subnormals) and -inf give exactly 0, NaN stays NaN.
CK_INLINE ck_v8f ck_v8_exp(ck_v8f x) {
    const ck_v8f lo = ck_v8_splat(-86.9f), hi = ck_v8_splat(88.7228391f);  // hi = ln(FLT_MAX)
    const ck_v8i keep = ~(ck_v8i)(x < lo);  // -1 where the result is not flushed to 0 (true for NaN)
    const ck_v8i over = x > hi;             // -1 where the result overflows to inf
    const ck_v8i nan = x != x;
    x = ck_v8_min(ck_v8_max(x, lo), hi);
    // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22, round to nearest even); it needs
    // IEEE evaluation order, so CKernels must not be built with -ffast-math / -fassociative-math.
    const ck_v8f magic = ck_v8_splat(12582912.0f);
    ck_v8f n = (x * ck_v8_splat(1.44269504088896341f) + magic) - magic;
    ck_v8f r = x - n * ck_v8_splat(0.693359375f);
    r = r - n * ck_v8_splat(-2.12194440e-4f);
    ck_v8f p = ck_v8_splat(1.9875691500e-4f);
    p = p * r + ck_v8_splat(1.3981999507e-3f);
    p = p * r + ck_v8_splat(8.3334519073e-3f);
    p = p * r + ck_v8_splat(4.1665795894e-2f);
    p = p * r + ck_v8_splat(1.6666665459e-1f);
    p = p * r + ck_v8_splat(5.0000001201e-1f);
    p = p * (r * r) + r + ck_v8_splat(1.0f);
    // 2p * 2^(n-1): n runs from -125 to 128 here and 2^128 is not a float, 2^(n-1) always is
    const ck_v8i e = (__builtin_convertvector(n, ck_v8i) + 126) << 23;
    const ck_v8f y = (p + p) * (ck_v8f)e;
    const ck_v8i inf = (ck_v8i)ck_v8_splat(__builtin_inff()), qnan = (ck_v8i)ck_v8_splat(__builtin_nanf(""));
    return (ck_v8f)(((((ck_v8i)y & ~over) | (inf & over)) & keep & ~nan) | (qnan & nan));
}

/// Scalar e^x with the same polynomial (for tails, so a row gives the same values whatever its length).
CK_INLINE float ck_exp1(float x) {
    ck_v8f v = ck_v8_exp(ck_v8_splat(x));
    return v[0];
}

#endif
