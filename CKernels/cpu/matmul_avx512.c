// cpu/matmul_avx512.c: the AVX-512 (F, BW, VL, DQ, VNNI) kernels of ck_matmul. See matmul.c for the block math.
//
// Register tile: R weight rows x C tokens (R = 4 or 1, C = 1..4), one 256-bit accumulator per (row, token).
// Each weight block is loaded and unpacked once per tile and meets C activation blocks, so prefill reuses it C
// times from registers, and decode (C = 1) streams every weight row exactly once.
//
// q4 weights go 4 blocks at a time ("quads"): the four blocks' 16 packed bytes (two vinserti128 pairs), two
// vpermt2d into 4-byte groups that cycle through the four blocks, then & 0x0F (elements 0-7 and 8-15) and
// >> 4 & 0x0F (16-23, 24-31) give four ymm; `quantize` stores the activations in the same order (a 4x4 transpose
// of 4-byte groups; the last nb % 4 blocks stay in plain order). Four vpdpbusd into one accumulator leave block
// b+k's sums in int32 lanes k and k+4, so one vcvtdq2ps and one FMA with (s_b .. s_b+3) broadcast from 16 bytes
// finish four blocks. On Zen 4 vpdpbusd and FMA share two pipes while convert, shifts and permutes use two
// others, so this keeps the busy pair at 5 ops per 4 blocks instead of 8.
// q8_0 blocks go one at a time: 32 bytes xor 0x80 (= w + 128, unsigned for vpdpbusd; the -128 * sum(q) falls
// into the s_a term), one vpdpbusd, one vcvtdq2ps, one FMA with the block's scale broadcast; the same path takes
// the last nb % 4 q4 blocks (vbroadcasti128 of the packed bytes, vpsrlvd by (0,0,0,0,4,4,4,4), & 0x0F).
//
// The scale table (s = d_w * d_a per row, token and block) is filled 8 blocks at a time: d_w (and m_w) from a few
// 64-byte loads and a vpermt2d / vpermt2w (not vpgatherdd: about 20 cycles on Zen 4), times the activation scales;
// the offset / min term (coefficient * s_a) is one FMA per 8 blocks. Zen 4 runs zmm as two ymm halves, so ymm
// loses nothing there and gets 32 registers through EVEX.
//
// Measured on one Zen 4 core (L2-resident weights): decode streams 24-29 GB/s of q4_1 and 36 GB/s of q8_0, about
// a third of it spent on the scale table and a third on loading the weights; prefill reaches 145-165 GOP/s.
#include "../ck_internal.h"

#if CK_X86
#include <immintrin.h>

#define AI CK_HELPER CK_TARGET_AVX512

// Token rows per pass over a thread's weight rows: 128 rows of quantized activations (<= 200 KB for K = 1536)
// stay in L2 while every 4-row weight tile meets them.
#define TOKEN_BLOCK 128

// Blocks whose scales are tabled before their dot products run: 64 blocks = 2048 inputs, a multiple of 4 so quads
// never straddle two spans; 4 KB of stack.
#define SPAN 64

AI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// MARK: - Activation quantization

// Whether the call's activations are stored (and its blocks taken) in quads: q4 weights.
CK_INLINE int use_quads(const ck_qact *a) { return a->fmt == CK_Q4_0 || a->fmt == CK_Q4_1; }

// One block of x as 32 int8 (two halves of 16) with its scale d and sum s = d * sum(q).
AI void quantize_block(const float *xb, __m128i *q0, __m128i *q1, float *d, float *s) {
    const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    // blocks below 1e-30 count as zero: 1 / d would overflow to inf (and 0 * inf is NaN)
    const float db = amax >= 1e-30f ? amax / 127.0f : 0.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
    *q0 = _mm512_cvtsepi32_epi8(i0);
    *q1 = _mm512_cvtsepi32_epi8(i1);
    *d = db;
    *s = db * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
}

