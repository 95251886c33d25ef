// cpu/matmul_avx2.c: the AVX2 + FMA + F16C kernels of ck_matmul, for every format (K-quants: see "K-quants"). Same tiling as matmul_avx512.c (R weight rows x C
// tokens, one ymm accumulator each, combined scales from a 16-block table); the integer dot product is
// vpmaddubsw + vpmaddwd instead of vpdpbusd:
//   q4:   maddubs(nibbles, q): pairs of 15 * 127 never saturate int16
//   q8_0: maddubs(|w|, sign(q, w)) as ggml does (255 * 127 pairs would saturate), so q8_0 needs no offset term.
#include "../ck_internal.h"

#if CK_X86
#include <immintrin.h>

#define AI CK_HELPER CK_TARGET_AVX2

#define TOKEN_BLOCK 128  // as in matmul_avx512.c
#define CK_PF_TILES 2    // decode prefetch distance in tiles (see tile_q)
#define CK_PF_TOKENS 16  // token blocks up to this many rows (decode batches) prefetch their weights (see tokens_q)

AI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AI int hsum256_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}
AI float hmax256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// MARK: - Activation quantization

static CK_TARGET_AVX2 void quantize(const ck_qact *a, const float *x, int64_t t0, int64_t t1) {
    // x (T, K) rows t0..t1 -> a; q = round-to-nearest-even(x / d), d = absmax / 127 (ggml's AVX2 quantize_row_q8_1)
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->K;
        int8_t *qs = ck__qact_qs(a, t);
        float *d = ck__qact_d(a, t), *s = ck__qact_s(a, t);
        for (int64_t b = 0; b < a->nb; b++) {
            const float *xb = xr + b * CK_QK;
            __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
            __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
            __m256 amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v0), _mm256_andnot_ps(sign_bit, v1));
            amax = _mm256_max_ps(amax, _mm256_max_ps(_mm256_andnot_ps(sign_bit, v2), _mm256_andnot_ps(sign_bit, v3)));
            const float am = hmax256(amax);  // blocks below 1e-30 count as zero: 1 / d would overflow
            const float db = am >= 1e-30f ? am / 127.0f : 0.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
            const __m256 mul = _mm256_set1_ps(id);
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, mul)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, mul));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, mul)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, mul));
            const int sum = hsum256_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
            i0 = _mm256_packs_epi32(i0, i1);  // packs work per 128-bit lane: the permute restores element order
            i2 = _mm256_packs_epi32(i2, i3);
            i0 = _mm256_packs_epi16(i0, i2);
            i0 = _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_store_si256((__m256i *)(qs + b * CK_QK), i0);
            d[b] = db;
            s[b] = db * (float)sum;
        }
    }
}

// MARK: - Quantized weights

// 0x10 in byte j where bit j of the 32 bits at p is set (the fifth bits of a q5 block).
AI __m256i fifth_bits(const uint8_t *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(  // byte j <- byte j / 8 of bits
        _mm256_set1_epi32((int)bits),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);  // byte j tests bit j % 8
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// q4: unsigned nibbles in element order; q5: the same plus the fifth bits (0..31); q8_0: the signed bytes.
AI __m256i load_block(const int fmt, const uint8_t *blk) {
    if (fmt == CK_Q8_0) return _mm256_loadu_si256((const __m256i *)(blk + 2));
    const int off = fmt == CK_Q4_0 ? 2 : fmt == CK_Q4_1 ? 4 : fmt == CK_Q5_0 ? 6 : 8;
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + off)));
    v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    v = _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
    if (fmt == CK_Q5_0 || fmt == CK_Q5_1) v = _mm256_or_si256(v, fifth_bits(blk + off - 4));
    return v;
}

// 8 fp16 values in the low (hi16 = 0) or high (hi16 = 1) halves of the int32 lanes of g, as floats.
AI __m256 cvt_half_lanes(__m256i g, const int hi16) {
    const __m256i shuf = hi16 ? _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6,
                                                  7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1)
                              : _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5,
                                                  8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, shuf), 0x08);  // qwords 0 and 2 to the front
    return _mm256_cvtph_ps(_mm256_castsi256_si128(p));
}

// Scales of up to 16 consecutive blocks: dw[h] and cw[h] hold blocks 8h..8h+7 (lanes past n are 0);
// cw is the coefficient of s_a (q4_1, q5_1: m_w; q4_0: -8 d_w; q5_0: -16 d_w; q8_0: 0).
AI void block_scales(const int fmt, const uint8_t *blk, int n, __m256 dw[2], __m256 cw[2]) {
    const int bs = ck__block_bytes(fmt);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i offsets = _mm256_mullo_epi32(iota, _mm256_set1_epi32(bs));
    for (int h = 0; h < 2; h++) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * h), iota);
        const __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(blk + 8 * h * bs),
                                                      offsets, mask, 1);
        dw[h] = cvt_half_lanes(g, 0);
        if (fmt == CK_Q4_1 || fmt == CK_Q5_1)
            cw[h] = cvt_half_lanes(g, 1);
        else if (fmt == CK_Q4_0 || fmt == CK_Q5_0)
            cw[h] = _mm256_mul_ps(dw[h], _mm256_set1_ps(fmt == CK_Q4_0 ? -8.0f : -16.0f));
        else
            cw[h] = _mm256_setzero_ps();
    }
}

