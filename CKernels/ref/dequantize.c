// ref/dequantize.c: ck_dequantize_row for every format of the table: the reference dequantizers. Each computes
// element by element with the same float operations, in the same order, as gguf-py's numpy dequantizers
// (gguf/quants.py, `dequantize_blocks`), so the results are equal bit for bit (Tests/CKernelsTests/Golden holds
// blocks and results made with gguf-py). NaN and inf in fp16 scales propagate as in numpy (and llama.cpp).
// The block layouts are ggml-common.h's; the comments give each element's bits.
#include "../ck_internal.h"

// Two roundings (a product, then a sum), as numpy does: never fuse them into one FMA.
#pragma clang fp contract(off)

// MARK: - K-quant scales

/// Scale and min j (0..7) of a q4_K / q5_K super-block: 6 bits each, packed in 12 bytes
/// (bytes 0-3: low 6 bits of scales 0-3 and high 2 bits of scales 4-7; 4-7 the same for the mins;
/// 8-11: low 4 bits of scales 4-7 | low 4 bits of mins 4-7 << 4).
CK_INLINE void k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 0x3F;
        *m = s[j + 4] & 0x3F;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
        *m = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
    }
}

/// Scale k (0..15) of a q3_K super-block, offset removed: low 4 bits from bytes 0-7 (k < 8: low nibble of byte k,
/// else high nibble of byte k - 8), high 2 bits from bytes 8-11 (bits 2 * (k / 4) of byte 8 + k % 4), minus 32.
CK_INLINE int q3_scale(const uint8_t *s, int k) {
    const int lo = k < 8 ? s[k] & 0x0F : s[k - 8] >> 4;
    const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
    return (lo | hi << 4) - 32;
}

// MARK: - Blocks

static void block_q5_0(float *y, const ck_block_q5_0 *b) {
    const float d = ck_fp16_to_fp32(b->d);
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    for (int j = 0; j < CK_QK; j++) {
        const int nib = j < 16 ? b->qs[j] & 0x0F : b->qs[j - 16] >> 4;
        y[j] = d * (float)((nib | (int)((qh >> j) & 1) << 4) - 16);
    }
}

static void block_q5_1(float *y, const ck_block_q5_1 *b) {
    const float d = ck_fp16_to_fp32(b->d), m = ck_fp16_to_fp32(b->m);
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    for (int j = 0; j < CK_QK; j++) {
        const int nib = j < 16 ? b->qs[j] & 0x0F : b->qs[j - 16] >> 4;
        y[j] = d * (float)(nib | (int)((qh >> j) & 1) << 4) + m;
    }
}

static void block_q2_K(float *y, const ck_block_q2_K *b) {
    // element e = 128 g + 32 s + l: bits 2s of qs[32 g + l]; scale and min e / 16
    const float d = ck_fp16_to_fp32(b->d), dmin = ck_fp16_to_fp32(b->dmin);
    for (int e = 0; e < CK_QK_K; e++) {
        const int g = e / 128, s = (e / 32) % 4, l = e % 32;
        const int q = (b->qs[32 * g + l] >> (2 * s)) & 3;
        const float dl = d * (float)(b->scales[e / 16] & 0x0F), ml = dmin * (float)(b->scales[e / 16] >> 4);
        y[e] = dl * (float)q - ml;
    }
}

static void block_q3_K(float *y, const ck_block_q3_K *b) {
    // element e = 128 g + 32 s + l: low bits 2s of qs[32 g + l], high bit e / 32 of hmask[l] (clear: minus 4)
    const float d = ck_fp16_to_fp32(b->d);
    for (int e = 0; e < CK_QK_K; e++) {
        const int g = e / 128, s = (e / 32) % 4, l = e % 32;
        const int lo = (b->qs[32 * g + l] >> (2 * s)) & 3;
        const int hi = (b->hmask[l] >> (e / 32)) & 1;
        const float dl = d * (float)q3_scale(b->scales, e / 16);
        y[e] = dl * (float)(lo - (hi ? 0 : 4));
    }
}

static void block_q4_K(float *y, const ck_block_q4_K *b) {
    // element e = 64 g + 32 s + l: nibble s of qs[32 g + l]; scale and min e / 32
    const float d = ck_fp16_to_fp32(b->d), dmin = ck_fp16_to_fp32(b->dmin);
    for (int e = 0; e < CK_QK_K; e++) {
        const int g = e / 64, s = (e / 32) % 2, l = e % 32;
        int sc, m;
        k_scale_min(b->scales, e / 32, &sc, &m);
        const int q = (b->qs[32 * g + l] >> (4 * s)) & 0x0F;
        const float dl = d * (float)sc, ml = dmin * (float)m;
        y[e] = dl * (float)q - ml;
    }
}

static void block_q5_K(float *y, const ck_block_q5_K *b) {
    // as q4_K, plus the fifth bit e / 32 of qh[e % 32]
    const float d = ck_fp16_to_fp32(b->d), dmin = ck_fp16_to_fp32(b->dmin);
    for (int e = 0; e < CK_QK_K; e++) {
        const int g = e / 64, s = (e / 32) % 2, l = e % 32;
        int sc, m;
        k_scale_min(b->scales, e / 32, &sc, &m);
        const int q = ((b->qs[32 * g + l] >> (4 * s)) & 0x0F) | ((b->qh[l] >> (e / 32)) & 1) << 4;
        const float dl = d * (float)sc, ml = dmin * (float)m;
        y[e] = dl * (float)q - ml;
    }
}