static CK_TARGET_AVX512 void quantize(const ck_qact *a, const float *x, int64_t t0, int64_t t1) {
    // x (T, K) rows t0..t1 -> a; q = round-to-nearest-even(x / d), d = absmax / 127; for q4 weights quads of
    // blocks interleaved in 4-byte groups (see the header), the last nb % 4 blocks in plain order
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->K;
        int8_t *qs = ck__qact_qs(a, t);
        float *d = ck__qact_d(a, t), *s = ck__qact_s(a, t);
        int64_t b = 0;
        for (; use_quads(a) && b + 4 <= a->nb; b += 4) {
            __m128i q0[4], q1[4];
            for (int i = 0; i < 4; i++) quantize_block(xr + (b + i) * CK_QK, &q0[i], &q1[i], d + b + i, s + b + i);
            // 4x4 transposes of the blocks' dwords: [lo X | hi X | lo Y | hi Y] (see the header)
            int8_t *dst = qs + b * CK_QK;
            for (int h = 0; h < 2; h++) {
                const __m128i *q = h ? q1 : q0;
                const __m128i t0 = _mm_unpacklo_epi32(q[0], q[1]), t1 = _mm_unpacklo_epi32(q[2], q[3]);
                const __m128i t2 = _mm_unpackhi_epi32(q[0], q[1]), t3 = _mm_unpackhi_epi32(q[2], q[3]);
                _mm_store_si128((__m128i *)(dst + 32 * h), _mm_unpacklo_epi64(t0, t1));
                _mm_store_si128((__m128i *)(dst + 32 * h + 16), _mm_unpackhi_epi64(t0, t1));
                _mm_store_si128((__m128i *)(dst + 64 + 32 * h), _mm_unpacklo_epi64(t2, t3));
                _mm_store_si128((__m128i *)(dst + 64 + 32 * h + 16), _mm_unpackhi_epi64(t2, t3));
            }
        }
        for (; b < a->nb; b++) {
            __m128i q0, q1;
            quantize_block(xr + b * CK_QK, &q0, &q1, d + b, s + b);
            _mm_store_si128((__m128i *)(qs + b * CK_QK), q0);
            _mm_store_si128((__m128i *)(qs + b * CK_QK + 16), q1);
        }
    }
}

// MARK: - Quantized weights

// The 32 weights of one block as unsigned bytes in element order (see the header comment).
AI __m256i load_block(const int fmt, const uint8_t *blk) {
    if (fmt == CK_Q8_0)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
    const uint8_t *qs = blk + (fmt == CK_Q4_1 ? 4 : 2);
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// q4 blocks b..b+3 as unsigned bytes in quad order: 4-byte groups cycling through the 4 blocks; lo X = elements
// 0-7, hi X = 16-23, lo Y = 8-15, hi Y = 24-31 (int32 lanes k and k+4 belong to block b + k).
AI void load_quad(const int fmt, const uint8_t *blk, __m256i w[4]) {
    const int bs = ck__block_bytes(fmt), off = fmt == CK_Q4_1 ? 4 : 2;
    const __m256i v01 = _mm256_loadu2_m128i((const __m128i *)(blk + bs + off), (const __m128i *)(blk + off));
    const __m256i v23 =
        _mm256_loadu2_m128i((const __m128i *)(blk + 3 * bs + off), (const __m128i *)(blk + 2 * bs + off));
    const __m256i x = _mm256_permutex2var_epi32(v01, _mm256_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13), v23);
    const __m256i y = _mm256_permutex2var_epi32(v01, _mm256_setr_epi32(2, 6, 10, 14, 3, 7, 11, 15), v23);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    w[0] = _mm256_and_si256(x, m4);
    w[1] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
    w[2] = _mm256_and_si256(y, m4);
    w[3] = _mm256_and_si256(_mm256_srli_epi16(y, 4), m4);
}

