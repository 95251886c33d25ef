// quantize.c: the quantizers `gpt quantize` writes files with, for the formats beyond quants.c's q4_0/q4_1/q8_0.
//
// The 32-element formats (q5_0, q5_1) round to nearest, as ggml's reference quantizers do. The K-quants search
// their sub-block scales the way ggml's reference quantizers (ggml-quants.c, quantize_row_q*_K_ref, the path
// llama-quantize takes without an importance matrix) do, so the files match llama.cpp's in quality:
//   q2_K  16 sub-blocks of 16: (scale, min) per sub-block fitted by a weighted least-absolute-deviation search over
//         candidate scales (weights |x|), then both quantized to 4 bits against the super-block's largest.
//   q3_K  16 sub-blocks of 16: a symmetric scale refined by moving single quants while the weighted (x²) fit
//         improves, then 6-bit signed scales against the largest.
//   q4_K, q5_K  8 sub-blocks of 32: (scale, min) by a weighted least-squares search over candidate scales (weights
//         rms(x) + |x|), then 6-bit scales and mins.
//   q6_K  16 sub-blocks of 16: a symmetric scale by a least-squares search (weights x²) over 19 candidates, then
//         int8 scales.
// The IQ4 formats follow ggml's quantize_iq4_nl / quantize_iq4_xs without an importance matrix (the path
// llama-quantize runs; not quantize_row_iq4_nl_ref, which skips the search):
//   iq4_nl  one scale per 32: x ≈ d * values[L] over the non-linear table, d by a least-squares search (weights x²)
//           over 16 candidate scales; stored as fp16.
//   iq4_xs  8 sub-blocks of 32 fitted the same way, then 6-bit signed scales against the largest.
// After the sub-block scales are quantized, every element is quantized again against the quantized scale it will be
// dequantized with. Block layouts: ckernels.h (ck_block_*), bit for bit ggml's.
#include <math.h>

#include "ck_internal.h"

// Round half to even, as ggml's nearest_int (|x| < 2^22 here: quants and 6-bit scales).
static inline int qz_round(float x) { return (int)lrintf(x); }

static inline int qz_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/// The value of largest magnitude in x (n), keeping its sign (the first of equal magnitudes).
static float qz_signed_max(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    return max;
}

/// qz_signed_max, but 0 when every |x| is below 1e-15 (ggml's GROUP_MAX_EPS in its scale searches).
static float qz_signed_absmax(const float *x, int n) {
    const float max = qz_signed_max(x, n);
    return fabsf(max) < 1e-15f ? 0 : max;
}

// MARK: - Scale searches

/// Symmetric fit x ≈ scale * (L - nmax), L in 0..2*nmax-1, least squares weighted by x². Tries the scale that maps
/// the largest |x| to -nmax and 18 nearby ones (nmax ± 0.1..0.9), keeping the best weighted fit.
/// Returns scale (0 for an all-zero x, with L = 0).
static float qz_fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
    const float max = qz_signed_absmax(x, n);
    if (max == 0) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best_scale = 0, best = 0;  // best = sumlx² / suml2, the weighted fit's explained energy
    for (int step = 0; step <= 18; step++) {
        const int is = step == 0 ? 0 : step <= 9 ? step - 10 : step - 9;  // 0, then -9..-1, then 1..9
        const float iscale = -(nmax + 0.1f * is) / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = qz_clamp(qz_round(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && (step == 0 || sumlx * sumlx > best * suml2)) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + qz_clamp(qz_round(iscale * x[i]), -nmax, nmax - 1));
            best_scale = sumlx / suml2;
            best = best_scale * sumlx;
        }
    }
    return best_scale;
}

