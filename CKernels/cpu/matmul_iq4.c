// cpu/matmul_iq4.c: the AVX2 kernels of ck_matmul for the IQ4 formats (iq4_nl, iq4_xs), a level of their own in
// matmul.c's dispatch. AVX-512 hosts run them too (matmul_avx512.c has no IQ4 kernels, so the dispatch takes this
// AVX2 level there, as it does for the K-quants): one tested path on every x86 host with AVX2.
//
// Every 32-element chunk (an iq4_nl block, or one of the 8 sub-blocks of an iq4_xs super-block) meets one
// activation block (ck_qact, quantized by the AVX2 level's `quantize`). Its 16 packed bytes become 32 int8 weights
// with one vpshufb of the 16-entry value table (ck_iq4_values) by the low and high nibbles, and then the int8 x
// int8 product goes as matmul_avx2.c's q8_0 one: maddubs(|w|, sign(q, w)), pairs of 127 * 127 never saturate int16,
// then madd with ones. One FMA per chunk adds it with the scale d_w * d_a (iq4_xs: d_w * (sc - 32) * d_a).
// Tiles of R weight rows x C tokens with one ymm accumulator each, as in matmul_avx2.c.
#include "../ck_internal.h"

#if CK_X86
#include <immintrin.h>

#define AI CK_HELPER CK_TARGET_AVX2

#define TOKEN_BLOCK 128  // activation rows per pass over the weight rows, as in matmul_avx2.c

AI float sum8(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 h = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(_mm_hadd_ps(h, h));
}

// The 32 int8 weights of the chunk whose 16 packed bytes are at qs (element j: low nibble of qs[j] for j < 16,
// high nibble of qs[j - 16] after), looked up in the value table held in both 128-bit lanes.
AI __m256i chunk_values(__m256i table, const uint8_t *qs) {
    __m256i idx = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    idx = _mm256_and_si256(_mm256_srlv_epi32(idx, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F));
    return _mm256_shuffle_epi8(table, idx);
}

// Chunks per weight block (iq4_nl 1, iq4_xs 8); the float scale of each (dw) and where its packed bytes lie.
AI int chunks(const int fmt) { return fmt == CK_IQ4_XS ? 8 : 1; }
AI void chunk_scales(const int fmt, const uint8_t *blk, float dw[8]) {
    if (fmt == CK_IQ4_NL) {
        dw[0] = _cvtsh_ss(((const ck_block_iq4_nl *)blk)->d);
        return;
    }
    const ck_block_iq4_xs *b = (const ck_block_iq4_xs *)blk;
    const float d = _cvtsh_ss(b->d);
    for (int j = 0; j < 8; j++) {
        const int sc = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | ((b->scales_h >> (2 * j)) & 3) << 4;
        dw[j] = d * (float)(sc - 32);
    }
}
AI const uint8_t *chunk_bytes(const int fmt, const uint8_t *blk, int j) {
    return fmt == CK_IQ4_NL ? ((const ck_block_iq4_nl *)blk)->qs : ((const ck_block_iq4_xs *)blk)->qs + 16 * j;
}

// out[c * N + r] (r < R rows from wrow, c < C tokens from t0) = the rows' products with the activation rows.
AI void tile(const int fmt, const int R, const int C, float *out, int64_t N, const uint8_t *wrow, size_t rb,
             const ck_qact *a, int64_t t0) {
    const int bs = ck__block_bytes(fmt), per = chunks(fmt);
    const int64_t blocks = a->nb / per;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)ck_iq4_values));
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *qa[4];
    const float *da[4], *sa[4];
    ck__qact_tile(a, t0, C, qa, da, sa);
    __m256 acc[4][4] = {0};  // one accumulator per (row, token)

    for (int64_t ib = 0; ib < blocks; ib++) {
        float dw[4][8];
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) chunk_scales(fmt, wrow + r * rb + ib * bs, dw[r]);
#pragma clang loop unroll(full)
        for (int j = 0; j < per; j++) {
            const int64_t b = ib * per + j;  // the activation block
            __m256i wv[4], wabs[4];
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {
                wv[r] = chunk_values(table, chunk_bytes(fmt, wrow + r * rb + ib * bs, j));
                wabs[r] = _mm256_sign_epi8(wv[r], wv[r]);
            }
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) {
                const __m256i av = _mm256_load_si256((const __m256i *)(qa[c] + b * CK_QK));
                const float dac = da[c][b];
#pragma clang loop unroll(full)
                for (int r = 0; r < R; r++) {
                    const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(av, wv[r])), ones);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw[r][j] * dac), acc[r][c]);
                }
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) out[c * N + r] = sum8(acc[r][c]);
}

// R weight rows against activation rows [tb, te): tiles of 4 tokens, then the remaining 1-3.
AI void row_tiles(const int fmt, const int R, float *out, const uint8_t *wrow, size_t rb, const ck_qact *a,
                  int64_t tb, int64_t te, int64_t N) {
    int64_t t = tb;
    for (; t + 4 <= te; t += 4) tile(fmt, R, 4, out + t * N, N, wrow, rb, a, t);
    if (te - t == 3) tile(fmt, R, 3, out + t * N, N, wrow, rb, a, t);
    if (te - t == 2) tile(fmt, R, 2, out + t * N, N, wrow, rb, a, t);
    if (te - t == 1) tile(fmt, R, 1, out + t * N, N, wrow, rb, a, t);
}

AI void rows_fmt(const int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                 int64_t n1) {
    const size_t rb = ck_row_bytes(fmt, a->K);
    for (int64_t tb = 0; tb < T; tb += TOKEN_BLOCK) {
        const int64_t te = T - tb < TOKEN_BLOCK ? T : tb + TOKEN_BLOCK;
        int64_t n = n0;
        for (; n + 4 <= n1; n += 4) row_tiles(fmt, 4, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
        for (; n < n1; n++) row_tiles(fmt, 1, out + n, (const uint8_t *)w + n * rb, rb, a, tb, te, N);
    }
}

static CK_TARGET_AVX2 void rows_q(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N,
                                  int64_t n0, int64_t n1) {
    if (fmt == CK_IQ4_NL) rows_fmt(CK_IQ4_NL, out, w, a, T, N, n0, n1);
    if (fmt == CK_IQ4_XS) rows_fmt(CK_IQ4_XS, out, w, a, T, N, n0, n1);
}

// The activations are the AVX2 level's (plain block order).
static void quantize(const ck_qact *a, const float *x, int64_t t0, int64_t t1) {
    ck__matmul_avx2.quantize(a, x, t0, t1);
}

static int has(int fmt) { return fmt == CK_IQ4_NL || fmt == CK_IQ4_XS; }

// No rows_f: this level has no float formats (mm_run calls rows_f for those only).
const ck_matmul_impl ck__matmul_iq4_avx2 = {has, quantize, rows_q, NULL};

#endif