// Scales of up to 8 consecutive blocks of a weight row: d_w, and c_w, the coefficient of s_a
// (q4_1: m_w; q4_0: -8 d_w; q8_0: -128 d_w). Lanes past n are 0. No vpgatherdd (about 20 cycles on Zen 4): 64-byte
// loads that each hold the headers of 2 or 4 blocks (masked so nothing past block n is touched), then vpermt2d /
// vpermt2w pick the fp16 scales out; the bytes are the ones the dot products read next anyway.
AI void block_scales(const int fmt, const uint8_t *blk, int n, __m256 *dw, __m256 *cw) {
    __m128i h;
    if (fmt == CK_Q4_1) {
        // 20-byte blocks: 4 per load (headers at dwords 0, 5, 10, 15), d | m << 16 in one dword
        static const __mmask16 first[5] = {0, 0x1, 0x3F, 0x7FF, 0xFFFF};  // dwords up to the v-th header
        const int v0 = n < 4 ? n : 4, v1 = n < 4 ? 0 : (n > 8 ? 4 : n - 4);
        const __m512i l0 = _mm512_maskz_loadu_epi32(first[v0], blk);
        const __m512i l1 = _mm512_maskz_loadu_epi32(first[v1], blk + 80);
        const __m512i idx = _mm512_setr_epi32(0, 5, 10, 15, 16, 21, 26, 31, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m256i g = _mm512_castsi512_si256(_mm512_permutex2var_epi32(l0, idx, l1));
        *dw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(g));
        *cw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(g, 16)));
        return;
    }
    if (fmt == CK_Q4_0) {
        // 18-byte blocks: 4 per load, d at words 0, 9, 18, 27
        static const __mmask32 first[5] = {0, 0x1, 0x3FF, 0x7FFFF, 0xFFFFFFF};
        const int v0 = n < 4 ? n : 4, v1 = n < 4 ? 0 : (n > 8 ? 4 : n - 4);
        const __m512i l0 = _mm512_maskz_loadu_epi16(first[v0], blk);
        const __m512i l1 = _mm512_maskz_loadu_epi16(first[v1], blk + 72);
        const __m512i idx = _mm512_setr_epi32(0x00090000, 0x001B0012, 0x00290020, 0x003B0032, 0, 0, 0, 0, 0, 0, 0,
                                              0, 0, 0, 0, 0);  // words 0, 9, 18, 27, 32, 41, 50, 59
        h = _mm512_castsi512_si128(_mm512_permutex2var_epi16(l0, idx, l1));
    } else {
        // CK_Q8_0, 34-byte blocks: 2 per load, d at words 0 and 17
        static const __mmask32 first[3] = {0, 0x1, 0x3FFFF};
        __m512i l[4];
        for (int g = 0; g < 4; g++) {
            const int v = n - 2 * g < 0 ? 0 : (n - 2 * g > 2 ? 2 : n - 2 * g);
            l[g] = _mm512_maskz_loadu_epi16(first[v], blk + 68 * g);
        }
        const __m512i idx = _mm512_setr_epi32(0x00110000, 0x00310020, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              0);  // words 0, 17, 32, 49
        const __m512i lo = _mm512_permutex2var_epi16(l[0], idx, l[1]), hi = _mm512_permutex2var_epi16(l[2], idx, l[3]);
        h = _mm512_castsi512_si128(_mm512_unpacklo_epi64(lo, hi));
    }
    *dw = _mm256_cvtph_ps(h);
    *cw = _mm256_mul_ps(*dw, _mm256_set1_ps(fmt == CK_Q4_0 ? -8.0f : -128.0f));
}

// Blocks b..b+3 (j..j+3 of the scale table) of R weight rows against C tokens, into acc.
AI void quad_step(const int fmt, const int R, const int C, __m256 acc[4][4], const uint8_t *wrow, size_t rb,
                  const int8_t *const qa[4], int64_t b, const float scale[4][4][SPAN], int j, const uint8_t *next) {
    const int bs = ck__block_bytes(fmt);
    if (C == 1) {
        const uint8_t *p = next + b * R * bs;
#pragma clang loop unroll(full)
        for (int k = 0; k < (4 * R * bs + 63) / 64; k++) _mm_prefetch((const char *)p + 64 * k, _MM_HINT_T0);
    }
    __m256i wq[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) load_quad(fmt, wrow + r * rb + b * bs, wq[r]);
#pragma clang loop unroll(full)
    for (int c = 0; c < C; c++) {
        const int8_t *aq = qa[c] + b * CK_QK;
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wq[r][0], _mm256_load_si256((const __m256i *)aq));
            dot = _mm256_dpbusd_epi32(dot, wq[r][1], _mm256_load_si256((const __m256i *)(aq + 32)));
            dot = _mm256_dpbusd_epi32(dot, wq[r][2], _mm256_load_si256((const __m256i *)(aq + 64)));
            dot = _mm256_dpbusd_epi32(dot, wq[r][3], _mm256_load_si256((const __m256i *)(aq + 96)));
            const __m256 sc = _mm256_broadcast_ps((const __m128 *)&scale[r][c][j]);  // s_b..s_b+3, twice
            acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sc, acc[r][c]);
        }
    }
}