/// q3_K's symmetric fit: round with the scale that maps the largest |x| to -nmax, then move single quants to the
/// value the current fit predicts while that improves the x²-weighted fit (at most 5 sweeps).
/// Returns scale, with L in 0..2*nmax-1 (offset by nmax).
static float qz_fit_symmetric_refined(int n, int nmax, const float *x, int8_t *L) {
    const float max = qz_signed_absmax(x, n);
    if (max == 0) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    const float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = qz_clamp(qz_round(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];  // the fit without element i
            if (slx <= 0) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            const int l = qz_clamp(qz_round(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i]) continue;
            slx += w * x[i] * l;
            sl2 += w * l * l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0 ? sumlx / suml2 : 0;
}

/// Asymmetric fit x ≈ scale * L - min_out, L in 0..nmax, min ≤ 0 (min_out = -min ≥ 0). Starts from the range
/// [min(x, 0), max(x)] and tries nstep+1 scales (nmax + rmin + rdelta * k) / range, solving the weighted least-squares
/// scale and offset for each rounding; keeps the one with the smallest weighted error (absolute when mad, else
/// squared). L must hold n bytes, aux too.
static float qz_fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *min_out,
                              uint8_t *aux, float rmin, float rdelta, int nstep, int mad) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        min = fminf(min, x[i]);
        max = fmaxf(max, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *min_out = -min;
        return 0;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)qz_clamp(qz_round(iscale * (x[i] - min)), 0, nmax);
        const float diff = scale * L[i] + min - x[i];
        best_error += w[i] * (mad ? fabsf(diff) : diff * diff);
    }
    for (int k = 0; k <= nstep; k++) {
        iscale = (rmin + rdelta * k + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = qz_clamp(qz_round(iscale * (x[i] - min)), 0, nmax);
            aux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; i++) {
            const float diff = this_scale * aux[i] + this_min - x[i];
            error += w[i] * (mad ? fabsf(diff) : diff * diff);
        }
        if (error < best_error) {
            memcpy(L, aux, (size_t)n);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

// MARK: - bf16 and the 32-element formats

void ck_quantize_bf16(uint16_t *dst, const float *src, int64_t n) {
    // the top 16 bits, rounded to nearest even; NaN stays a (quiet) NaN
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        dst[i] = (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)((u >> 16) | 0x40)
                                                 : (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
    }
}


void ck_quantize_q5_0(void *dst, const float *src, int64_t n) {
    // d = signed absmax / -16, q = min(31, (int)(x / d + 16.5)); the fifth bits go to qh
    ck_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / CK_QK; i++, src += CK_QK) {
        const float d = qz_signed_max(src, CK_QK) / -16, id = d != 0 ? 1 / d : 0;  // (no epsilon, as ggml's)
        b[i].d = ck_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < CK_QK / 2; j++) {
            const int q0 = qz_clamp((int)(int8_t)(src[j] * id + 16.5f), 0, 31);
            const int q1 = qz_clamp((int)(int8_t)(src[j + CK_QK / 2] * id + 16.5f), 0, 31);
            b[i].qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + CK_QK / 2);
        }
        memcpy(b[i].qh, &qh, 4);
    }
}

void ck_quantize_q5_1(void *dst, const float *src, int64_t n) {
    // d = (max - min) / 31, m = min, q = (int)((x - min) / d + 0.5)
    ck_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / CK_QK; i++, src += CK_QK) {
        float min = src[0], max = src[0];
        for (int j = 1; j < CK_QK; j++) {
            min = fminf(min, src[j]);
            max = fmaxf(max, src[j]);
        }
        const float d = (max - min) / 31, id = d != 0 ? 1 / d : 0;
        b[i].d = ck_fp32_to_fp16(d);
        b[i].m = ck_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < CK_QK / 2; j++) {
            const int q0 = qz_clamp((int)((src[j] - min) * id + 0.5f), 0, 31);
            const int q1 = qz_clamp((int)((src[j + CK_QK / 2] - min) * id + 0.5f), 0, 31);
            b[i].qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + CK_QK / 2);
        }
        memcpy(b[i].qh, &qh, 4);
    }
}

// MARK: - K-quants

/// Packs 2-bit quants L (256, values 0..3) as q2_K / q3_K do: byte l of each 32-byte group g holds elements
/// 128*(g) + l, +32, +64, +96 in bits 0-1, 2-3, 4-5, 6-7.
static void qz_pack_2bit(uint8_t *qs, const uint8_t *L) {
    for (int j = 0; j < CK_QK_K; j += 128) {
        for (int l = 0; l < 32; l++) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
        }
    }
}