static void block_q6_K(float *y, const ck_block_q6_K *b) {
    // element e = 128 g + 32 s + l (s = 0..3): low nibble (s & 1) of ql[64 g + 32 (s / 2) + l], high bits 2s of
    // qh[32 g + l]; q - 32 times the int8 scale e / 16
    const float d = ck_fp16_to_fp32(b->d);
    for (int e = 0; e < CK_QK_K; e++) {
        const int g = e / 128, s = (e / 32) % 4, l = e % 32;
        const int lo = (b->ql[64 * g + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0x0F;
        const int hi = (b->qh[32 * g + l] >> (2 * s)) & 3;
        const float dl = d * (float)b->scales[e / 16];
        y[e] = dl * (float)((lo | hi << 4) - 32);
    }
}

static void block_iq4_nl(float *y, const ck_block_iq4_nl *b) {
    // element j: nibble of qs[j % 16] (low for j < 16) selects one of the 16 table values
    const float d = ck_fp16_to_fp32(b->d);
    for (int j = 0; j < CK_QK; j++) {
        const int nib = j < 16 ? b->qs[j] & 0x0F : b->qs[j - 16] >> 4;
        y[j] = d * (float)ck_iq4_values[nib];
    }
}

static void block_iq4_xs(float *y, const ck_block_iq4_xs *b) {
    // element e = 32 s + l: nibble of qs[16 s + l % 16] (low for l < 16); sub-block s has the 6-bit scale
    // (nibble s % 2 of scales_l[s / 2]) | (bits 2s of scales_h) << 4, stored with an offset of 32
    const float d = ck_fp16_to_fp32(b->d);
    for (int s = 0; s < CK_QK_K / 32; s++) {
        const int sc = (((b->scales_l[s / 2] >> (4 * (s % 2))) & 0x0F) | ((b->scales_h >> (2 * s)) & 3) << 4) - 32;
        const float dl = d * (float)sc;
        for (int l = 0; l < 32; l++) {
            const uint8_t q = b->qs[16 * s + l % 16];
            y[32 * s + l] = dl * (float)ck_iq4_values[l < 16 ? q & 0x0F : q >> 4];
        }
    }
}

// MARK: - Rows

void ck_dequantize_row(int fmt, float *dst, const void *src, int64_t n) {
    const int bs = ck__block_size(fmt), bytes = ck__block_bytes(fmt);
    const uint8_t *p = src;
    switch (fmt) {
    case CK_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return;
    case CK_F16:
    case CK_BF16: {
        const uint8_t *h = src;
        for (int64_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, h + 2 * i, 2);
            dst[i] = fmt == CK_F16 ? ck_fp16_to_fp32(v) : ck_bf16_to_fp32(v);
        }
        return;
    }
    default: break;
    }
    if (bs == 0) return;
    for (int64_t i = 0; i < n / bs; i++, dst += bs, p += bytes) {
        switch (fmt) {
        case CK_Q4_0: {
            const ck_block_q4_0 *b = (const ck_block_q4_0 *)p;
            const float d = ck_fp16_to_fp32(b->d);
            for (int j = 0; j < CK_QK / 2; j++) {
                dst[j] = d * (float)((b->qs[j] & 0x0F) - 8);
                dst[j + CK_QK / 2] = d * (float)((b->qs[j] >> 4) - 8);
            }
            break;
        }
        case CK_Q4_1: {
            const ck_block_q4_1 *b = (const ck_block_q4_1 *)p;
            const float d = ck_fp16_to_fp32(b->d), m = ck_fp16_to_fp32(b->m);
            for (int j = 0; j < CK_QK / 2; j++) {
                dst[j] = d * (float)(b->qs[j] & 0x0F) + m;
                dst[j + CK_QK / 2] = d * (float)(b->qs[j] >> 4) + m;
            }
            break;
        }
        case CK_Q8_0: {
            const ck_block_q8_0 *b = (const ck_block_q8_0 *)p;
            const float d = ck_fp16_to_fp32(b->d);
            for (int j = 0; j < CK_QK; j++) dst[j] = (float)b->qs[j] * d;
            break;
        }
        case CK_Q5_0: block_q5_0(dst, (const ck_block_q5_0 *)p); break;
        case CK_Q5_1: block_q5_1(dst, (const ck_block_q5_1 *)p); break;
        case CK_Q2_K: block_q2_K(dst, (const ck_block_q2_K *)p); break;
        case CK_Q3_K: block_q3_K(dst, (const ck_block_q3_K *)p); break;
        case CK_Q4_K: block_q4_K(dst, (const ck_block_q4_K *)p); break;
        case CK_Q5_K: block_q5_K(dst, (const ck_block_q5_K *)p); break;
        case CK_Q6_K: block_q6_K(dst, (const ck_block_q6_K *)p); break;
        case CK_IQ4_NL: block_iq4_nl(dst, (const ck_block_iq4_nl *)p); break;
        case CK_IQ4_XS: block_iq4_xs(dst, (const ck_block_iq4_xs *)p); break;
        default: return;
        }
    }
}