// Block b (j-th of the scale table) in plain order: every q8_0 block, and the last nb % 4 of q4 rows.
AI void block_step(const int fmt, const int R, const int C, __m256 acc[4][4], const uint8_t *wrow, size_t rb,
                   const int8_t *const qa[4], int64_t b, const float scale[4][4][SPAN], int j, const uint8_t *next) {
    const int bs = ck__block_bytes(fmt);
    if (C == 1) {
        const uint8_t *p = next + b * R * bs;
#pragma clang loop unroll(full)
        for (int k = 0; k < (R * bs + 63) / 64 + 1; k++) _mm_prefetch((const char *)p + 64 * k, _MM_HINT_T0);
    }
    __m256i wv[4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) wv[r] = load_block(fmt, wrow + r * rb + b * bs);
#pragma clang loop unroll(full)
    for (int c = 0; c < C; c++) {
        const __m256i av = _mm256_load_si256((const __m256i *)(qa[c] + b * CK_QK));
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wv[r], av);
            acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(scale[r][c][j]), acc[r][c]);
        }
    }
}

// out[c * N + r] for r < R, c < C = row r of w (from wrow, rb bytes apart) · activation row t0 + c; QUADS: the
// activations are in quad order (see the header).
AI void tile_q(const int fmt, const int QUADS, const int R, const int C, float *out, int64_t N, const uint8_t *wrow,
               size_t rb, const ck_qact *a, int64_t t0) {
    // Decode streams w from DRAM in short rows (4 rows of K/32 blocks side by side), too short for the hardware
    // prefetcher to lock on: prefetch the bytes two tiles ahead, as many of them per step as the step reads.
    const uint8_t *next = wrow + 2 * R * rb;
    const int bs = ck__block_bytes(fmt);
    const int64_t nb = a->nb;
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    ck__qact_tile(a, t0, C, qa, da, sa);
    __m256 acc[4][4] = {0};  // one accumulator per (row, token)

    // Blocks in spans of up to 64: first the scale table of the whole span (so the dot-product loop never waits
    // for a store it has to read back), then one uninterrupted pass over its blocks.
    for (int64_t s0 = 0; s0 < nb; s0 += SPAN) {
        const int ns = nb - s0 < SPAN ? (int)(nb - s0) : SPAN;
        float scale[4][4][SPAN] __attribute__((aligned(64)));  // d_w * d_a per (row, token, block)
        for (int b0 = 0; b0 < ns; b0 += 8) {
            const int n = ns - b0 < 8 ? ns - b0 : 8;
            const __mmask8 m = (__mmask8)((1u << n) - 1);
            __m256 dw[4], cw[4];
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) block_scales(fmt, wrow + r * rb + (s0 + b0) * bs, n, &dw[r], &cw[r]);
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) {
                const __m256 dac = _mm256_maskz_loadu_ps(m, da[c] + s0 + b0);
                const __m256 sac = _mm256_maskz_loadu_ps(m, sa[c] + s0 + b0);
#pragma clang loop unroll(full)
                for (int r = 0; r < R; r++) {
                    _mm256_store_ps(scale[r][c] + b0, _mm256_mul_ps(dw[r], dac));
                    acc[r][c] = _mm256_fmadd_ps(cw[r], sac, acc[r][c]);
                }
            }
        }
        int j = 0;
        if (QUADS)
            for (; j + 4 <= ns; j += 4) quad_step(fmt, R, C, acc, wrow, rb, qa, s0 + j, scale, j, next);
        for (; j < ns; j++) block_step(fmt, R, C, acc, wrow, rb, qa, s0 + j, scale, j, next);
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) out[c * N + r] = hsum256(acc[r][c]);
}

// All tokens for weight rows n0..n1 with one R: tokens in tiles of 4 (then 3, 2 or 1).
AI void tokens_q(const int fmt, const int QUADS, const int R, float *out, const uint8_t *wrow, size_t rb,
                 const ck_qact *a, int64_t tb, int64_t te, int64_t N) {
    int64_t t = tb;
    for (; t + 4 <= te; t += 4) tile_q(fmt, QUADS, R, 4, out + t * N, N, wrow, rb, a, t);
    switch (te - t) {
    case 3: tile_q(fmt, QUADS, R, 3, out + t * N, N, wrow, rb, a, t); break;
    case 2: tile_q(fmt, QUADS, R, 2, out + t * N, N, wrow, rb, a, t); break;
    case 1: tile_q(fmt, QUADS, R, 1, out + t * N, N, wrow, rb, a, t); break;
    default: break;
    }
}