AI void tile_q(const int fmt, const int R, const int C, const int pf, float *out, int64_t N, const uint8_t *wrow,
               size_t rb, const ck_qact *a, int64_t t0) {
    // Decode streams w from DRAM in short rows (R rows of K/32 blocks side by side), too short for the hardware
    // prefetcher to lock on (and each first touch stalls the scale gathers): prefetch the bytes CK_PF_TILES tiles
    // ahead (pf: the first token tile of a decode batch, see tokens_q), as many per step as the step reads.
    // Measured here (EPYC, KVM, 4 KB pages): one-token q4_1 products 1.5-4x faster on average, the q8_0 output
    // layer 2.5x; decode batches of 2-8 rows 1.3-2.5x.
    const uint8_t *next = wrow + CK_PF_TILES * R * rb;
    const int bs = ck__block_bytes(fmt);
    const int64_t nb = a->nb;
    const __m256i ones = _mm256_set1_epi16(1), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    ck__qact_tile(a, t0, C, qa, da, sa);
    __m256 acc[4][4] = {0};  // one accumulator per (row, token)

    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const int n = nb - b0 < 16 ? (int)(nb - b0) : 16;
        float scale[4][4][16] __attribute__((aligned(32)));  // d_w * d_a per (row, token, block)
        __m256 dw[4][2], cw[4][2];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) block_scales(fmt, wrow + r * rb + b0 * bs, n, dw[r], cw[r]);
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
#pragma clang loop unroll(full)
            for (int h = 0; h < 2; h++) {
                const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * h), iota);
                const __m256 dac = _mm256_maskload_ps(da[c] + b0 + 8 * h, mask);
                const __m256 sac = _mm256_maskload_ps(sa[c] + b0 + 8 * h, mask);
#pragma clang loop unroll(full)
                for (int r = 0; r < R; r++) {
                    _mm256_store_ps(scale[r][c] + 8 * h, _mm256_mul_ps(dw[r][h], dac));
                    if (fmt != CK_Q8_0) acc[r][c] = _mm256_fmadd_ps(cw[r][h], sac, acc[r][c]);
                }
            }
        }
        for (int j = 0; j < n; j++) {
            if (pf) {
                const uint8_t *p = next + (b0 + j) * R * bs;
#pragma clang loop unroll(full)
                for (int k = 0; k < (R * bs + 63) / 64 + 1; k++) _mm_prefetch((const char *)p + 64 * k, _MM_HINT_T0);
            }
            __m256i wv[4], wabs[4];
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {
                wv[r] = load_block(fmt, wrow + r * rb + (b0 + j) * bs);
                if (fmt == CK_Q8_0) wabs[r] = _mm256_sign_epi8(wv[r], wv[r]);
            }
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) {
                const __m256i av = _mm256_load_si256((const __m256i *)(qa[c] + (b0 + j) * CK_QK));
#pragma clang loop unroll(full)
                for (int r = 0; r < R; r++) {
                    const __m256i p16 = fmt == CK_Q8_0 ? _mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(av, wv[r]))
                                                       : _mm256_maddubs_epi16(wv[r], av);
                    const __m256i dot = _mm256_madd_epi16(p16, ones);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(scale[r][c][j]), acc[r][c]);
                }
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) out[c * N + r] = hsum256(acc[r][c]);
}

// MARK: - K-quants
//
// A super-block of 256 weights meets 8 activation blocks of 32 ("chunks" j = 0..7). Each chunk's weights are
// unpacked to 32 unsigned bytes q (q4_K: 0..15, q5_K: 0..31, q6_K: 0..63, q3_K: 0..7, q2_K: 0..3) and
//   p16 = maddubs(q, a) - maddubs(O, a)         pair sums, minus the format's offset O (q6_K 32, q3_K 4; else 0)
//   i32 = madd(p16, scales16)                    the integer sub-block scales (per 16 elements: 8 int16 lanes each)
//   acc += cvt(i32) * d_w * d_a[chunk]
// q4_K / q5_K subtract their per-32 mins as dmin * m * s_a (one FMA per 8 chunks); q2_K's per-16 mins take a second
// madd of the activations' pair sums. No int16 sum overflows: |q a| pairs <= 63 * 127 * 2.

typedef struct {
    __m256i sc;     // the 16 sub-block scales as int16 (q4_K / q5_K: each per-32 scale twice)
    __m256i mn;     // q2_K: the 16 mins as int16
    float d, dmin;
    __m256 dm;      // q4_K / q5_K: dmin * m per chunk (lanes)
} ksuper;

