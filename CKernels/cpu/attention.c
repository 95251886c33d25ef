// cpu/attention.c: causal attention with grouped KV heads, two ways.
//
// ck_attention_naive: every score of every (head, query) row is written to scratch (nh * T * (start_pos + T)
// floats), then a softmax and the weighted sum of values. Simple, and the cross-check for the fused kernel.
//
// ck_attention_fused (FlashAttention style): a work item is one KV head g and a block of query positions; its rows
// are (query position, query head) pairs of the G = nh / nkv heads that read g, so each block of KB keys and values
// is loaded once for all of them. Per key block:
//   S = Qᵀ-layout scores, online softmax (running max m, sum l, rescale alpha = e^(m_old - m_new)), acc += P V.
// Everything is kept transposed, rows innermost (Qt (hd, RP), S (KB, RP), accT (hd, RP)), so every inner loop is
// an FMA of 8 rows at a time against one broadcast key or value element: no horizontal sums, any hd works, and the
// keys and values are read straight from the cache rows. Key blocks past the last query position are never
// visited; only the diagonal block gets a mask. Items of at most FEW_ROWS rows (decode: one position, G heads)
// would leave most of the 8 lanes empty, so they keep rows in natural layout instead (dot products of 8 keys at a
// time, acc[row] += p * v[j] along hd). Decode (few items): the key range of each item is split into parts of at
// least SPLIT_KEYS keys, each part writes its unnormalised (m, l, acc), and whichever thread finishes an item's last
// part merges them (flash-decoding). No barrier: the call is an open job (ck__parallel_open), so a worker that the
// OS has descheduled delays nothing; the parts' boundaries depend on the thread count asked for, never on which
// threads run them, so the values are the same from run to run.
// Scratch is per thread plus the split partials and their counters: independent of the context length.
//
// The *_f16kv variants read caches stored as IEEE half (half the bytes per decode step). The fused one converts
// each key block, then each value block, of KV head g into one (KB, hd) float buffer after the thread's workspace
// right before the tiles use it (vcvtph2ps at the AVX2 / AVX-512 levels), so the tile code is the F32 code with
// a row stride of hd; the naive one converts each row in stack chunks.
#include <math.h>

#include "levels.h"
#if CK_X86
#include <immintrin.h>
#endif

#define KB 64           // keys per block
#define ROWS_TARGET 32  // query rows (positions x heads of a group) per work item: 4 vectors of 8
#define ATTN_GRAIN (1 << 17)  // flops per thread at least
// Few items (decode): flops per thread at least, and keys per split part at least. A part costs a copy of its rows'
// queries, a partial written and merged (a few hundred ns for 4 rows of 256); a key costs ~0.1 µs for 4 rows of 256.
// Gemma 3 (4 heads of 256, 1 KV head) splits from 32 keys, SmolLM2 (9 heads of 64, 3 KV heads) from 57.
#define ATTN_SPLIT_GRAIN (1 << 15)
#define SPLIT_KEYS 16

// MARK: - Shapes shared by the kernel and its scratch size

CK_INLINE int64_t round8(int64_t x) { return (x + 7) & ~(int64_t)7; }
CK_INLINE int64_t rows_max(int64_t nh) { return round8(nh > ROWS_TARGET ? nh : ROWS_TARGET); }
/// Query positions per work item for G heads per KV head.
CK_INLINE int64_t block_positions(int64_t G, int64_t T) {
    int64_t bq = ROWS_TARGET / G;
    if (bq < 1) bq = 1;
    return bq < T ? bq : T;
}
/// Floats of one thread's workspace: Qt, accT (hd, RP) + S (KB, RP) + m, l, alpha, pos (RP).
CK_INLINE int64_t workspace_floats(int64_t nh, int64_t hd) {
    return (rows_max(nh) * (2 * hd + KB + 4) + 15) & ~(int64_t)15;
}
/// Floats of one split partial: accT (hd, RP) + m, l (RP).
CK_INLINE int64_t partial_floats(int64_t nh, int64_t hd) { return (rows_max(nh) * (hd + 2) + 15) & ~(int64_t)15; }
/// Items at most when keys are split (key_splits): fewer than 8 per thread.
CK_INLINE int64_t split_items_max(int64_t T, int64_t nh, int nthreads) {
    return nh * T < 8 * (int64_t)nthreads ? nh * T : 8 * (int64_t)nthreads;
}
/// Most partial slots a call can use: items * splits < max(items * nthreads, 4 * nthreads) (key_splits).
CK_INLINE int64_t partial_slots_max(int64_t T, int64_t nh, int nthreads) {
    if (nthreads <= 1) return 0;
    return split_items_max(T, nh, nthreads) * nthreads + 4 * (int64_t)nthreads;
}
/// Key splits per work item, only when there are few items (fewer than 8 per thread): enough that items * splits
/// is a multiple of the thread count (even shares) and at least two parts per thread (an open job's threads take
/// parts as they come: a late thread leaves less undone), never below SPLIT_KEYS keys per part.
CK_INLINE int64_t key_splits(int64_t items, int64_t nkeys, int nt) {
    if (nt <= 1 || items >= 8 * (int64_t)nt) return 1;
    int64_t a = items, b = nt;  // gcd
    while (b) {
        const int64_t r = a % b;
        a = b;
        b = r;
    }
    int64_t s = nt / a;
    while (items * s < 2 * (int64_t)nt) s *= 2;
    const int64_t by_keys = nkeys / SPLIT_KEYS;
    if (s > by_keys) s = by_keys;
    return s < 1 ? 1 : s;
}

/// Floats of one thread's workspace for F16 K/V: the F32 one plus one KV block (KB, hd) converted to float.
CK_INLINE int64_t workspace_floats_f16kv(int64_t nh, int64_t hd) {
    return workspace_floats(nh, hd) + ((KB * hd + 15) & ~(int64_t)15);
}

static size_t fused_scratch_bytes(int64_t T, int64_t nh, int64_t hd, int nthreads, int f16kv) {
    if (T <= 0 || nh <= 0 || hd <= 0) return 0;
    if (nthreads < 1) nthreads = 1;
    const int64_t ws = f16kv ? workspace_floats_f16kv(nh, hd) : workspace_floats(nh, hd);
    const int64_t floats = nthreads * ws + partial_slots_max(T, nh, nthreads) * partial_floats(nh, hd);
    // + the parts merged so far, one counter per item (split_items_max)
    const int64_t counters = nthreads > 1 ? split_items_max(T, nh, nthreads) : 0;
    return (size_t)floats * sizeof(float) + (size_t)counters * sizeof(int64_t) + 64;
}

