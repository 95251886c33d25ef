// cpu/matmul_avx2.c: the AVX2 + FMA + F16C kernels of ck_matmul. Same tiling as matmul_avx512.c (R weight rows x C
// tokens, one ymm accumulator each, combined scales from a 16-block table); the integer dot product is
// vpmaddubsw + vpmaddwd instead of vpdpbusd:
//   q4:   maddubs(nibbles, q): pairs of 15 * 127 never saturate int16
//   q8_0: maddubs(|w|, sign(q, w)) as ggml does (255 * 127 pairs would saturate), so q8_0 needs no offset term.
#include "../ck_internal.h"

#if CK_X86
#include <immintrin.h>

#define AI CK_INLINE CK_TARGET_AVX2

#define TOKEN_BLOCK 128  // as in matmul_avx512.c

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

// q4: unsigned nibbles in element order; q8_0: the signed bytes.
AI __m256i load_block(const int fmt, const uint8_t *blk) {
    if (fmt == CK_Q8_0) return _mm256_loadu_si256((const __m256i *)(blk + 2));
    const uint8_t *qs = blk + (fmt == CK_Q4_1 ? 4 : 2);
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
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
// cw is the coefficient of s_a (q4_1: m_w; q4_0: -8 d_w; q8_0: 0).
AI void block_scales(const int fmt, const uint8_t *blk, int n, __m256 dw[2], __m256 cw[2]) {
    const int bs = ck__block_bytes(fmt);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i offsets = _mm256_mullo_epi32(iota, _mm256_set1_epi32(bs));
    for (int h = 0; h < 2; h++) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * h), iota);
        const __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(blk + 8 * h * bs),
                                                      offsets, mask, 1);
        dw[h] = cvt_half_lanes(g, 0);
        if (fmt == CK_Q4_1)
            cw[h] = cvt_half_lanes(g, 1);
        else if (fmt == CK_Q4_0)
            cw[h] = _mm256_mul_ps(dw[h], _mm256_set1_ps(-8.0f));
        else
            cw[h] = _mm256_setzero_ps();
    }
}

AI void tile_q(const int fmt, const int R, const int C, float *out, int64_t N, const uint8_t *wrow, size_t rb,
               const ck_qact *a, int64_t t0) {
    const int bs = ck__block_bytes(fmt);
    const int64_t nb = a->nb;
    const __m256i ones = _mm256_set1_epi16(1), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    for (int c = 0; c < C; c++) {
        qa[c] = ck__qact_qs(a, t0 + c);
        da[c] = ck__qact_d(a, t0 + c);
        sa[c] = ck__qact_s(a, t0 + c);
    }
    __m256 acc[4][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();

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

AI void tokens_q(const int fmt, const int R, float *out, const uint8_t *wrow, size_t rb, const ck_qact *a,
                 int64_t tb, int64_t te, int64_t N) {
    int64_t t = tb;
    for (; t + 4 <= te; t += 4) tile_q(fmt, R, 4, out + t * N, N, wrow, rb, a, t);
    switch (te - t) {
    case 3: tile_q(fmt, R, 3, out + t * N, N, wrow, rb, a, t); break;
    case 2: tile_q(fmt, R, 2, out + t * N, N, wrow, rb, a, t); break;
    case 1: tile_q(fmt, R, 1, out + t * N, N, wrow, rb, a, t); break;
    default: break;
    }
}

AI void rows_q_fmt(const int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                   int64_t n1) {
    const size_t rb = (size_t)a->nb * (size_t)ck__block_bytes(fmt);
    for (int64_t tb = 0; tb < T; tb += TOKEN_BLOCK) {
        const int64_t te = T - tb < TOKEN_BLOCK ? T : tb + TOKEN_BLOCK;
        int64_t n = n0;
        for (; n + 4 <= n1; n += 4) tokens_q(fmt, 4, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
        for (; n < n1; n++) tokens_q(fmt, 1, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
    }
}

static CK_TARGET_AVX2 void rows_q(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N,
                                  int64_t n0, int64_t n1) {
    switch (fmt) {
    case CK_Q4_0: rows_q_fmt(CK_Q4_0, out, w, a, T, N, n0, n1); break;
    case CK_Q4_1: rows_q_fmt(CK_Q4_1, out, w, a, T, N, n0, n1); break;
    case CK_Q8_0: rows_q_fmt(CK_Q8_0, out, w, a, T, N, n0, n1); break;
    default: break;
    }
}

// MARK: - Float weights

AI __m256 load_w8(const int fmt, const uint8_t *row, int64_t k) {
    if (fmt == CK_F32) return _mm256_loadu_ps((const float *)row + k);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
}
AI float load_w1(const int fmt, const uint8_t *row, int64_t k) {
    if (fmt == CK_F32) return ((const float *)row)[k];
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
    else
        rows_f_fmt(CK_F16, out, w, x, T, K, N, n0, n1);
}

static int has(int fmt) {
    return fmt == CK_F32 || fmt == CK_F16 || fmt == CK_Q4_0 || fmt == CK_Q4_1 || fmt == CK_Q8_0;
}

const ck_matmul_impl ck__matmul_avx2 = {has, quantize, rows_q, rows_f};

#endif