// madd operand for chunk j: int16 lanes 0-7 (elements 0-15) = scale 2j, lanes 8-15 = scale 2j + 1.
AI __m256i chunk_scales(__m256i sc16, int j) {
    const __m256i pair = _mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(j));  // dword j everywhere
    return _mm256_shuffle_epi8(pair, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2,
                                                      3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
}

AI void k_decode(const int fmt, const uint8_t *blk, ksuper *k) {
    switch (fmt) {
    case CK_Q4_K:
    case CK_Q5_K: {
        const ck_block_q4_K *b = (const ck_block_q4_K *)blk;  // d, dmin, scales at the same offsets in q5_K
        const uint8_t *s = b->scales;
        k->d = _cvtsh_ss(b->d);
        k->dmin = _cvtsh_ss(b->dmin);
        int16_t sc[16];
        float m[8];
        for (int j = 0; j < 8; j++) {
            int scale, mn;
            if (j < 4) {
                scale = s[j] & 0x3F;
                mn = s[j + 4] & 0x3F;
            } else {
                scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
                mn = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
            }
            sc[2 * j] = sc[2 * j + 1] = (int16_t)scale;
            m[j] = (float)mn;
        }
        k->sc = _mm256_loadu_si256((const __m256i *)sc);
        k->dm = _mm256_mul_ps(_mm256_loadu_ps(m), _mm256_set1_ps(k->dmin));
        break;
    }
    case CK_Q6_K: {
        const ck_block_q6_K *b = (const ck_block_q6_K *)blk;
        k->d = _cvtsh_ss(b->d);
        k->sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        break;
    }
    case CK_Q3_K: {
        // low 4 bits: bytes 0-7 (nibble i / 8); high 2 bits: byte 8 + i % 4, bits 2 (i / 4)
        const ck_block_q3_K *b = (const ck_block_q3_K *)blk;
        const uint8_t *s = b->scales;
        k->d = _cvtsh_ss(b->d);
        uint64_t lo8;
        uint32_t hi4;
        memcpy(&lo8, s, 8);
        memcpy(&hi4, s + 8, 4);
        const __m128i l = _mm_cvtsi64_si128((long long)lo8);
        const __m128i lo = _mm_and_si128(_mm_unpacklo_epi64(l, _mm_srli_epi16(l, 4)), _mm_set1_epi8(0x0F));
        const __m128i h = _mm_set1_epi32((int)hi4);  // byte 8 + i % 4 at every position i % 4
        const __m128i hi = _mm_and_si128(
            _mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(0x03));  // dword i / 4 shifted by 2 (i / 4)
        const __m128i v = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
        k->sc = _mm256_cvtepi8_epi16(v);
        break;
    }
    default: {  // CK_Q2_K
        const ck_block_q2_K *b = (const ck_block_q2_K *)blk;
        k->d = _cvtsh_ss(b->d);
        k->dmin = _cvtsh_ss(b->dmin);
        const __m128i v = _mm_loadu_si128((const __m128i *)b->scales);
        k->sc = _mm256_cvtepu8_epi16(_mm_and_si128(v, _mm_set1_epi8(0x0F)));
        k->mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F)));
        break;
    }
    }
}

// Chunk j (elements 32 j .. 32 j + 31) of a super-block as unsigned bytes (see ref/dequantize.c for the bits).
AI __m256i k_chunk(const int fmt, const uint8_t *blk, int j) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    switch (fmt) {
    case CK_Q4_K:
    case CK_Q5_K: {
        const uint8_t *qs = fmt == CK_Q4_K ? ((const ck_block_q4_K *)blk)->qs : ((const ck_block_q5_K *)blk)->qs;
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * (j / 2)));
        v = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4);
        if (fmt == CK_Q5_K) {
            const __m256i h = _mm256_loadu_si256((const __m256i *)((const ck_block_q5_K *)blk)->qh);
            const __m256i bit = _mm256_set1_epi8((char)(1 << j));
            v = _mm256_or_si256(v, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit),
                                                    _mm256_set1_epi8(0x10)));
        }
        return v;
    }
    case CK_Q6_K: {
        const ck_block_q6_K *b = (const ck_block_q6_K *)blk;
        const int g = j / 4, s = j % 4;
        __m256i lo = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * g + 32 * (s % 2)));
        lo = _mm256_and_si256(s / 2 ? _mm256_srli_epi16(lo, 4) : lo, m4);
        __m256i hi = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * g));
        hi = _mm256_and_si256(_mm256_srl_epi16(hi, _mm_cvtsi32_si128(2 * s)), m2);
        return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
    }
    case CK_Q3_K: {
        const ck_block_q3_K *b = (const ck_block_q3_K *)blk;
        const int g = j / 4, s = j % 4;
        __m256i lo = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * g));
        lo = _mm256_and_si256(_mm256_srl_epi16(lo, _mm_cvtsi32_si128(2 * s)), m2);
        const __m256i h = _mm256_loadu_si256((const __m256i *)b->hmask);
        const __m256i bit = _mm256_set1_epi8((char)(1 << j));
        // q - 4 + 4 * hbit, stored as lo + 4 * hbit (0..7) with the offset 4 taken off after the product
        return _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit),
                                                    _mm256_set1_epi8(0x04)));
    }
    default: {  // CK_Q2_K
        const ck_block_q2_K *b = (const ck_block_q2_K *)blk;
        const int g = j / 4, s = j % 4;
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * g));
        return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * s)), m2);
    }
    }
}