size_t ck_attention_fused_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh, int64_t hd, int nthreads) {
    // nthreads workspaces + the split partials; pass the same nthreads to ck_attention_fused.
    (void)start_pos;
    return fused_scratch_bytes(T, nh, hd, nthreads, 0);
}

size_t ck_attention_fused_f16kv_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh, int64_t hd,
                                              int nthreads) {
    (void)start_pos;
    return fused_scratch_bytes(T, nh, hd, nthreads, 1);
}

size_t ck_attention_naive_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh) {
    return (size_t)(nh * T * (start_pos + T)) * sizeof(float) + 64;
}

size_t ck_attention_naive_f16kv_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh) {
    return ck_attention_naive_scratch_bytes(T, start_pos, nh);  // rows are converted in stack chunks
}

// MARK: - F16 <-> F32 conversion

/// dst (nrows, n) = src rows (n halves each, at stride ld halves) as floats: one KV block of one head.
typedef void (*cvt_rows_fn)(float *dst, const uint16_t *src, int64_t nrows, int64_t ld, int64_t n);

static void cvt_rows_scalar(float *dst, const uint16_t *src, int64_t nrows, int64_t ld, int64_t n) {
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t i = 0; i < n; i++) dst[r * n + i] = ck_fp16_to_fp32(src[r * ld + i]);
}
#if CK_X86
static CK_TARGET_AVX2 void cvt_rows_avx2(float *dst, const uint16_t *src, int64_t nrows, int64_t ld, int64_t n) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *s = src + r * ld;
        float *d = dst + r * n;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
        for (; i < n; i++) d[i] = _cvtsh_ss(s[i]);
    }
}
static CK_TARGET_AVX512 void cvt_rows_avx512(float *dst, const uint16_t *src, int64_t nrows, int64_t ld,
                                             int64_t n) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *s = src + r * ld;
        float *d = dst + r * n;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
        for (; i < n; i++) d[i] = _cvtsh_ss(s[i]);
    }
}
#endif
static cvt_rows_fn cvt_rows_pick(void) {
#if CK_X86
    const int level = ck_simd_level();
    return level >= CK_SIMD_AVX512 ? cvt_rows_avx512 : level >= CK_SIMD_AVX2 ? cvt_rows_avx2 : cvt_rows_scalar;
#else
    return cvt_rows_scalar;
#endif
}

static void f32_to_f16_scalar(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = ck_fp32_to_fp16(src[i]);
}
#if CK_X86
// vcvtps2ph rounds to nearest even like ck_fp32_to_fp16 and agrees on every non-NaN input (subnormals, overflow to
// inf included); NaNs keep part of their payload there, so lanes holding a NaN are redone by the scalar function.
static CK_TARGET_AVX2 void f32_to_f16_avx2(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (_mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)))
            for (int k = 0; k < 8; k++) dst[i + k] = ck_fp32_to_fp16(src[i + k]);
    }
    f32_to_f16_scalar(dst + i, src + i, n - i);
}
static CK_TARGET_AVX512 void f32_to_f16_avx512(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(src + i);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q))
            for (int k = 0; k < 16; k++) dst[i + k] = ck_fp32_to_fp16(src[i + k]);
    }
    f32_to_f16_avx2(dst + i, src + i, n - i);
}
#endif

typedef struct {
    uint16_t *dst;
    const float *src;
    void (*fn)(uint16_t *, const float *, int64_t);
} convert_args;

static void convert_range(const void *p, int64_t lo, int64_t hi) {
    const convert_args *a = (const convert_args *)p;
    a->fn(a->dst + lo, a->src + lo, hi - lo);
}

void ck_convert_f32_to_f16(uint16_t *dst, const float *src, int64_t n, int nthreads) {
    if (n <= 0) return;
#if CK_X86
    const int level = ck_simd_level();
    void (*fn)(uint16_t *, const float *, int64_t) =
        level >= CK_SIMD_AVX512 ? f32_to_f16_avx512 : level >= CK_SIMD_AVX2 ? f32_to_f16_avx2 : f32_to_f16_scalar;
#else
    void (*fn)(uint16_t *, const float *, int64_t) = f32_to_f16_scalar;
#endif
    const convert_args args = {dst, src, fn};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)n, 1 << 16), n, 64, convert_range, &args);
}

// MARK: - Fused: one work item

typedef struct {
    float *out;
    const float *q, *k, *v;
    int64_t T, start_pos, nh, nkv, hd, G, bq, ldq, ldk;
    float scale;
    int64_t window;  // > 0: row at position p sees keys p-window+1..p only (sliding-window attention)
    int64_t ring;    // rows of the caches: position j is at row j % ring (the identity for a full cache)
    // F16 caches (ck_attention_fused_f16kv; k and v are NULL then): each KV block is converted by cvt into the
    // float buffer after the F32 workspace, K first, then V over it once the scores are done.
    const uint16_t *k16, *v16;
    cvt_rows_fn cvt;
} attn_ctx;

// The key (or value) block of rows j0..j0+nj of KV head g as floats, and its row stride in *ld: straight from the
// F32 cache, or converted from the F16 one into buf.
CK_INLINE const float *kv_block(const attn_ctx *c, const float *f32, const uint16_t *f16, int64_t g, int64_t j0,
                                int64_t nj, float *buf, int64_t *ld) {
    if (f16) {
        c->cvt(buf, f16 + (j0 % c->ring) * c->ldk + g * c->hd, nj, c->ldk, c->hd);
        *ld = c->hd;
        return buf;
    }
    *ld = c->ldk;
    return f32 + (j0 % c->ring) * c->ldk + g * c->hd;
}

// Keys of the block that starts at position j0 (of at most ke): KB, fewer at the end, and cut where the ring wraps
// so that a block is one contiguous run of cache rows.
CK_INLINE int64_t block_keys(const attn_ctx *c, int64_t j0, int64_t ke) {
    int64_t nj = ke - j0 < KB ? ke - j0 : KB;
    const int64_t to_wrap = c->ring - j0 % c->ring;
    return nj < to_wrap ? nj : to_wrap;
}

// Prefetches rows j0..j0+nj of KV head g of a cache (F32 or F16): decode reads the cache of every layer cold (the
// weights streamed since have evicted it), a short strided row per key that the hardware prefetcher misses.
CK_INLINE void kv_prefetch(const attn_ctx *c, const void *cache, int64_t g, int64_t j0, int64_t nj) {
    const size_t es = c->k16 ? sizeof(uint16_t) : sizeof(float), row = (size_t)c->hd * es;
    const char *p = (const char *)cache + (size_t)((j0 % c->ring) * c->ldk + g * c->hd) * es;
    for (int64_t j = 0; j < nj; j++, p += (size_t)c->ldk * es)
        for (size_t o = 0; o < row; o += 64) __builtin_prefetch(p + o);
}