void ck_quantize_q2_K(void *dst, const float *src, int64_t n) {
    ck_block_q2_K *b = dst;
    uint8_t L[CK_QK_K], aux[16];
    float w[16], scales[16], mins[16];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(src[16 * j + l]);
            scales[j] = qz_fit_scale_min(16, 3, src + 16 * j, w, L + 16 * j, &mins[j], aux, -0.5f, 0.1f, 15, 1);
            max_scale = fmaxf(max_scale, scales[j]);
            max_min = fmaxf(max_min, mins[j]);
        }
        // 4-bit scales (low nibble) and mins (high nibble) against the largest of each
        for (int j = 0; j < 16; j++) {
            const int ls = max_scale > 0 ? qz_round(15 / max_scale * scales[j]) : 0;
            const int lm = max_min > 0 ? qz_round(15 / max_min * mins[j]) : 0;
            b[i].scales[j] = (uint8_t)(ls | lm << 4);
        }
        b[i].d = ck_fp32_to_fp16(max_scale > 0 ? max_scale / 15 : 0);
        b[i].dmin = ck_fp32_to_fp16(max_min > 0 ? max_min / 15 : 0);
        for (int j = 0; j < 16; j++) {
            const float d = ck_fp16_to_fp32(b[i].d) * (b[i].scales[j] & 15);
            if (d == 0) continue;
            const float dm = ck_fp16_to_fp32(b[i].dmin) * (b[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)qz_clamp(qz_round((src[16 * j + l] + dm) / d), 0, 3);
        }
        qz_pack_2bit(b[i].qs, L);
    }
}