AI void tile_k(const int fmt, const int R, const int C, const int pf, float *out, int64_t N, const uint8_t *wrow,
               size_t rb, const ck_qact *a, int64_t t0) {
    const uint8_t *next = wrow + CK_PF_TILES * R * rb;  // see tile_q
    const int bs = ck__block_bytes(fmt);
    const int64_t nsb = a->nb / 8;  // super-blocks per row
    const int offset = fmt == CK_Q6_K ? 32 : fmt == CK_Q3_K ? 4 : 0;
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    ck__qact_tile(a, t0, C, qa, da, sa);
    __m256 acc[4][4] = {0};  // one accumulator per (row, token)

    for (int64_t sb = 0; sb < nsb; sb++) {
        if (pf) {
            const uint8_t *p = next + sb * R * bs;
            for (int k = 0; k < (R * bs + 63) / 64 + 1; k++) _mm_prefetch((const char *)p + 64 * k, _MM_HINT_T0);
        }
        ksuper k[4];
        float scale[4][4][8] __attribute__((aligned(32)));  // d_w * d_a per (row, token, chunk)
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) k_decode(fmt, wrow + r * rb + sb * bs, &k[r]);
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            const __m256 dac = _mm256_loadu_ps(da[c] + 8 * sb);
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {
                _mm256_store_ps(scale[r][c], _mm256_mul_ps(_mm256_set1_ps(k[r].d), dac));
                if (fmt == CK_Q4_K || fmt == CK_Q5_K)
                    acc[r][c] = _mm256_fnmadd_ps(k[r].dm, _mm256_loadu_ps(sa[c] + 8 * sb), acc[r][c]);
            }
        }
#pragma clang loop unroll(full)
        for (int j = 0; j < 8; j++) {  // unrolled: the shifts and bit masks of each chunk become constants
            __m256i wq[4];
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) wq[r] = k_chunk(fmt, wrow + r * rb + sb * bs, j);
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) {
                const __m256i av = _mm256_load_si256((const __m256i *)(qa[c] + (8 * sb + j) * CK_QK));
                __m256i aoff = _mm256_setzero_si256(), asum = _mm256_setzero_si256();
                if (offset) aoff = _mm256_maddubs_epi16(_mm256_set1_epi8((char)offset), av);
                if (fmt == CK_Q2_K) asum = _mm256_maddubs_epi16(_mm256_set1_epi8(1), av);
                const float dac = da[c][8 * sb + j];
#pragma clang loop unroll(full)
                for (int r = 0; r < R; r++) {
                    __m256i p16 = _mm256_maddubs_epi16(wq[r], av);
                    if (offset) p16 = _mm256_sub_epi16(p16, aoff);
                    const __m256i i32 = _mm256_madd_epi16(p16, chunk_scales(k[r].sc, j));
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(scale[r][c][j]), acc[r][c]);
                    if (fmt == CK_Q2_K)
                        acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(asum, chunk_scales(k[r].mn, j))),
                                                     _mm256_set1_ps(k[r].dmin * dac), acc[r][c]);
                }
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) out[c * N + r] = hsum256(acc[r][c]);
}

// A tile of either family: the format is a constant after inlining, so this costs no branch.
AI void tile(const int fmt, const int R, const int C, const int pf, float *out, int64_t N, const uint8_t *wrow,
             size_t rb, const ck_qact *a, int64_t t0) {
    if (ck__is_k_quant(fmt)) tile_k(fmt, R, C, pf, out, N, wrow, rb, a, t0);
    else tile_q(fmt, R, C, pf, out, N, wrow, rb, a, t0);
}

AI void tokens_q(const int fmt, const int R, float *out, const uint8_t *wrow, size_t rb, const ck_qact *a,
                 int64_t tb, int64_t te, int64_t N) {
    if (te - tb == 1) {  // one sequence's decode
        tile(fmt, R, 1, 1, out + tb * N, N, wrow, rb, a, tb);
        return;
    }
    // A decode batch (one row per sequence, up to CK_PF_TOKENS rows) streams w from DRAM as one token does: its
    // first token tile prefetches the weight tiles ahead (see tile_q), the others find this tile in cache. Prompt
    // blocks compute long enough per tile to go without. (Five call sites: each inlines a whole tile.)
    const int pf = te - tb <= CK_PF_TOKENS;
    int64_t t = tb;
    for (; t + 4 <= te; t += 4) tile(fmt, R, 4, pf && t == tb, out + t * N, N, wrow, rb, a, t);
    switch (te - t) {
    case 3: tile(fmt, R, 3, pf && t == tb, out + t * N, N, wrow, rb, a, t); break;
    case 2: tile(fmt, R, 2, pf && t == tb, out + t * N, N, wrow, rb, a, t); break;
    case 1: tile(fmt, R, 1, 0, out + t * N, N, wrow, rb, a, t); break;
    default: break;
    }
}