AI void rows_q_fmt(const int fmt, const int QUADS, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N,
                   int64_t n0, int64_t n1) {
    const size_t rb = (size_t)a->nb * (size_t)ck__block_bytes(fmt);
    for (int64_t tb = 0; tb < T; tb += TOKEN_BLOCK) {
        const int64_t te = T - tb < TOKEN_BLOCK ? T : tb + TOKEN_BLOCK;
        int64_t n = n0;
        for (; n + 4 <= n1; n += 4)
            tokens_q(fmt, QUADS, 4, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
        for (; n < n1; n++) tokens_q(fmt, QUADS, 1, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
    }
}

static CK_TARGET_AVX512 void rows_q(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N,
                                    int64_t n0, int64_t n1) {
    const int quads = use_quads(a);
    switch (fmt) {
    case CK_Q4_0:
        if (quads)
            rows_q_fmt(CK_Q4_0, 1, out, w, a, T, N, n0, n1);
        else
            rows_q_fmt(CK_Q4_0, 0, out, w, a, T, N, n0, n1);
        break;
    case CK_Q4_1:
        if (quads)
            rows_q_fmt(CK_Q4_1, 1, out, w, a, T, N, n0, n1);
        else
            rows_q_fmt(CK_Q4_1, 0, out, w, a, T, N, n0, n1);
        break;
    case CK_Q8_0: rows_q_fmt(CK_Q8_0, 0, out, w, a, T, N, n0, n1); break;
    default: break;
    }
}

// MARK: - Float weights

AI __m512 load_w16(const int fmt, const uint8_t *row, int64_t k, __mmask16 m) {
    if (fmt == CK_F32) return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k));
}

// out[c * N + r] for r < R, c < C: 16 inputs per step (masked tail), weights converted from fp16 with vcvtph2ps.
AI void tile_f(const int fmt, const int R, const int C, float *out, int64_t N, const uint8_t *wrow, size_t rb,
               const float *x, int64_t K) {
    __m512 acc[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 m = (__mmask16)(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1);
        __m512 wv[4];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) wv[r] = load_w16(fmt, wrow + r * rb, k, m);
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + c * K + k);
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) out[c * N + r] = _mm512_reduce_add_ps(acc[r][c]);
}

AI void tokens_f(const int fmt, const int R, float *out, const uint8_t *wrow, size_t rb, const float *x, int64_t T,
                 int64_t K, int64_t N) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) tile_f(fmt, R, 4, out + t * N, N, wrow, rb, x + t * K, K);
    switch (T - t) {
    case 3: tile_f(fmt, R, 3, out + t * N, N, wrow, rb, x + t * K, K); break;
    case 2: tile_f(fmt, R, 2, out + t * N, N, wrow, rb, x + t * K, K); break;
    case 1: tile_f(fmt, R, 1, out + t * N, N, wrow, rb, x + t * K, K); break;
    default: break;
    }
}

AI void rows_f_fmt(const int fmt, float *out, const void *w, const float *x, int64_t T, int64_t K, int64_t N,
                   int64_t n0, int64_t n1) {
    const size_t rb = ck_row_bytes(fmt, K);
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) tokens_f(fmt, 4, out + n, (const uint8_t *)w + n * rb, rb, x, T, K, N);
    for (; n < n1; n++) tokens_f(fmt, 1, out + n, (const uint8_t *)w + n * rb, rb, x, T, K, N);
}

static CK_TARGET_AVX512 void rows_f(int fmt, float *out, const void *w, const float *x, int64_t T, int64_t K,
                                    int64_t N, int64_t n0, int64_t n1) {
    if (fmt == CK_F32)
        rows_f_fmt(CK_F32, out, w, x, T, K, N, n0, n1);
    else
        rows_f_fmt(CK_F16, out, w, x, T, K, N, n0, n1);
}

static int has(int fmt) {
    return fmt == CK_F32 || fmt == CK_F16 || fmt == CK_Q4_0 || fmt == CK_Q4_1 || fmt == CK_Q8_0;
}

const ck_matmul_impl ck__matmul_avx512 = {has, quantize, rows_q, rows_f};

#endif
