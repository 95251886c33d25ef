// quants.c: fp16 <-> fp32 and bf16 -> fp32, and rows quantized the ggml reference way (ggml-quants.c:
// quantize_row_q4_0_ref, _q4_1_ref, _q8_0_ref; the other formats' quantizers are in quantize.c). The dequantizers
// are in ref/dequantize.c, the table in formats.c.
// Portable scalar C; the matmul kernels never dequantize, they work on the blocks (cpu/matmul*.c).
#include <math.h>

#include "ck_internal.h"

// MARK: - fp16

float ck_fp16_to_fp32(uint16_t h) {
    // Exact: every fp16 value (normal, subnormal, zero, inf, NaN) is representable in fp32.
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);  // inf / NaN
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 -> 127
    } else if (mant == 0) {
        bits = sign;  // +-0
    } else {
        // subnormal: mant * 2^-24, renormalised
        int shift = 0;
        while (!(mant & 0x400)) {
            mant <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float ck_bf16_to_fp32(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t ck_fp32_to_fp16(float f) {
    // Round to nearest even, overflow to inf, NaN kept quiet (the bit manipulation of ggml's fp16 library).
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, absx = x & 0x7FFFFFFF;
    if (absx >= 0x7F800000u) return (uint16_t)(sign | 0x7C00 | (absx > 0x7F800000u ? 0x200 : 0));
    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);  // >= 65520 rounds to inf
    if (absx < 0x38800000u) {
        // result is subnormal or zero: adding 0.5 puts the 10 fp16 mantissa bits at the bottom of the float,
        // rounded to nearest even by the addition itself; subtracting 0.5's bits leaves them.
        const uint32_t half_bits = 126u << 23;
        float a, half = 0.5f;
        memcpy(&a, &absx, sizeof a);
        float sum = a + half;
        uint32_t sb;
        memcpy(&sb, &sum, sizeof sb);
        return (uint16_t)(sign | (sb - half_bits));
    }
    uint32_t mant_odd = (absx >> 13) & 1;
    absx += 0xC8000FFFu + mant_odd;  // rebias 127 -> 15 (-112 << 23) and round half to even
    return (uint16_t)(sign | (absx >> 13));
}

// MARK: - Rows

void ck_quantize_row(int fmt, void *dst, const float *src, int64_t n) {
    const int64_t nb = n / CK_QK;
    switch (fmt) {
    case CK_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case CK_F16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = ck_fp32_to_fp16(src[i]);
        break;
    }
    case CK_Q4_0: {  // d = signed absmax / -8, q = min(15, (int8)(x / d + 8.5))
        ck_block_q4_0 *b = dst;
        for (int64_t i = 0; i < nb; i++, src += CK_QK) {
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < CK_QK; j++) {
                if (amax < fabsf(src[j])) {
                    amax = fabsf(src[j]);
                    max = src[j];
                }
            }
            const float d = max / -8, id = d != 0.0f ? 1.0f / d : 0.0f;
            b[i].d = ck_fp32_to_fp16(d);
            for (int j = 0; j < CK_QK / 2; j++) {
                int8_t x0 = (int8_t)(src[j] * id + 8.5f), x1 = (int8_t)(src[j + CK_QK / 2] * id + 8.5f);
                uint8_t q0 = (uint8_t)(x0 < 15 ? x0 : 15), q1 = (uint8_t)(x1 < 15 ? x1 : 15);
                b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        break;
    }
    case CK_Q4_1: {  // d = (max - min) / 15, m = min, q = min(15, (int8)((x - min) / d + 0.5))
        ck_block_q4_1 *b = dst;
        for (int64_t i = 0; i < nb; i++, src += CK_QK) {
            float min = INFINITY, max = -INFINITY;
            for (int j = 0; j < CK_QK; j++) {
                if (src[j] < min) min = src[j];
                if (src[j] > max) max = src[j];
            }
            const float d = (max - min) / 15, id = d != 0.0f ? 1.0f / d : 0.0f;
            b[i].d = ck_fp32_to_fp16(d);
            b[i].m = ck_fp32_to_fp16(min);
            for (int j = 0; j < CK_QK / 2; j++) {
                int8_t x0 = (int8_t)((src[j] - min) * id + 0.5f);
                int8_t x1 = (int8_t)((src[j + CK_QK / 2] - min) * id + 0.5f);
                uint8_t q0 = (uint8_t)(x0 < 15 ? x0 : 15), q1 = (uint8_t)(x1 < 15 ? x1 : 15);
                b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        break;
    }
    case CK_Q8_0: {  // d = absmax / 127, q = round(x / d)
        ck_block_q8_0 *b = dst;
        for (int64_t i = 0; i < nb; i++, src += CK_QK) {
            float amax = 0.0f;
            for (int j = 0; j < CK_QK; j++) amax = fmaxf(amax, fabsf(src[j]));
            const float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
            b[i].d = ck_fp32_to_fp16(d);
            for (int j = 0; j < CK_QK; j++) b[i].qs[j] = (int8_t)roundf(src[j] * id);
        }
        break;
    }
    case CK_BF16: ck_quantize_bf16(dst, src, n); break;
    case CK_Q5_0: ck_quantize_q5_0(dst, src, n); break;
    case CK_Q5_1: ck_quantize_q5_1(dst, src, n); break;
    case CK_Q2_K: ck_quantize_q2_K(dst, src, n); break;
    case CK_Q3_K: ck_quantize_q3_K(dst, src, n); break;
    case CK_Q4_K: ck_quantize_q4_K(dst, src, n); break;
    case CK_Q5_K: ck_quantize_q5_K(dst, src, n); break;
    case CK_Q6_K: ck_quantize_q6_K(dst, src, n); break;
    case CK_IQ4_NL: ck_quantize_iq4_nl(dst, src, n); break;
    case CK_IQ4_XS: ck_quantize_iq4_xs(dst, src, n); break;
    default: break;
    }
}