AI void rows_q_fmt(const int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                   int64_t n1) {
    const int64_t blocks = ck__is_k_quant(fmt) ? a->nb / 8 : a->nb;  // weight blocks per row
    const size_t rb = (size_t)blocks * (size_t)ck__block_bytes(fmt);
    for (int64_t tb = 0; tb < T; tb += TOKEN_BLOCK) {
        const int64_t te = T - tb < TOKEN_BLOCK ? T : tb + TOKEN_BLOCK;
        int64_t n = n0;
        for (; n + 4 <= n1; n += 4) tokens_q(fmt, 4, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
        for (; n < n1; n++) tokens_q(fmt, 1, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
    }
}

// MARK: - Panels (prefill and decode batches)
//
// With many tokens (prefill) the tiles above spend most of their time outside the integer dot product: a 4 x 4 tile
// needs 16 accumulators in AVX2's 16 registers (spills), and every (row, token, block) pays a vpmaddwd, a convert and
// an FMA with a broadcast scale. Here 8 weight rows are unpacked per chunk of blocks into a panel that puts the 8
// rows in the 8 dword lanes (bytes 4g..4g+3 of each row's block side by side: an 8 x 8 dword transpose), with the
// rows' scales as vectors. Each group of 4 activation bytes is broadcast and meets all 8 rows in one vpmaddubsw;
// the int16 sums of up to 8 groups add up before one vpmaddwd, and one FMA per (block, token) scales 8 rows at once.
// The panel is rebuilt per token block from the original weights (no copy of the weights is kept: ~10 KB per thread).
// Kinds: unsigned values (q4: 0..15, q5: 0..31) with the s_a coefficient cw; signed values (q8_0, q6_K: v - 32) as
// vpmaddubsw(|w|, sign(a, w)) with |w| taken once per panel, q6_K with two scales per block (its sub-blocks of 16).
//   int16 bounds: q4 8 groups * 2 * 15 * 127 = 30480; q5 4 * 2 * 31 * 127 = 31496; q6_K 4 * 2 * 32 * 127 = 32512;
//   q8_0 2 * 128 * 127 = 32512 (one group per vpmaddwd).
//
// A decode batch (one row per running sequence, 4 to CK_PF_TOKENS rows) computes too long per weight byte for the
// 4 x 4 tiles (their 16 accumulators spill, and every (row, token, block) pays a vpmaddwd, a convert and an FMA: a
// SmolLM2 step of 8 rows took 5.7x one row's) and takes the same panels: the unpacking costs one gather of the 8
// rows' block scales per block (q4 / q5 / q8_0) or one decoding of each row's super-block scales per 8 blocks
// (K-quants), and prefetches the weights CK_PF_TILES groups of 8 rows ahead as the decode tiles do.

#define PANEL_KB 16  // blocks of 32 per panel chunk (a multiple of 8: whole K-quant super-blocks)

typedef struct {
    __m256i q[PANEL_KB][8];   // block j, group g: lane r = row r's bytes 4g..4g+3 (signed kinds: their magnitudes)
    __m256i s[PANEL_KB][8];   // signed kinds: the same bytes with their signs (the vpsignb operand)
    __m256 dw[PANEL_KB][2];   // per row: the scale (q6_K: of elements 0-15 and 16-31)
    __m256 cw[PANEL_KB];      // per row: the coefficient of s_a (unsigned kinds)
} ck_panel;

AI int panel_signed(const int fmt) { return fmt == CK_Q8_0 || fmt == CK_Q6_K; }
// Groups of 4 bytes whose vpmaddubsw sums add up as int16 before one vpmaddwd (see the bounds above).
AI int panel_groups(const int fmt) {
    return fmt == CK_Q8_0 ? 1 : fmt == CK_Q4_0 || fmt == CK_Q4_1 || fmt == CK_Q4_K ? 8 : 4;
}
AI int panel_has(const int fmt) {
    return fmt == CK_Q4_0 || fmt == CK_Q4_1 || fmt == CK_Q5_0 || fmt == CK_Q5_1 || fmt == CK_Q8_0 ||
           fmt == CK_Q4_K || fmt == CK_Q5_K || fmt == CK_Q6_K;
}

// 8 x 8 dword transpose: v[r] dword g -> q[g] dword r.
AI void transpose8(const __m256i v[8], __m256i q[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int g = 0; g < 4; g++) {
        q[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
        q[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
    }
}

// The same for floats: v[r] lane c -> q[c] lane r.
AI void transpose8_ps(const __m256 v[8], __m256 q[8]) {
    __m256i vi[8], qi[8];
    for (int r = 0; r < 8; r++) vi[r] = _mm256_castps_si256(v[r]);
    transpose8(vi, qi);
    for (int c = 0; c < 8; c++) q[c] = _mm256_castsi256_ps(qi[c]);
}

// The transposed bytes v of block j -> the panel (signed kinds: magnitudes and signs).
AI void panel_put(const int fmt, ck_panel *p, int j, const __m256i v[8]) {
    if (!panel_signed(fmt)) {
        transpose8(v, p->q[j]);
        return;
    }
    transpose8(v, p->s[j]);
#pragma clang loop unroll(full)
    for (int g = 0; g < 8; g++) p->q[j][g] = _mm256_sign_epi8(p->s[j][g], p->s[j][g]);
}

// Prefetch the chunk of `bytes` bytes at `at` of the 8 rows CK_PF_TILES groups ahead (rows rb bytes apart): as the
// decode tiles do (see tile_q), for the decode batches that stream their weights from DRAM.
AI void panel_prefetch(const uint8_t *at, size_t rb, int64_t bytes) {
    const uint8_t *next = at + (size_t)CK_PF_TILES * 8 * rb;
    for (int r = 0; r < 8; r++)
        for (int64_t k = 0; k < (bytes + 63) / 64 + 1; k++)
            _mm_prefetch((const char *)next + r * rb + 64 * k, _MM_HINT_T0);
}

// Blocks of 32 (q4 / q5 / q8_0): rows[r] of wrow (r < nr, rb bytes apart; the other lanes get zero weights) -> p for
// blocks kb0 .. kb0 + nbk - 1, with ONE gather of the 8 rows' scales per block.
AI void q_unpack(const int fmt, ck_panel *p, const uint8_t *wrow, size_t rb, int nr, int64_t kb0, int nbk) {
    const int bs = ck__block_bytes(fmt);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i offsets = _mm256_mullo_epi32(iota, _mm256_set1_epi32((int)rb));
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), iota);
    panel_prefetch(wrow + kb0 * bs, rb, (int64_t)nbk * bs);
    for (int j = 0; j < nbk; j++) {
        const uint8_t *blk = wrow + (kb0 + j) * bs;
        const __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)blk, offsets, lanes, 1);
        const __m256 dw = cvt_half_lanes(g, 0);  // d in every format's first two bytes, m (q4_1, q5_1) next
        p->dw[j][0] = dw;
        p->cw[j] = fmt == CK_Q4_1 || fmt == CK_Q5_1 ? cvt_half_lanes(g, 1)
                   : fmt == CK_Q8_0                 ? _mm256_setzero_ps()
                                                    : _mm256_mul_ps(dw, _mm256_set1_ps(fmt == CK_Q4_0 ? -8.0f : -16.0f));
        __m256i v[8];
#pragma clang loop unroll(full)
        for (int r = 0; r < 8; r++) v[r] = r < nr ? load_block(fmt, blk + r * rb) : _mm256_setzero_si256();
        panel_put(fmt, p, j, v);
    }
}