void ck_quantize_q3_K(void *dst, const float *src, int64_t n) {
    ck_block_q3_K *b = dst;
    int8_t L[CK_QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        float max_scale = 0;  // the scale of largest magnitude, signed
        for (int j = 0; j < 16; j++) {
            scales[j] = qz_fit_symmetric_refined(16, 4, src + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > fabsf(max_scale)) max_scale = scales[j];
        }
        // 6-bit scales stored with an offset of 32: low 4 bits in scales[0..7] (two per byte), high 2 bits in
        // scales[8..11]
        memset(b[i].scales, 0, 12);
        if (max_scale != 0) {
            const float iscale = -32 / max_scale;
            for (int j = 0; j < 16; j++) {
                const int l = qz_clamp(qz_round(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) {
                    b[i].scales[j] = (uint8_t)(l & 15);
                } else {
                    b[i].scales[j - 8] |= (uint8_t)((l & 15) << 4);
                }
                b[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            b[i].d = ck_fp32_to_fp16(1 / iscale);
        } else {
            b[i].d = ck_fp32_to_fp16(0);
        }
        uint8_t Lu[CK_QK_K];
        for (int j = 0; j < CK_QK_K; j++) Lu[j] = (uint8_t)L[j];
        for (int j = 0; j < 16; j++) {
            const int low = j < 8 ? b[i].scales[j] & 15 : b[i].scales[j - 8] >> 4;
            const int sc = (low | ((b[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
            const float d = ck_fp16_to_fp32(b[i].d) * sc;
            if (d == 0) continue;
            for (int l = 0; l < 16; l++) Lu[16 * j + l] = (uint8_t)(qz_clamp(qz_round(src[16 * j + l] / d), -4, 3) + 4);
        }
        // the high bit of element j goes to bit j / 32 of hmask[j % 32]; the low two bits are packed as q2_K's
        memset(b[i].hmask, 0, CK_QK_K / 8);
        for (int j = 0; j < CK_QK_K; j++) {
            if (Lu[j] > 3) {
                b[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
                Lu[j] -= 4;
            }
        }
        qz_pack_2bit(b[i].qs, Lu);
    }
}

/// q4_K / q5_K: 8 sub-blocks of 32 with (scale, min) quantized to 6 bits each. Fills the header (d, dmin, scales)
/// of the block at d/dmin/scales and L (256 quants in 0..nmax).
static void qz_quantize_k32(const float *x, int nmax, float rmin, int nstep, uint16_t *d_out, uint16_t *dmin_out,
                            uint8_t *packed, uint8_t *L) {
    float w[32], scales[8], mins[8];
    uint8_t aux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = qz_fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], aux, rmin, 0.1f, nstep, 0);
        max_scale = fmaxf(max_scale, scales[j]);
        max_min = fmaxf(max_min, mins[j]);
    }
    // 6-bit scale and min per sub-block: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scale) and 4-7 (min);
    // sub-blocks 4-7 as nibbles in bytes 8-11 with their top two bits in the high bits of bytes 0-7
    const float inv_scale = max_scale > 0 ? 63 / max_scale : 0, inv_min = max_min > 0 ? 63 / max_min : 0;
    uint8_t ls[8], lm[8];
    memset(packed, 0, 12);
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)(qz_round(inv_scale * scales[j]) < 63 ? qz_round(inv_scale * scales[j]) : 63);
        lm[j] = (uint8_t)(qz_round(inv_min * mins[j]) < 63 ? qz_round(inv_min * mins[j]) : 63);
        if (j < 4) {
            packed[j] = ls[j];
            packed[j + 4] = lm[j];
        } else {
            packed[j + 4] = (uint8_t)((ls[j] & 15) | (lm[j] & 15) << 4);
            packed[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            packed[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    *d_out = ck_fp32_to_fp16(max_scale / 63);
    *dmin_out = ck_fp32_to_fp16(max_min / 63);
    for (int j = 0; j < 8; j++) {
        const float d = ck_fp16_to_fp32(*d_out) * ls[j];
        if (d == 0) continue;
        const float dm = ck_fp16_to_fp32(*dmin_out) * lm[j];
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)qz_clamp(qz_round((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

void ck_quantize_q4_K(void *dst, const float *src, int64_t n) {
    ck_block_q4_K *b = dst;
    uint8_t L[CK_QK_K];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        qz_quantize_k32(src, 15, -1.0f, 20, &b[i].d, &b[i].dmin, b[i].scales, L);
        // each 64 elements: 32 bytes, low nibble element l, high nibble element l + 32
        for (int j = 0; j < CK_QK_K; j += 64) {
            for (int l = 0; l < 32; l++) b[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
        }
    }
}

void ck_quantize_q5_K(void *dst, const float *src, int64_t n) {
    ck_block_q5_K *b = dst;
    uint8_t L[CK_QK_K];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        qz_quantize_k32(src, 31, -0.5f, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        // low nibbles as q4_K; the fifth bit of element 64*g + l goes to bit 2g of qh[l], of 64*g + 32 + l to 2g+1
        memset(b[i].qh, 0, CK_QK_K / 8);
        for (int j = 0, g = 0; j < CK_QK_K; j += 64, g++) {
            for (int l = 0; l < 32; l++) {
                const int lo = L[j + l], hi = L[j + l + 32];
                b[i].qs[j / 2 + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
                b[i].qh[l] |= (uint8_t)((lo >> 4) << (2 * g) | (hi >> 4) << (2 * g + 1));
            }
        }
    }
}

void ck_quantize_q6_K(void *dst, const float *src, int64_t n) {
    ck_block_q6_K *b = dst;
    int8_t L[CK_QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        float max_scale = 0;  // signed, of largest magnitude
        for (int j = 0; j < 16; j++) {
            scales[j] = qz_fit_symmetric(16, 32, src + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > fabsf(max_scale)) max_scale = scales[j];
        }
        if (fabsf(max_scale) < 1e-15f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        const float iscale = -128 / max_scale;
        b[i].d = ck_fp32_to_fp16(1 / iscale);
        for (int j = 0; j < 16; j++) {
            const int s = qz_round(iscale * scales[j]);
            b[i].scales[j] = (int8_t)(s < 127 ? s : 127);
        }
        for (int j = 0; j < 16; j++) {
            const float d = ck_fp16_to_fp32(b[i].d) * b[i].scales[j];
            if (d == 0) continue;
            for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(qz_clamp(qz_round(src[16 * j + l] / d), -32, 31) + 32);
        }
        // per 128 elements: ql holds low nibbles (elements l and l+64 in byte l, l+32 and l+96 in byte l+32),
        // qh the top two bits of l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7 of byte l
        for (int j = 0; j < CK_QK_K; j += 128) {
            uint8_t *ql = b[i].ql + j / 2, *qh = b[i].qh + j / 4;
            for (int l = 0; l < 32; l++) {
                const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 15) | (q3 & 15) << 4);
                ql[l + 32] = (uint8_t)((q2 & 15) | (q4 & 15) << 4);
                qh[l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
        }
    }
}

// MARK: - IQ4 (non-linear 4-bit table)

/// Midpoints between neighbouring entries of ck_iq4_values (exact half-integers; [0] unused).
static const float qz_iq4_mid[16] = {0, -115.5f, -93.5f, -74, -57, -42, -28.5f, -16, -4.5f, 7, 19, 31.5f, 45.5f,
                                     61, 79, 101};

/// The index of the table value nearest x, the higher one on a tie (x at or beyond the ends: 0 or 15). Comparing
/// with the midpoints is exact: ggml's differences (x - lower < upper - x) are exact wherever they could tie.
static inline int qz_iq4_index(float x) {
    int k = 0;
    if (qz_iq4_mid[k + 8] <= x) k += 8;
    if (qz_iq4_mid[k + 4] <= x) k += 4;
    if (qz_iq4_mid[k + 2] <= x) k += 2;
    if (qz_iq4_mid[k + 1] <= x) k += 1;
    return x != x ? 15 : k;  // NaN: the last entry, as ggml's search ends
}

/// For inverse scale id: Σw·q·x and Σw·q² over 32 values, q = the table entry nearest id·x, w = x².
static inline void qz_iq4_sums(const float *x, float id, float *sumqx, float *sumq2) {
    float qx = 0, q2 = 0;
    for (int j = 0; j < 32; j++) {
        const float q = ck_iq4_values[qz_iq4_index(id * x[j])], w = x[j] * x[j];
        qx += w * q * x[j];
        q2 += w * q * q;
    }
    *sumqx = qx;
    *sumq2 = q2;
}

/// The x²-weighted least-squares fit of one scale d for 32 values on the fixed grid: each candidate inverse scale
/// maps x to the table (rounding to the nearest entry), and d = Σw·q·x / Σw·q² for that rounding; the candidate with
/// the largest explained energy (Σw·q·x)² / Σw·q² wins. Candidates: the one mapping the largest |x| (signed) to +127
/// (beyond the table's top, so it clamps), then (t - 127) / max for t = -7..7, which map it near the table's -127
/// end. Returns 0 when every |x| < 1e-15.
static float qz_iq4_fit(const float *x) {
    const float max = qz_signed_absmax(x, 32);
    if (max == 0) return 0;
    float sumqx, sumq2;
    qz_iq4_sums(x, 1 / (max / 127), &sumqx, &sumq2);  // as 1 / d for d = max / 127, rounded so
    float d = sumq2 > 0 ? sumqx / sumq2 : 0;
    float best = d * sumqx;
    for (int t = -7; t <= 7; t++) {
        qz_iq4_sums(x, (float)(t - 127) / max, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/// 32 values to 16 bytes of table indices with inverse scale id: element j in the low nibble of byte j, j + 16 in
/// the high one.
static void qz_iq4_pack(uint8_t *qs, const float *x, float id) {
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)(qz_iq4_index(id * x[j]) | qz_iq4_index(id * x[j + 16]) << 4);
    }
}

void ck_quantize_iq4_nl(void *dst, const float *src, int64_t n) {
    ck_block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / CK_QK; i++, src += CK_QK) {
        // the indices are taken against the fitted scale itself, not its fp16 rounding
        const float d = qz_iq4_fit(src);
        b[i].d = ck_fp32_to_fp16(d);
        qz_iq4_pack(b[i].qs, src, d != 0 ? 1 / d : 0);
    }
}

void ck_quantize_iq4_xs(void *dst, const float *src, int64_t n) {
    ck_block_iq4_xs *b = dst;
    float scales[8];
    for (int64_t i = 0; i < n / CK_QK_K; i++, src += CK_QK_K) {
        float max_scale = 0;  // the sub-block scale of largest magnitude (the first such), signed
        for (int j = 0; j < 8; j++) {
            scales[j] = qz_iq4_fit(src + 32 * j);
            if (fabsf(scales[j]) > fabsf(max_scale)) max_scale = scales[j];
        }
        // super-block scale d maps max_scale to -32; each sub-block gets l in -32..31 (stored + 32), and its
        // elements are indexed against d * l (d unrounded, as ggml does; only the stored d is fp16). An all-zero
        // block stores d = -0.
        const float d = -max_scale / 32, id = d != 0 ? 1 / d : 0;
        b[i].d = ck_fp32_to_fp16(d);
        b[i].scales_h = 0;
        memset(b[i].scales_l, 0, sizeof b[i].scales_l);
        for (int j = 0; j < 8; j++) {
            const int l = qz_clamp(qz_round(id * scales[j]), -32, 31);
            const float dl = d * l;
            qz_iq4_pack(b[i].qs + 16 * j, src + 32 * j, dl != 0 ? 1 / dl : 0);
            b[i].scales_l[j / 2] |= (uint8_t)(((l + 32) & 15) << 4 * (j % 2));
            b[i].scales_h |= (uint16_t)(((l + 32) >> 4) << 2 * j);
        }
    }
}