// S[j][iv0*8 ..] for JK keys x NV row vectors: sum over d of Qt[d][rows] * k[j][d].
CK_INLINE void qk_tile(const int JK, const int NV, float *S, int64_t RP, const float *Qt, const float *kj,
                       int64_t ldk, int64_t hd, int64_t iv0) {
    ck_v8f acc[8][4];
    for (int j = 0; j < JK; j++)
        for (int v = 0; v < NV; v++) acc[j][v] = ck_v8_splat(0.0f);
    for (int64_t d = 0; d < hd; d++) {
        ck_v8f qv[4];
        for (int v = 0; v < NV; v++) qv[v] = ck_v8_load(Qt + d * RP + (iv0 + v) * 8);
        for (int j = 0; j < JK; j++) {
            const ck_v8f kb = ck_v8_splat(kj[j * ldk + d]);
            for (int v = 0; v < NV; v++) acc[j][v] += qv[v] * kb;
        }
    }
    for (int j = 0; j < JK; j++)
        for (int v = 0; v < NV; v++) ck_v8_store(S + j * RP + (iv0 + v) * 8, acc[j][v]);
}

// All nj keys of a block for NV row vectors from iv0.
CK_INLINE void qk_block(const int NV, float *S, int64_t RP, const float *Qt, const float *kb, int64_t ldk,
                        int64_t hd, int64_t nj, int64_t iv0) {
    const int JK = NV == 1 ? 8 : 4;
    int64_t j = 0;
    for (; j + JK <= nj; j += JK) qk_tile(JK, NV, S + j * RP, RP, Qt, kb + j * ldk, ldk, hd, iv0);
    for (; j < nj; j++) qk_tile(1, NV, S + j * RP, RP, Qt, kb + j * ldk, ldk, hd, iv0);
}

// accT[d0 + dd][rows] = accT * alpha + sum over j of P[j][rows] * v[j][d0 + dd], for DJ values x NV row vectors.
CK_INLINE void pv_tile(const int DJ, const int NV, float *accT, int64_t RP, const float *P, const float *alpha,
                       const float *vb, int64_t ldk, int64_t nj, int64_t d0, int64_t iv0) {
    ck_v8f acc[8][4];
    for (int v = 0; v < NV; v++) {
        const ck_v8f al = ck_v8_load(alpha + (iv0 + v) * 8);
        for (int dd = 0; dd < DJ; dd++) acc[dd][v] = ck_v8_load(accT + (d0 + dd) * RP + (iv0 + v) * 8) * al;
    }
    for (int64_t j = 0; j < nj; j++) {
        ck_v8f p[4];
        for (int v = 0; v < NV; v++) p[v] = ck_v8_load(P + j * RP + (iv0 + v) * 8);
        for (int dd = 0; dd < DJ; dd++) {
            const ck_v8f vv = ck_v8_splat(vb[j * ldk + d0 + dd]);
            for (int v = 0; v < NV; v++) acc[dd][v] += p[v] * vv;
        }
    }
    for (int dd = 0; dd < DJ; dd++)
        for (int v = 0; v < NV; v++) ck_v8_store(accT + (d0 + dd) * RP + (iv0 + v) * 8, acc[dd][v]);
}

CK_INLINE void pv_block(const int NV, float *accT, int64_t RP, const float *P, const float *alpha, const float *vb,
                        int64_t ldk, int64_t nj, int64_t hd, int64_t iv0) {
    const int DJ = NV == 1 ? 8 : 4;
    int64_t d = 0;
    for (; d + DJ <= hd; d += DJ) pv_tile(DJ, NV, accT, RP, P, alpha, vb, ldk, nj, d, iv0);
    for (; d < hd; d++) pv_tile(1, NV, accT, RP, P, alpha, vb, ldk, nj, d, iv0);
}