// K-quants (q4_K, q5_K, q6_K): the same for whole super-blocks (kb0 and nbk multiples of 8), each row's scales
// decoded once per super-block and turned into lanes by 8 x 8 transposes.
AI void k_unpack(const int fmt, ck_panel *p, const uint8_t *wrow, size_t rb, int nr, int64_t kb0, int nbk) {
    const int bs = ck__block_bytes(fmt);
    panel_prefetch(wrow + kb0 / 8 * bs, rb, (int64_t)nbk / 8 * bs);
    for (int j0 = 0; j0 < nbk; j0 += 8) {
        const uint8_t *blk = wrow + (kb0 + j0) / 8 * bs;
        __m256i v[8][8];           // chunk c, row r
        __m256 s0[8], s1[8], m[8];  // row r, chunk c: the scale (q6_K: of elements 0-15), q6_K 16-31, -dmin * min
#pragma clang loop unroll(full)
        for (int r = 0; r < 8; r++) {
            if (r >= nr) {
                for (int c = 0; c < 8; c++) v[c][r] = _mm256_setzero_si256();
                s0[r] = s1[r] = m[r] = _mm256_setzero_ps();
                continue;
            }
            const uint8_t *b = blk + (size_t)r * rb;
            ksuper k;
            k_decode(fmt, b, &k);
#pragma clang loop unroll(full)
            for (int c = 0; c < 8; c++) {
                v[c][r] = k_chunk(fmt, b, c);
                if (fmt == CK_Q6_K) v[c][r] = _mm256_sub_epi8(v[c][r], _mm256_set1_epi8(32));
            }
            // k.sc's dword c holds the int16 scales 2c (low half) and 2c + 1 (q4_K / q5_K: scale c twice)
            const __m256 d = _mm256_set1_ps(k.d);
            s0[r] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(k.sc, 16), 16)));
            if (fmt == CK_Q6_K) {
                s1[r] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srai_epi32(k.sc, 16)));
                m[r] = _mm256_setzero_ps();
            } else {
                s1[r] = _mm256_setzero_ps();
                m[r] = _mm256_sub_ps(_mm256_setzero_ps(), k.dm);
            }
        }
        __m256 t0[8], t1[8], tm[8];
        transpose8_ps(s0, t0);
        transpose8_ps(s1, t1);
        transpose8_ps(m, tm);
#pragma clang loop unroll(full)
        for (int c = 0; c < 8; c++) {
            panel_put(fmt, p, j0 + c, v[c]);
            p->dw[j0 + c][0] = t0[c];
            p->dw[j0 + c][1] = t1[c];
            p->cw[j0 + c] = tm[c];
        }
    }
}

// out rows t0 .. t0 + C - 1, columns n .. n + nr - 1 (+)= the panel's blocks against activation blocks kb0 ...
AI void panel_tile(const int fmt, const int C, float *out, int64_t N, int nr, const ck_panel *p, int nbk,
                   const ck_qact *a, int64_t t0, int64_t kb0, int first) {
    const int G = panel_groups(fmt), sgn = panel_signed(fmt);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    ck__qact_tile(a, t0, C, qa, da, sa);
    __m256 acc[4];
#pragma clang loop unroll(full)
    for (int c = 0; c < C; c++) acc[c] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(out + c * N, lanes);
    for (int j = 0; j < nbk; j++) {
        const int64_t b = kb0 + j;
        __m256i h[4], i32[4];
#pragma clang loop unroll(full)
        for (int g = 0; g < 8; g++) {
            const __m256i w = _mm256_load_si256(&p->q[j][g]);  // signed kinds: |w|
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) {
                int32_t quad;
                memcpy(&quad, qa[c] + b * CK_QK + 4 * g, 4);
                __m256i av = _mm256_set1_epi32(quad);
                if (sgn) av = _mm256_sign_epi8(av, _mm256_load_si256(&p->s[j][g]));
                const __m256i m = _mm256_maddubs_epi16(w, av);
                h[c] = g % G == 0 ? m : _mm256_add_epi16(h[c], m);
                if (g % G == G - 1) {
                    const __m256i s = _mm256_madd_epi16(h[c], ones);
                    if (fmt == CK_Q6_K && g == 3) {  // the first sub-block of 16 is complete
                        const __m256 dd = _mm256_mul_ps(p->dw[j][0], _mm256_broadcast_ss(da[c] + b));
                        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), dd, acc[c]);
                    } else {
                        i32[c] = g == G - 1 || fmt == CK_Q6_K ? s : _mm256_add_epi32(i32[c], s);
                    }
                }
            }
        }
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            const __m256 dd = _mm256_mul_ps(p->dw[j][fmt == CK_Q6_K], _mm256_broadcast_ss(da[c] + b));
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[c]), dd, acc[c]);
            if (!sgn) acc[c] = _mm256_fmadd_ps(p->cw[j], _mm256_broadcast_ss(sa[c] + b), acc[c]);
        }
    }
#pragma clang loop unroll(full)
    for (int c = 0; c < C; c++) _mm256_maskstore_ps(out + c * N, lanes, acc[c]);
}

// Tokens tb .. te - 1 against one panel (see panel_tile).
AI void panel_tokens(const int fmt, float *out, int64_t N, int nr, const ck_panel *p, int nbk, const ck_qact *a,
                     int64_t tb, int64_t te, int64_t kb0, int first) {
    int64_t t = tb;
    for (; t + 4 <= te; t += 4) panel_tile(fmt, 4, out + t * N, N, nr, p, nbk, a, t, kb0, first);
    switch (te - t) {
    case 3: panel_tile(fmt, 3, out + t * N, N, nr, p, nbk, a, t, kb0, first); break;
    case 2: panel_tile(fmt, 2, out + t * N, N, nr, p, nbk, a, t, kb0, first); break;
    case 1: panel_tile(fmt, 1, out + t * N, N, nr, p, nbk, a, t, kb0, first); break;
    default: break;
    }
}