// Work item (KV head g, query positions t0..t1) over keys ks..ke (already clipped to what the rows can see).
// Writes the normalised rows to out, or, with part != NULL, the unnormalised accT, m, l to part.
// Rows innermost (transposed): for items with more than FEW_ROWS rows.
CK_INLINE void attn_rows_body(const attn_ctx *c, int64_t g, int64_t t0, int64_t t1, int64_t ks, int64_t ke,
                              float *ws, float *part) {
    const int64_t G = c->G, hd = c->hd, rows = (t1 - t0) * G, RP = round8(rows), NV = RP / 8;
    float *Qt = ws, *accT = Qt + hd * RP, *S = accT + hd * RP, *m = S + KB * RP, *l = m + RP, *alpha = l + RP;
    int32_t *pos = (int32_t *)(alpha + RP);
    // Row i = (position t0 + i / G, head g*G + i % G); padding rows are zero queries at the last position.
    for (int64_t i = 0; i < RP; i++) {
        const int64_t ii = i < rows ? i : rows - 1;
        pos[i] = (int32_t)(c->start_pos + t0 + ii / G);
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    for (int64_t i = 0; i < RP; i++) {
        const float *qi = c->q + (t0 + i / G) * c->ldq + (g * G + i % G) * hd;
        for (int64_t d = 0; d < hd; d++) Qt[d * RP + i] = i < rows ? qi[d] * c->scale : 0.0f;
    }
    memset(accT, 0, (size_t)(hd * RP) * sizeof(float));
    const int64_t pmin = pos[0], pmax = pos[RP - 1];
    float *cb = ws + workspace_floats(c->nh, hd);  // converted F16 block (f16kv only)
    for (int64_t j0 = ks, nj; j0 < ke; j0 += nj) {
        nj = block_keys(c, j0, ke);
        int64_t ldb;
        const float *kb = kv_block(c, c->k, c->k16, g, j0, nj, cb, &ldb);
        // scores
        for (int64_t iv = 0; iv < NV; iv += 4) {
            switch (NV - iv < 4 ? NV - iv : 4) {
            case 4: qk_block(4, S, RP, Qt, kb, ldb, hd, nj, iv); break;
            case 3: qk_block(3, S, RP, Qt, kb, ldb, hd, nj, iv); break;
            case 2: qk_block(2, S, RP, Qt, kb, ldb, hd, nj, iv); break;
            default: qk_block(1, S, RP, Qt, kb, ldb, hd, nj, iv); break;
            }
        }
        // causal mask, only where some row cannot see the whole block
        if (j0 + nj - 1 > pmin) {
            for (int64_t i = 0; i < RP; i++)
                for (int64_t j = pos[i] + 1 - j0 > 0 ? pos[i] + 1 - j0 : 0; j < nj; j++) S[j * RP + i] = -INFINITY;
        }
        // window mask, only where some row's window starts after the block's first key
        if (c->window > 0 && j0 <= pmax - c->window) {
            for (int64_t i = 0; i < RP; i++)
                for (int64_t j = 0; j < nj && j0 + j <= pos[i] - c->window; j++) S[j * RP + i] = -INFINITY;
        }
        // online softmax: P = e^(S - m_new) in place, l = l * alpha + sum P, alpha = e^(m_old - m_new)
        for (int64_t iv = 0; iv < NV; iv++) {
            const ck_v8f mo = ck_v8_load(m + iv * 8);
            ck_v8f mx = mo;
            for (int64_t j = 0; j < nj; j++) mx = ck_v8_max(mx, ck_v8_load(S + j * RP + iv * 8));
            // rows that have seen no key yet keep m = -inf; use 0 as the reference there (all their P are 0)
            const ck_v8f mu = (ck_v8f)((ck_v8i)mx & ~(ck_v8i)(mx == ck_v8_splat(-INFINITY)));
            ck_v8f sum = ck_v8_splat(0.0f);
            for (int64_t j = 0; j < nj; j++) {
                const ck_v8f p = ck_v8_exp(ck_v8_load(S + j * RP + iv * 8) - mu);
                ck_v8_store(S + j * RP + iv * 8, p);
                sum += p;
            }
            const ck_v8f al = ck_v8_exp(mo - mu);
            ck_v8_store(alpha + iv * 8, al);
            ck_v8_store(l + iv * 8, ck_v8_load(l + iv * 8) * al + sum);
            ck_v8_store(m + iv * 8, mx);
        }
        // values
        const float *vb = kv_block(c, c->v, c->v16, g, j0, nj, cb, &ldb);
        for (int64_t iv = 0; iv < NV; iv += 4) {
            switch (NV - iv < 4 ? NV - iv : 4) {
            case 4: pv_block(4, accT, RP, S, alpha, vb, ldb, nj, hd, iv); break;
            case 3: pv_block(3, accT, RP, S, alpha, vb, ldb, nj, hd, iv); break;
            case 2: pv_block(2, accT, RP, S, alpha, vb, ldb, nj, hd, iv); break;
            default: pv_block(1, accT, RP, S, alpha, vb, ldb, nj, hd, iv); break;
            }
        }
    }
    if (part) {
        memcpy(part, accT, (size_t)(hd * RP) * sizeof(float));
        memcpy(part + hd * RP, m, (size_t)RP * sizeof(float));
        memcpy(part + hd * RP + RP, l, (size_t)RP * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];  // l >= 1: every row sees key 0 or its own position
        float *o = c->out + (t0 + i / G) * c->ldq + (g * G + i % G) * hd;
        for (int64_t d = 0; d < hd; d++) o[d] = accT[d * RP + i] * inv;
    }
}
// Sum of each of 8 vectors, as one vector: [sum a[0], ..., sum a[7]] (a transpose-and-add tree).
CK_INLINE ck_v8f hsum8x8(const ck_v8f a[8]) {
    ck_v8f t[4], u[2];
    for (int k = 0; k < 4; k++)
        t[k] = __builtin_shufflevector(a[2 * k], a[2 * k + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
               __builtin_shufflevector(a[2 * k], a[2 * k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int k = 0; k < 2; k++)
        u[k] = __builtin_shufflevector(t[2 * k], t[2 * k + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
               __builtin_shufflevector(t[2 * k], t[2 * k + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    // u[k] lanes: sums of a[4k..4k+3] over their halves [0:4) then [4:8)
    return __builtin_shufflevector(u[0], u[1], 0, 1, 2, 3, 8, 9, 10, 11) +
           __builtin_shufflevector(u[0], u[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

// acc (ROWS, hd) = acc * alpha + P (ROWS, KB; nj used) · v (nj, hd at stride ldk): value rows read once for all
// rows, 32 values of d at a time in registers.
CK_INLINE void few_pv(const int ROWS, float *acc, const float *P, const float *alpha, const float *vb, int64_t ldk,
                      int64_t nj, int64_t hd) {
    int64_t d0 = 0;
    for (; d0 + 32 <= hd; d0 += 32) {
        ck_v8f av[4][4];
        for (int i = 0; i < ROWS; i++)
            for (int v = 0; v < 4; v++) av[i][v] = ck_v8_load(acc + i * hd + d0 + 8 * v) * ck_v8_splat(alpha[i]);
        for (int64_t j = 0; j < nj; j++) {
            ck_v8f vv[4];
            for (int v = 0; v < 4; v++) vv[v] = ck_v8_load(vb + j * ldk + d0 + 8 * v);
            for (int i = 0; i < ROWS; i++) {
                const ck_v8f p = ck_v8_splat(P[i * KB + j]);
                for (int v = 0; v < 4; v++) av[i][v] += p * vv[v];
            }
        }
        for (int i = 0; i < ROWS; i++)
            for (int v = 0; v < 4; v++) ck_v8_store(acc + i * hd + d0 + 8 * v, av[i][v]);
    }
    for (; d0 + 8 <= hd; d0 += 8) {
        ck_v8f av[4];
        for (int i = 0; i < ROWS; i++) av[i] = ck_v8_load(acc + i * hd + d0) * ck_v8_splat(alpha[i]);
        for (int64_t j = 0; j < nj; j++) {
            const ck_v8f vv = ck_v8_load(vb + j * ldk + d0);
            for (int i = 0; i < ROWS; i++) av[i] += ck_v8_splat(P[i * KB + j]) * vv;
        }
        for (int i = 0; i < ROWS; i++) ck_v8_store(acc + i * hd + d0, av[i]);
    }
    for (; d0 < hd; d0++)
        for (int i = 0; i < ROWS; i++) {
            float a = acc[i * hd + d0] * alpha[i];
            for (int64_t j = 0; j < nj; j++) a += P[i * KB + j] * vb[j * ldk + d0];
            acc[i * hd + d0] = a;
        }
}

// The same contract for items of at most FEW_ROWS rows (decode: T = 1 and G query heads per KV head). Here 8-lane
// row vectors would be mostly empty, so rows stay in natural layout: scores are dot products of 8 keys at a time
// (hd along the lanes, then one transpose-and-add), and acc[i] (hd) += p * v[j] reads each value row once.
#define FEW_ROWS 4
CK_INLINE void attn_few_body(const attn_ctx *c, int64_t g, int64_t t0, int64_t t1, int64_t ks, int64_t ke,
                             float *ws, float *part) {
    const int64_t G = c->G, hd = c->hd, rows = (t1 - t0) * G, hd8 = hd & ~(int64_t)7;
    float *Q = ws, *acc = Q + FEW_ROWS * hd, *S = acc + FEW_ROWS * hd, *m = S + FEW_ROWS * KB, *l = m + FEW_ROWS;
    int64_t pos[FEW_ROWS];
    for (int64_t i = 0; i < rows; i++) {
        const float *qi = c->q + (t0 + i / G) * c->ldq + (g * G + i % G) * hd;
        for (int64_t d = 0; d < hd; d++) {
            Q[i * hd + d] = qi[d] * c->scale;
            acc[i * hd + d] = 0.0f;
        }
        pos[i] = c->start_pos + t0 + i / G;
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    float *cb = ws + workspace_floats(c->nh, hd);  // converted F16 block (f16kv only)
    const void *kc = c->k16 ? (const void *)c->k16 : (const void *)c->k;
    const void *vc = c->v16 ? (const void *)c->v16 : (const void *)c->v;
    if (ks < ke) kv_prefetch(c, kc, g, ks, block_keys(c, ks, ke));
    for (int64_t j0 = ks, nj; j0 < ke; j0 += nj) {
        nj = block_keys(c, j0, ke);
        // this block's values (read after the scores) and the next block's keys load while the scores compute
        kv_prefetch(c, vc, g, j0, nj);
        if (j0 + nj < ke) kv_prefetch(c, kc, g, j0 + nj, block_keys(c, j0 + nj, ke));
        int64_t ldb;
        const float *kb = kv_block(c, c->k, c->k16, g, j0, nj, cb, &ldb);
        // scores S[i][j], 8 keys at a time
        for (int64_t i = 0; i < rows; i++) {
            const float *qi = Q + i * hd;
            int64_t j = 0;
            for (; j + 8 <= nj; j += 8) {
                ck_v8f a[8];
                for (int k = 0; k < 8; k++) a[k] = ck_v8_splat(0.0f);
                for (int64_t d = 0; d < hd8; d += 8) {
                    const ck_v8f qv = ck_v8_load(qi + d);
                    for (int k = 0; k < 8; k++) a[k] += qv * ck_v8_load(kb + (j + k) * ldb + d);
                }
                ck_v8f sv = hsum8x8(a);
                for (int64_t d = hd8; d < hd; d++)
                    for (int k = 0; k < 8; k++) sv[k] += qi[d] * kb[(j + k) * ldb + d];
                ck_v8_store(S + i * KB + j, sv);
            }
            for (; j < nj; j++) {
                ck_v8f a = ck_v8_splat(0.0f);
                for (int64_t d = 0; d < hd8; d += 8) a += ck_v8_load(qi + d) * ck_v8_load(kb + j * ldb + d);
                float sj = ck_v8_hsum(a);
                for (int64_t d = hd8; d < hd; d++) sj += qi[d] * kb[j * ldb + d];
                S[i * KB + j] = sj;
            }
        }
        // mask, online softmax per row (scalar: nj values per row, a few rows)
        float alpha[FEW_ROWS];
        for (int64_t i = 0; i < rows; i++) {
            float *si = S + i * KB;
            for (int64_t j = pos[i] + 1 - j0 > 0 ? pos[i] + 1 - j0 : 0; j < nj; j++) si[j] = -INFINITY;
            if (c->window > 0)
                for (int64_t j = 0; j < nj && j0 + j <= pos[i] - c->window; j++) si[j] = -INFINITY;
            float mx = m[i];
            for (int64_t j = 0; j < nj; j++) mx = si[j] > mx ? si[j] : mx;
            const float mu = mx == -INFINITY ? 0.0f : mx;
            float sum = 0.0f;
            int64_t j = 0;
            for (; j + 8 <= nj; j += 8) {
                const ck_v8f p = ck_v8_exp(ck_v8_load(si + j) - ck_v8_splat(mu));
                ck_v8_store(si + j, p);
                sum += ck_v8_hsum(p);
            }
            for (; j < nj; j++) {
                si[j] = ck_exp1(si[j] - mu);
                sum += si[j];
            }
            alpha[i] = ck_exp1(m[i] - mu);
            l[i] = l[i] * alpha[i] + sum;
            m[i] = mx;
        }
        // acc[i] = acc[i] * alpha[i] + sum_j P[i][j] v[j]
        const float *vb = kv_block(c, c->v, c->v16, g, j0, nj, cb, &ldb);
        switch (rows) {
        case 1: few_pv(1, acc, S, alpha, vb, ldb, nj, hd); break;
        case 2: few_pv(2, acc, S, alpha, vb, ldb, nj, hd); break;
        case 3: few_pv(3, acc, S, alpha, vb, ldb, nj, hd); break;
        default: few_pv(4, acc, S, alpha, vb, ldb, nj, hd); break;
        }
    }
    if (part) {  // the layout of attn_rows_body's partials: accT (hd, RP), m (RP), l (RP)
        const int64_t RP = round8(rows);
        for (int64_t i = 0; i < rows; i++) {
            for (int64_t d = 0; d < hd; d++) part[d * RP + i] = acc[i * hd + d];
            part[hd * RP + i] = m[i];
            part[hd * RP + RP + i] = l[i];
        }
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];
        float *o = c->out + (t0 + i / G) * c->ldq + (g * G + i % G) * hd;
        for (int64_t d = 0; d < hd; d++) o[d] = acc[i * hd + d] * inv;
    }
}

CK_INLINE void attn_item_body(const attn_ctx *c, int64_t g, int64_t t0, int64_t t1, int64_t ks, int64_t ke,
                              float *ws, float *part) {
    if ((t1 - t0) * c->G <= FEW_ROWS)
        attn_few_body(c, g, t0, t1, ks, ke, ws, part);
    else
        attn_rows_body(c, g, t0, t1, ks, ke, ws, part);
}
CK_LEVELS(attn_item,
          (const attn_ctx *c, int64_t g, int64_t t0, int64_t t1, int64_t ks, int64_t ke, float *ws, float *part),
          (c, g, t0, t1, ks, ke, ws, part))

// Combines the nsplit partials of item (g, t0..t1) into out.
static void merge_partials(const attn_ctx *c, int64_t g, int64_t t0, int64_t t1, const float *parts,
                           int64_t nsplit, int64_t stride) {
    const int64_t G = c->G, hd = c->hd, rows = (t1 - t0) * G, RP = round8(rows);
    for (int64_t i = 0; i < rows; i++) {
        float mmax = -INFINITY;
        for (int64_t s = 0; s < nsplit; s++) {
            const float ms = parts[s * stride + hd * RP + i];
            mmax = ms > mmax ? ms : mmax;
        }
        float wsum = 0.0f, w[64];  // nsplit <= nthreads; beyond 64 the weights are recomputed
        for (int64_t s = 0; s < nsplit; s++) {
            const float ws = expf(parts[s * stride + hd * RP + i] - mmax);  // 0 for splits that saw no key
            if (s < 64) w[s] = ws;
            wsum += ws * parts[s * stride + hd * RP + RP + i];
        }
        const float inv = 1.0f / wsum;
        float *o = c->out + (t0 + i / G) * c->ldq + (g * G + i % G) * hd;
        for (int64_t d = 0; d < hd; d++) {
            float acc = 0.0f;
            for (int64_t s = 0; s < nsplit; s++) {
                const float ws = s < 64 ? w[s] : expf(parts[s * stride + hd * RP + i] - mmax);
                acc += ws * parts[s * stride + d * RP + i];
            }
            o[d] = acc * inv;
        }
    }
}

// One fused call's work on the pool, over one sequence or several (a batch of decode rows and prompt chunks, each
// over its own cache): items (sequence, query block, KV head), each split into nsplit key ranges when there are few
// items, taken in order from an atomic counter (dynamic scheduling by hand); the thread that writes an item's last
// partial merges its partials. Sequence s owns items first[s]..first[s+1]-1.
typedef struct {
    const ck_attn_seq *seqs;
    int64_t nseq;
    const int64_t *first;  // (nseq + 1) item offsets
    float *out;
    const float *q;
    int f16kv;
    int64_t nh, nkv, hd;
    float scale;
    int64_t window;
    cvt_rows_fn cvt;
    attn_item_fn item_fn;
    float *base, *parts;  // per-thread workspaces, then nsplit partials per item
    int64_t *merged;      // nsplit > 1: partials written so far, per item
    int64_t ws_floats, part_floats, items, nsplit;
    int64_t next;         // the work queue's counter
} fused_job;

// The context of sequence s: its rows of q and out, its caches.
static attn_ctx seq_ctx(const fused_job *j, int64_t s) {
    const ck_attn_seq *e = &j->seqs[s];
    const int64_t G = j->nh / j->nkv, ldq = j->nh * j->hd;
    const attn_ctx c = {j->out + e->row * ldq, j->q + e->row * ldq, j->f16kv ? NULL : (const float *)e->k,
                        j->f16kv ? NULL : (const float *)e->v, e->T, e->start_pos, j->nh, j->nkv, j->hd, G,
                        block_positions(G, e->T), ldq, j->nkv * j->hd, j->scale, j->window,
                        e->kv_rows > 0 ? e->kv_rows : e->start_pos + e->T,
                        j->f16kv ? (const uint16_t *)e->k : NULL, j->f16kv ? (const uint16_t *)e->v : NULL, j->cvt};
    return c;
}

// The sequence that owns `item` (binary search over the offsets).
static int64_t seq_of(const fused_job *j, int64_t item) {
    int64_t lo = 0, hi = j->nseq - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (j->first[mid] <= item) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// Query block and KV head of a sequence's local item: largest items first (late query blocks see the most keys),
// so the causal imbalance evens out at the end.
CK_INLINE void item_place(const attn_ctx *c, int64_t local, int64_t *t0, int64_t *t1, int64_t *g) {
    const int64_t nqb = (c->T + c->bq - 1) / c->bq, qb = nqb - 1 - local / c->nkv;
    *g = local % c->nkv;
    *t0 = qb * c->bq;
    *t1 = *t0 + c->bq < c->T ? *t0 + c->bq : c->T;
}

static void fused_work(void *p, const ck_thread *th) {
    fused_job *j = (fused_job *)p;
    const int64_t nsplit = j->nsplit;
    float *ws = j->base + th->ith * j->ws_floats;
    int64_t cur = -1;  // the sequence whose context c holds
    attn_ctx c;
    for (;;) {
        const int64_t it = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (it >= j->items * nsplit) break;
        const int64_t item = it / nsplit, split = it % nsplit;
        if (cur < 0 || item < j->first[cur] || item >= j->first[cur + 1]) c = seq_ctx(j, cur = seq_of(j, item));
        int64_t t0, t1, g;
        item_place(&c, item - j->first[cur], &t0, &t1, &g);
        const int64_t kvis = c.start_pos + t1;  // keys any row of the item can see: first..kvis-1
        const int64_t first = c.window > 0 && c.start_pos + t0 + 1 > c.window ? c.start_pos + t0 + 1 - c.window : 0;
        if (nsplit == 1) {
            j->item_fn(&c, g, t0, t1, first, kvis, ws, NULL);
            continue;
        }
        // parts of whole SPLIT_KEYS runs (the last shorter; trailing parts may be empty: m = -inf, weight 0)
        const int64_t chunk = ((kvis - first + nsplit - 1) / nsplit + SPLIT_KEYS - 1) / SPLIT_KEYS * SPLIT_KEYS;
        const int64_t ks = first + split * chunk < kvis ? first + split * chunk : kvis;
        const int64_t ke = ks + chunk < kvis ? ks + chunk : kvis;
        float *part = j->parts + item * nsplit * j->part_floats;
        j->item_fn(&c, g, t0, t1, ks, ke, ws, part + split * j->part_floats);
        // the last part of the item to finish merges: its add acquires the other parts' writes (they released)
        if (__atomic_add_fetch(&j->merged[item], 1, __ATOMIC_ACQ_REL) == nsplit)
            merge_partials(&c, g, t0, t1, part, nsplit, j->part_floats);
    }
}

// The fused kernel over nseq sequences with F32 or F16 (f16kv) caches; first: nseq + 1 int64s for the item
// offsets; scratch as sized by fused_scratch_bytes for the rows of all sequences.
static void fused_run(float *out, const float *q, const ck_attn_seq *seqs, int64_t nseq, int64_t *first, int f16kv,
                      int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int nthreads, void *scratch) {
    if (nseq <= 0 || nh <= 0 || nkv <= 0 || hd <= 0 || nh % nkv != 0) return;
    const int64_t G = nh / nkv;
    double work = 0;
    int64_t nkeys = 0, rows = 0;  // the most keys one item reads; query rows of all sequences
    first[0] = 0;
    for (int64_t s = 0; s < nseq; s++) {
        const ck_attn_seq *e = &seqs[s];
        const int64_t T = e->T > 0 ? e->T : 0, p = e->start_pos, bq = T > 0 ? block_positions(G, T) : 1;
        rows += T;
        first[s + 1] = first[s] + nkv * ((T + bq - 1) / bq);
        const int64_t seen = window > 0 && p + (T + 1) / 2 > window ? window : p + (T + 1) / 2;
        const int64_t keys = window > 0 && p + T > window + T ? window + T : p + T;
        work += (double)T * (double)nh * (double)seen * (double)hd * 2.0;
        nkeys = keys > nkeys ? keys : nkeys;
    }
    const int64_t items = first[nseq];
    if (items == 0) return;
    // few items (decode): split keys from less work (ATTN_SPLIT_GRAIN)
    const int few = nthreads > 1 && items < 8 * (int64_t)nthreads;
    const int nt = ck__threads_for(nthreads < 1 ? 1 : nthreads, work, few ? ATTN_SPLIT_GRAIN : ATTN_GRAIN);
    const int64_t nsplit = key_splits(items, nkeys, nt);
    const int64_t ws_floats = f16kv ? workspace_floats_f16kv(nh, hd) : workspace_floats(nh, hd);
    float *base = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *parts = base + (nthreads < 1 ? 1 : nthreads) * ws_floats;  // nsplit partials per item after the workspaces
    // the merge counters after the partials (nsplit > 1 only when nthreads > 1: items <= split_items_max)
    int64_t *merged = (int64_t *)(parts + partial_slots_max(rows, nh, nthreads) * partial_floats(nh, hd));
    if (nsplit > 1) memset(merged, 0, (size_t)items * sizeof(int64_t));
    fused_job job = {seqs, nseq, first, out, q, f16kv, nh, nkv, hd, scale, window > 0 ? window : 0,
                     f16kv ? cvt_rows_pick() : NULL, attn_item_pick(), base, parts, merged, ws_floats,
                     partial_floats(nh, hd), items, nsplit, 0};
    ck__parallel_open(nt, fused_work, &job);
}

void ck_attention_fused(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int64_t kv_rows,
                        int nthreads, void *scratch) {
    // out, q (T, nh*hd); k, v (kv_rows, nkv*hd); scratch >= ck_attention_fused_scratch_bytes(.., nthreads)
    if (T <= 0) return;
    const ck_attn_seq seq = {0, T, start_pos, kv_rows, k, v};
    int64_t first[2];
    fused_run(out, q, &seq, 1, first, 0, nh, nkv, hd, scale, window, nthreads, scratch);
}

void ck_attention_fused_f16kv(float *out, const float *q, const uint16_t *k, const uint16_t *v, int64_t T,
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window,
                              int64_t kv_rows, int nthreads, void *scratch) {
    // k, v (kv_rows, nkv*hd) halves; scratch >= ck_attention_fused_f16kv_scratch_bytes(.., nthreads)
    if (!k || !v || T <= 0) return;
    const ck_attn_seq seq = {0, T, start_pos, kv_rows, k, v};
    int64_t first[2];
    fused_run(out, q, &seq, 1, first, 1, nh, nkv, hd, scale, window, nthreads, scratch);
}

size_t ck_attention_fused_batch_scratch_bytes(int64_t rows, int64_t nseq, int64_t nh, int64_t hd, int f16kv,
                                              int nthreads) {
    if (nseq <= 0) return 0;
    return fused_scratch_bytes(rows, nh, hd, nthreads, f16kv) + (size_t)(nseq + 1) * sizeof(int64_t);
}

void ck_attention_fused_batch(float *out, const float *q, const ck_attn_seq *seqs, int64_t nseq, int f16kv,
                              int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int nthreads,
                              void *scratch) {
    // out, q (rows, nh*hd); each sequence's caches (kv_rows, nkv*hd); the item offsets after the workspaces
    if (nseq <= 0 || !seqs || !scratch) return;
    int64_t rows = 0;
    for (int64_t s = 0; s < nseq; s++) {
        if (!seqs[s].k || !seqs[s].v) return;
        rows += seqs[s].T > 0 ? seqs[s].T : 0;
    }
    if (rows == 0) return;
    int64_t *first = (int64_t *)((char *)scratch + fused_scratch_bytes(rows, nh, hd, nthreads, f16kv));
    fused_run(out, q, seqs, nseq, first, f16kv, nh, nkv, hd, scale, window, nthreads, scratch);
}

// MARK: - Naive

/// The first key a query at position p sees.
CK_INLINE int64_t naive_first_key(int64_t p, int64_t window) { return window > 0 && p + 1 > window ? p + 1 - window : 0; }

/// Row offset (in rows from the first key's) of key j of a run that wraps to the ring's start after `wrap` keys.
CK_INLINE int64_t ring_offset(int64_t j, int64_t wrap, int64_t ring) { return j < wrap ? j : j - ring; }

CK_INLINE void naive_row_body(float *o, const float *qh, const float *kh, const float *vh, float *sc, int64_t nkeys,
                              int64_t wrap, int64_t ring, int64_t ldk, int64_t hd, float scale) {
    // o (hd) = softmax(scale * qh · kh[j], j < nkeys) · vh; sc (nkeys) holds the scores; key j is ring_offset rows
    // from kh (the ring wraps after `wrap` keys)
    float max = -INFINITY;
    for (int64_t j = 0; j < nkeys; j++) {
        const float *kj = kh + ring_offset(j, wrap, ring) * ldk;
        ck_v8f a = ck_v8_splat(0.0f);
        int64_t d = 0;
        for (; d + 8 <= hd; d += 8) a += ck_v8_load(qh + d) * ck_v8_load(kj + d);
        float s = ck_v8_hsum(a);
        for (; d < hd; d++) s += qh[d] * kj[d];
        sc[j] = s * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < nkeys; j++) {
        sc[j] = ck_exp1(sc[j] - max);
        sum += sc[j];
    }
    const float inv = 1.0f / sum;  // sc becomes the probabilities (the scratch is an attention pattern, ckernels.h)
    for (int64_t j = 0; j < nkeys; j++) sc[j] *= inv;
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t j = 0; j < nkeys; j++) {
        const float p = sc[j], *vj = vh + ring_offset(j, wrap, ring) * ldk;
        for (int64_t d = 0; d < hd; d++) o[d] += p * vj[d];
    }
}
CK_LEVELS(naive_row,
          (float *o, const float *qh, const float *kh, const float *vh, float *sc, int64_t nkeys, int64_t wrap,
           int64_t ring, int64_t ldk, int64_t hd, float scale),
          (o, qh, kh, vh, sc, nkeys, wrap, ring, ldk, hd, scale))

// F16 rows (defined below with their kernel).
typedef void (*naive_row_f16_fn)(float *o, const float *qh, const uint16_t *kh, const uint16_t *vh, float *sc,
                                 int64_t nkeys, int64_t wrap, int64_t ring, int64_t ldk, int64_t hd, float scale,
                                 cvt_rows_fn cvt);

// One naive call's work on the pool: (head, row) pairs taken in order from an atomic counter, as in
// ck_attention_fused. F32 caches (k, v, fn) or F16 caches (k16, v16, fn16, cvt).
typedef struct {
    float *out;
    const float *q, *k, *v;
    const uint16_t *k16, *v16;
    float *scores;
    naive_row_fn fn;
    naive_row_f16_fn fn16;
    cvt_rows_fn cvt;
    int64_t T, start_pos, nh, G, ldq, ldk, nk, hd;
    float scale;
    int64_t window, ring;
    int64_t next;
} naive_job;

static void naive_work(void *p, const ck_thread *th) {
    (void)th;
    naive_job *j = (naive_job *)p;
    const int64_t T = j->T, start_pos = j->start_pos, ldq = j->ldq, ldk = j->ldk, nk = j->nk, hd = j->hd;
    for (;;) {
        const int64_t ht = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (ht >= j->nh * T) break;
        const int64_t h = ht / T, t = ht % T;
        const int64_t j0 = naive_first_key(start_pos + t, j->window);
        const int64_t kv = (j0 % j->ring) * ldk + (h / j->G) * hd, wrap = j->ring - j0 % j->ring;
        float *o = j->out + t * ldq + h * hd, *sc = j->scores + ht * nk;
        if (j->fn)
            j->fn(o, j->q + t * ldq + h * hd, j->k + kv, j->v + kv, sc + j0, start_pos + t + 1 - j0, wrap, j->ring,
                  ldk, hd, j->scale);
        else
            j->fn16(o, j->q + t * ldq + h * hd, j->k16 + kv, j->v16 + kv, sc + j0, start_pos + t + 1 - j0, wrap,
                    j->ring, ldk, hd, j->scale, j->cvt);
        // masked keys have probability 0: the scratch is a readable (nh, T, nk) attention pattern (ckernels.h)
        for (int64_t jj = 0; jj < j0; jj++) sc[jj] = 0.0f;
        for (int64_t jj = start_pos + t + 1; jj < nk; jj++) sc[jj] = 0.0f;
    }
}

void ck_attention_naive(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int64_t kv_rows,
                        int nthreads, void *scratch) {
    // out, q (T, nh*hd); k, v (kv_rows, nkv*hd); scratch: scores (nh, T, start_pos+T)
    if (T <= 0 || nh <= 0 || nkv <= 0 || hd <= 0 || nh % nkv != 0) return;
    const int64_t G = nh / nkv, ldq = nh * hd, ldk = nkv * hd, nk = start_pos + T;
    float *scores = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const naive_row_fn fn = naive_row_pick();
    const double work = (double)T * (double)nh * (double)(start_pos + (T + 1) / 2) * (double)hd * 2.0;
    const int nt = ck__threads_for(nthreads, work, ATTN_GRAIN);
    naive_job j = {out, q, k, v, NULL, NULL, scores, fn, NULL, NULL, T, start_pos, nh, G, ldq, ldk, nk, hd, scale,
                   window, kv_rows > 0 ? kv_rows : nk, 0};
    ck__parallel(nt, naive_work, &j);
}

// F16 caches: the same row, each key and value row converted in chunks of NAIVE_CHUNK floats on the stack.
#define NAIVE_CHUNK 128
CK_INLINE void naive_row_f16_body(float *o, const float *qh, const uint16_t *kh, const uint16_t *vh, float *sc,
                                  int64_t nkeys, int64_t wrap, int64_t ring, int64_t ldk, int64_t hd, float scale,
                                  cvt_rows_fn cvt) {
    float buf[NAIVE_CHUNK];
    float max = -INFINITY;
    for (int64_t j = 0; j < nkeys; j++) {
        ck_v8f a = ck_v8_splat(0.0f);
        float s = 0.0f;
        for (int64_t d0 = 0; d0 < hd; d0 += NAIVE_CHUNK) {
            const int64_t n = hd - d0 < NAIVE_CHUNK ? hd - d0 : NAIVE_CHUNK;
            cvt(buf, kh + ring_offset(j, wrap, ring) * ldk + d0, 1, ldk, n);
            int64_t d = 0;
            for (; d + 8 <= n; d += 8) a += ck_v8_load(qh + d0 + d) * ck_v8_load(buf + d);
            for (; d < n; d++) s += qh[d0 + d] * buf[d];
        }
        sc[j] = (ck_v8_hsum(a) + s) * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < nkeys; j++) {
        sc[j] = ck_exp1(sc[j] - max);
        sum += sc[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < nkeys; j++) sc[j] *= inv;
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int64_t j = 0; j < nkeys; j++) {
        const float p = sc[j];
        for (int64_t d0 = 0; d0 < hd; d0 += NAIVE_CHUNK) {
            const int64_t n = hd - d0 < NAIVE_CHUNK ? hd - d0 : NAIVE_CHUNK;
            cvt(buf, vh + ring_offset(j, wrap, ring) * ldk + d0, 1, ldk, n);
            for (int64_t d = 0; d < n; d++) o[d0 + d] += p * buf[d];
        }
    }
}
CK_LEVELS(naive_row_f16,
          (float *o, const float *qh, const uint16_t *kh, const uint16_t *vh, float *sc, int64_t nkeys, int64_t wrap,
           int64_t ring, int64_t ldk, int64_t hd, float scale, cvt_rows_fn cvt),
          (o, qh, kh, vh, sc, nkeys, wrap, ring, ldk, hd, scale, cvt))

void ck_attention_naive_f16kv(float *out, const float *q, const uint16_t *k, const uint16_t *v, int64_t T,
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window,
                              int64_t kv_rows, int nthreads, void *scratch) {
    // as ck_attention_naive, with k, v (kv_rows, nkv*hd) halves
    if (T <= 0 || nh <= 0 || nkv <= 0 || hd <= 0 || nh % nkv != 0) return;
    const int64_t G = nh / nkv, ldq = nh * hd, ldk = nkv * hd, nk = start_pos + T;
    float *scores = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const naive_row_f16_fn fn = naive_row_f16_pick();
    const cvt_rows_fn cvt = cvt_rows_pick();
    const double work = (double)T * (double)nh * (double)(start_pos + (T + 1) / 2) * (double)hd * 2.0;
    const int nt = ck__threads_for(nthreads, work, ATTN_GRAIN);
    naive_job j = {out, q, NULL, NULL, k, v, scores, NULL, fn, cvt, T, start_pos, nh, G, ldq, ldk, nk, hd, scale,
                   window, kv_rows > 0 ? kv_rows : nk, 0};
    ck__parallel(nt, naive_work, &j);
}