AI void rows_panel_fmt(const int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                       int64_t n1) {
    const int64_t blocks = ck__is_k_quant(fmt) ? a->nb / 8 : a->nb;  // weight blocks per row
    const size_t rb = (size_t)blocks * (size_t)ck__block_bytes(fmt);
    ck_panel p;
    for (int64_t tb = 0; tb < T; tb += TOKEN_BLOCK) {
        const int64_t te = T - tb < TOKEN_BLOCK ? T : tb + TOKEN_BLOCK;
        for (int64_t n = n0; n < n1; n += 8) {
            const int nr = n1 - n < 8 ? (int)(n1 - n) : 8;
            for (int64_t kb0 = 0; kb0 < a->nb; kb0 += PANEL_KB) {
                const int nbk = a->nb - kb0 < PANEL_KB ? (int)(a->nb - kb0) : PANEL_KB;
                if (ck__is_k_quant(fmt))
                    k_unpack(fmt, &p, (const uint8_t *)w + n * rb, rb, nr, kb0, nbk);
                else
                    q_unpack(fmt, &p, (const uint8_t *)w + n * rb, rb, nr, kb0, nbk);
                panel_tokens(fmt, out + n, N, nr, &p, nbk, a, tb, te, kb0, kb0 == 0);
            }
        }
    }
}

// Tokens from which the panels pay for their unpacking (below, the tiles above stream the blocks as they are):
// decode batches of 4 rows and more, and every prompt.
#ifndef PANEL_MIN_T
#define PANEL_MIN_T 4
#endif

// The panels from PANEL_MIN_T tokens where the format has them, else the tiles (constant-folded per format). The
// scale gathers' offsets are int32: rows of 256 MB and more take the tiles.
AI void rows_fmt(const int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                 int64_t n1) {
    if (T >= PANEL_MIN_T && panel_has(fmt) && (int64_t)a->nb * ck__block_bytes(fmt) < (1 << 28))
        rows_panel_fmt(fmt, out, w, a, T, N, n0, n1);
    else
        rows_q_fmt(fmt, out, w, a, T, N, n0, n1);
}

static CK_TARGET_AVX2 void rows_q(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N,
                                  int64_t n0, int64_t n1) {
    switch (fmt) {
    case CK_Q4_0: rows_fmt(CK_Q4_0, out, w, a, T, N, n0, n1); break;
    case CK_Q4_1: rows_fmt(CK_Q4_1, out, w, a, T, N, n0, n1); break;
    case CK_Q5_0: rows_fmt(CK_Q5_0, out, w, a, T, N, n0, n1); break;
    case CK_Q5_1: rows_fmt(CK_Q5_1, out, w, a, T, N, n0, n1); break;
    case CK_Q8_0: rows_fmt(CK_Q8_0, out, w, a, T, N, n0, n1); break;
    case CK_Q2_K: rows_fmt(CK_Q2_K, out, w, a, T, N, n0, n1); break;
    case CK_Q3_K: rows_fmt(CK_Q3_K, out, w, a, T, N, n0, n1); break;
    case CK_Q4_K: rows_fmt(CK_Q4_K, out, w, a, T, N, n0, n1); break;
    case CK_Q5_K: rows_fmt(CK_Q5_K, out, w, a, T, N, n0, n1); break;
    case CK_Q6_K: rows_fmt(CK_Q6_K, out, w, a, T, N, n0, n1); break;
    default: break;
    }
}

// MARK: - Float weights

AI __m256 load_w8(const int fmt, const uint8_t *row, int64_t k) {
    if (fmt == CK_F32) return _mm256_loadu_ps((const float *)row + k);
    if (fmt == CK_BF16) {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    }
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
}
AI float load_w1(const int fmt, const uint8_t *row, int64_t k) {
    if (fmt == CK_F32) return ((const float *)row)[k];
    if (fmt == CK_BF16) return ck_bf16_to_fp32(((const uint16_t *)row)[k]);
    return _cvtsh_ss(((const uint16_t *)row)[k]);
}

AI void tile_f(const int fmt, const int R, const int C, float *out, int64_t N, const uint8_t *wrow, size_t rb,
               const float *x, int64_t K) {
    __m256 acc[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[4];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) wv[r] = load_w8(fmt, wrow + r * rb, k);
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            const __m256 xv = _mm256_loadu_ps(x + c * K + k);
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            float sum = hsum256(acc[r][c]);
            for (int64_t kk = k; kk < K; kk++) sum += load_w1(fmt, wrow + r * rb, kk) * x[c * K + kk];
            out[c * N + r] = sum;
        }
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

static CK_TARGET_AVX2 void rows_f(int fmt, float *out, const void *w, const float *x, int64_t T, int64_t K, int64_t N,
                                  int64_t n0, int64_t n1) {
    if (fmt == CK_F32)
        rows_f_fmt(CK_F32, out, w, x, T, K, N, n0, n1);
    else if (fmt == CK_F16)
        rows_f_fmt(CK_F16, out, w, x, T, K, N, n0, n1);
    else
        rows_f_fmt(CK_BF16, out, w, x, T, K, N, n0, n1);
}

// every format of the table but the IQ4 ones (cpu/matmul_iq4.c)
static int has(int fmt) { return ck_format_find(fmt) != NULL && fmt != CK_IQ4_NL && fmt != CK_IQ4_XS; }

const ck_matmul_impl ck__matmul_avx2 = {has, quantize, rows_q, rows_f};

#endif
