// cpu/matmul.c: ck_matmul, out (T, N) = x (T, K) · w (N, K)ᵀ, for every weight format. This file holds the
// dispatch (one job on the worker pool: quantize the activation rows, barrier, then each thread takes a contiguous
// range of output rows) and the portable scalar kernels; the SIMD kernels are in matmul_avx2.c and matmul_avx512.c.
//
// Quantized weights never get dequantized: the activations are quantized once per call to 8-bit blocks of 32 with
// a float scale d and the block sum s = d * sum(q) (ck_qact in ck_internal.h), then each weight block meets each
// activation block in an integer dot product:
//   q8_0: d_w * d_a * sum(w * q)
//   q4_0: d_w * (d_a * sum(nib * q) - 8 * s_a)          (nibbles are unsigned; the -8 offset folds into s_a)
//   q4_1: d_w * d_a * sum(nib * q) + m_w * s_a
//   iq4:  d_w * d_a * sum(values[nib] * q)         (iq4_xs: d_w times each 32-element sub-block's scale)
// Each SIMD level's `quantize` may order the int8 values its own way (the AVX-512 one interleaves quads of blocks
// for q4 weights); only the same level's `rows_q` reads them.
#include "../ck_internal.h"

// MARK: - Portable scalar kernels

static void quantize_scalar(const ck_qact *a, const float *x, int64_t t0, int64_t t1) {
    // x (T, K) rows t0..t1 -> a: d = absmax / 127, q = round(x / d), as ggml's quantize_row_q8_1_ref
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * a->K;
        int8_t *qs = ck__qact_qs(a, t);
        float *d = ck__qact_d(a, t), *s = ck__qact_s(a, t);
        for (int64_t b = 0; b < a->nb; b++) {
            const float *xb = xr + b * CK_QK;
            float amax = 0.0f;
            for (int j = 0; j < CK_QK; j++) {
                const float v = xb[j] < 0 ? -xb[j] : xb[j];
                amax = v > amax ? v : amax;
            }
            // blocks below 1e-30 count as zero: 1 / d would overflow to inf (and 0 * inf is NaN)
            const float db = amax >= 1e-30f ? amax / 127.0f : 0.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
            int sum = 0;
            for (int j = 0; j < CK_QK; j++) {
                const float v = xb[j] * id;
                const int q = (int)(v < 0 ? v - 0.5f : v + 0.5f);  // round half away from zero, |q| <= 127
                qs[b * CK_QK + j] = (int8_t)q;
                sum += q;
            }
            d[b] = db;
            s[b] = db * (float)sum;
        }
    }
}

// Scales of K-quant sub-blocks, as ref/dequantize.c reads them.
static void k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 0x3F;
        *m = s[j + 4] & 0x3F;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
        *m = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
    }
}
static int q3_scale(const uint8_t *s, int k) {
    const int lo = k < 8 ? s[k] & 0x0F : s[k - 8] >> 4;
    return (lo | ((s[8 + k % 4] >> (2 * (k / 4))) & 3) << 4) - 32;
}

// Element 32 c + l of a K-quant super-block with 16 sub-blocks of 16, as the integer the sub-block scale
// multiplies: q2_K its 2 bits (the min is separate), q3_K its 3 bits minus 4, q6_K its 6 bits minus 32.
// q2_K / q3_K low bits: bits 2s of qs[32 g + l] (g = c / 4, s = c % 4); q3_K high bit: bit c of hmask[l], set = no
// offset; q6_K: low nibble (s / 2) of ql[64 g + 32 (s % 2) + l], high bits 2s of qh[32 g + l].
static int k16_value(int fmt, const uint8_t *blk, int c, int l) {
    const int g = c / 4, s = c % 4;
    switch (fmt) {
    case CK_Q2_K: return (((const ck_block_q2_K *)blk)->qs[32 * g + l] >> (2 * s)) & 3;
    case CK_Q3_K: {
        const ck_block_q3_K *b = (const ck_block_q3_K *)blk;
        return ((b->qs[32 * g + l] >> (2 * s)) & 3) - (((b->hmask[l] >> c) & 1) ? 0 : 4);
    }
    default: {  // CK_Q6_K
        const ck_block_q6_K *b = (const ck_block_q6_K *)blk;
        const int lo = (b->ql[64 * g + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0x0F;
        const int hi = (b->qh[32 * g + l] >> (2 * s)) & 3;
        return (lo | hi << 4) - 32;
    }
    }
}
// The integer scale of sub-block k (0..15) of the same formats.
static int k16_scale(int fmt, const uint8_t *blk, int k) {
    switch (fmt) {
    case CK_Q2_K: return ((const ck_block_q2_K *)blk)->scales[k] & 0x0F;
    case CK_Q3_K: return q3_scale(((const ck_block_q3_K *)blk)->scales, k);
    default: return ((const ck_block_q6_K *)blk)->scales[k];  // CK_Q6_K: int8
    }
}

static float dot_block_scalar(int fmt, const uint8_t *blk, const int8_t *q, const float *da, const float *sa) {
    // One weight block against its activation blocks (32 q each, scales da[], sums sa[] = da * sum(q)).
    int isum = 0;
    switch (fmt) {
    case CK_Q4_0: {
        const ck_block_q4_0 *b = (const ck_block_q4_0 *)blk;
        for (int j = 0; j < CK_QK / 2; j++) isum += (b->qs[j] & 0x0F) * q[j] + (b->qs[j] >> 4) * q[j + CK_QK / 2];
        return ck_fp16_to_fp32(b->d) * (da[0] * (float)isum - 8.0f * sa[0]);
    }
    case CK_Q4_1: {
        const ck_block_q4_1 *b = (const ck_block_q4_1 *)blk;
        for (int j = 0; j < CK_QK / 2; j++) isum += (b->qs[j] & 0x0F) * q[j] + (b->qs[j] >> 4) * q[j + CK_QK / 2];
        return ck_fp16_to_fp32(b->d) * da[0] * (float)isum + ck_fp16_to_fp32(b->m) * sa[0];
    }
    case CK_Q5_0:
    case CK_Q5_1: {
        // q = nibble | bit j of qh << 4 (unsigned 0..31); q5_0: x = d (q - 16), q5_1: x = d q + m
        const uint8_t *qh = blk + (fmt == CK_Q5_0 ? 2 : 4), *qs = qh + 4;
        const uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
        for (int j = 0; j < CK_QK / 2; j++) {
            isum += ((qs[j] & 0x0F) | (int)((h >> j) & 1) << 4) * q[j];
            isum += ((qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4) * q[j + 16];
        }
        uint16_t d;
        memcpy(&d, blk, 2);
        if (fmt == CK_Q5_0) return ck_fp16_to_fp32(d) * (da[0] * (float)isum - 16.0f * sa[0]);
        uint16_t m;
        memcpy(&m, blk + 2, 2);
        return ck_fp16_to_fp32(d) * da[0] * (float)isum + ck_fp16_to_fp32(m) * sa[0];
    }
    case CK_Q2_K:
    case CK_Q3_K:
    case CK_Q6_K: {
        // 16 sub-blocks of 16 (two per activation block c): x = d sc v (- dmin m for q2_K), v from k16_value
        const float d = ck_fp16_to_fp32(fmt == CK_Q2_K ? ((const ck_block_q2_K *)blk)->d
                                        : fmt == CK_Q3_K ? ((const ck_block_q3_K *)blk)->d
                                                         : ((const ck_block_q6_K *)blk)->d);
        const float dmin = fmt == CK_Q2_K ? ck_fp16_to_fp32(((const ck_block_q2_K *)blk)->dmin) : 0.0f;
        float sum = 0.0f;
        for (int c = 0; c < 8; c++) {
            int sc_sum = 0, m_sum = 0;
            for (int h = 0; h < 2; h++) {
                int qs = 0, as = 0;
                for (int l = 16 * h; l < 16 * h + 16; l++) {
                    qs += k16_value(fmt, blk, c, l) * q[32 * c + l];
                    as += q[32 * c + l];
                }
                sc_sum += k16_scale(fmt, blk, 2 * c + h) * qs;
                if (fmt == CK_Q2_K) m_sum += (((const ck_block_q2_K *)blk)->scales[2 * c + h] >> 4) * as;
            }
            sum += fmt == CK_Q2_K ? da[c] * (d * (float)sc_sum - dmin * (float)m_sum) : da[c] * d * (float)sc_sum;
        }
        return sum;
    }
    case CK_Q4_K:
    case CK_Q5_K: {
        // 8 sub-blocks of 32 (one per activation block): x = d sc q - dmin m
        const ck_block_q4_K *b4 = (const ck_block_q4_K *)blk;
        const ck_block_q5_K *b5 = (const ck_block_q5_K *)blk;
        const uint8_t *scales = fmt == CK_Q4_K ? b4->scales : b5->scales;
        const uint8_t *qs = fmt == CK_Q4_K ? b4->qs : b5->qs;
        const float d = ck_fp16_to_fp32(b4->d), dmin = ck_fp16_to_fp32(b4->dmin);
        float sum = 0.0f;
        for (int c = 0; c < 8; c++) {
            const int g = c / 2, s = c % 2;
            int sc, m, acc = 0;
            k_scale_min(scales, c, &sc, &m);
            for (int l = 0; l < 32; l++) {
                int v = (qs[32 * g + l] >> (4 * s)) & 0x0F;
                if (fmt == CK_Q5_K) v |= ((b5->qh[l] >> c) & 1) << 4;
                acc += v * q[32 * c + l];
            }
            sum += d * (float)sc * da[c] * (float)acc - dmin * (float)m * sa[c];
        }
        return sum;
    }
    case CK_IQ4_NL: {
        // x = d values[nib]: the table values are the integers, d the only scale
        const ck_block_iq4_nl *b = (const ck_block_iq4_nl *)blk;
        for (int j = 0; j < CK_QK / 2; j++)
            isum += ck_iq4_values[b->qs[j] & 0x0F] * q[j] + ck_iq4_values[b->qs[j] >> 4] * q[j + CK_QK / 2];
        return ck_fp16_to_fp32(b->d) * da[0] * (float)isum;
    }
    case CK_IQ4_XS: {
        // 8 sub-blocks of 32 (one per activation block): x = d (sc - 32) values[nib]
        const ck_block_iq4_xs *b = (const ck_block_iq4_xs *)blk;
        const float d = ck_fp16_to_fp32(b->d);
        float sum = 0.0f;
        for (int c = 0; c < 8; c++) {
            const int sc = (((b->scales_l[c / 2] >> (4 * (c % 2))) & 0x0F) | ((b->scales_h >> (2 * c)) & 3) << 4) - 32;
            const uint8_t *qs = b->qs + 16 * c;
            int acc = 0;
            for (int j = 0; j < 16; j++)
                acc += ck_iq4_values[qs[j] & 0x0F] * q[32 * c + j] + ck_iq4_values[qs[j] >> 4] * q[32 * c + j + 16];
            sum += d * (float)sc * da[c] * (float)acc;
        }
        return sum;
    }
    default: {  // CK_Q8_0
        const ck_block_q8_0 *b = (const ck_block_q8_0 *)blk;
        for (int j = 0; j < CK_QK; j++) isum += b->qs[j] * q[j];
        return ck_fp16_to_fp32(b->d) * da[0] * (float)isum;
    }
    }
}

static void rows_q_scalar(int fmt, float *out, const void *w, const ck_qact *a, int64_t T, int64_t N, int64_t n0,
                          int64_t n1) {
    const int bs = ck__block_bytes(fmt), per = ck__block_size(fmt) / CK_QK;  // activation blocks per weight block
    const size_t rb = (size_t)(a->nb / per) * (size_t)bs;
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)n * rb;
        for (int64_t t = 0; t < T; t++) {
            const int8_t *q = ck__qact_qs(a, t);
            const float *d = ck__qact_d(a, t), *s = ck__qact_s(a, t);
            float sum = 0.0f;
            for (int64_t b = 0; b < a->nb; b += per)
                sum += dot_block_scalar(fmt, row + b / per * bs, q + b * CK_QK, d + b, s + b);
            out[t * N + n] = sum;
        }
    }
}

/// The i-th float of a row at any byte alignment (memcpy compiles to one load).
static inline float load_f32(const unsigned char *row, int64_t i) {
    float v;
    memcpy(&v, row + (size_t)i * sizeof(float), sizeof v);
    return v;
}

static void rows_f_scalar(int fmt, float *out, const void *w, const float *x, int64_t T, int64_t K, int64_t N,
                          int64_t n0, int64_t n1) {
    // 8 partial sums so the compiler can keep them in one vector register (no reassociation needed).
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t t = 0; t < T; t++) {
            const float *xr = x + t * K;
            float part[8] = {0};
            int64_t k = 0;
            if (fmt == CK_F32) {
                // F32 rows may start at any 2-byte offset, like the blocks of the other formats: read bytes, not floats
                const unsigned char *wr = (const unsigned char *)w + (size_t)(n * K) * sizeof(float);
                for (; k + 8 <= K; k += 8)
                    for (int i = 0; i < 8; i++) part[i] += load_f32(wr, k + i) * xr[k + i];
                for (; k < K; k++) part[0] += load_f32(wr, k) * xr[k];
            } else if (fmt == CK_F16) {
                const uint16_t *wr = (const uint16_t *)w + n * K;
                for (; k + 8 <= K; k += 8)
                    for (int i = 0; i < 8; i++) part[i] += ck_fp16_to_fp32(wr[k + i]) * xr[k + i];
                for (; k < K; k++) part[0] += ck_fp16_to_fp32(wr[k]) * xr[k];
            } else {
                const uint16_t *wr = (const uint16_t *)w + n * K;
                for (; k + 8 <= K; k += 8)
                    for (int i = 0; i < 8; i++) part[i] += ck_bf16_to_fp32(wr[k + i]) * xr[k + i];
                for (; k < K; k++) part[0] += ck_bf16_to_fp32(wr[k]) * xr[k];
            }
            out[t * N + n] = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
        }
    }
}

static int has_scalar(int fmt) { return ck_format_find(fmt) != NULL; }

const ck_matmul_impl ck__matmul_scalar = {has_scalar, quantize_scalar, rows_q_scalar, rows_f_scalar};

// MARK: - Dispatch

// The highest level at or below `level` with kernels for fmt (formats a SIMD level lacks run one level lower).
static const ck_matmul_impl *impl_for(int level, int fmt) {
#if CK_X86
    if (level >= CK_SIMD_AVX512 && ck__matmul_avx512.has(fmt)) return &ck__matmul_avx512;
    if (level >= CK_SIMD_AVX2 && ck__matmul_iq4_avx2.has(fmt)) return &ck__matmul_iq4_avx2;  // AVX-512 hosts too
    if (level >= CK_SIMD_AVX2 && ck__matmul_avx2.has(fmt)) return &ck__matmul_avx2;
#endif
    (void)level;
    return &ck__matmul_scalar;
}

size_t ck_matmul_scratch_bytes(int fmt, int64_t T, int64_t K) {
    // T rows of ck_qact (K int8 + 2 floats per block of 32, padded to 64 bytes) + 64 to align the start.
    if (!ck__is_quantized(fmt) || T <= 0 || K <= 0) return 0;
    return (size_t)T * (size_t)ck__qact_stride(K) + 64;
}

// One thread per this many multiply-adds at least: below it the fork/join (~1-2 us) costs more than it saves.
#define CK_MATMUL_GRAIN (1 << 15)

void ck_matmul(int fmt, float *out, const float *x, const void *w, int64_t T, int64_t K, int64_t N, int nthreads,
               void *scratch) {
    // out (T, N), x (T, K), w (N, K) in fmt, scratch >= ck_matmul_scratch_bytes(fmt, T, K) for quantized fmt.
    ck_matmul_multi(fmt, 1, &out, x, &w, &N, T, K, nthreads, scratch);
}

// One-row calls with at most this many matrices and threads run as an open job (see mm_run_open).
#define CK_MATMUL_OPEN_MATS 4
#define CK_MATMUL_OPEN_THREADS 8
// Weight bytes a thread takes at once in an open job: its own share from the front in CK_MATMUL_OWN_CHUNK, another
// thread's from the back in CK_MATMUL_STEAL_CHUNK (small: the end of a product evens out in a few microseconds).
#define CK_MATMUL_OWN_CHUNK 32768
#define CK_MATMUL_STEAL_CHUNK 8192

// A one-row call as an open job: matrix i's 4-row tiles start split among `parts` threads as the static split would
// split them (claim[i][t]); each thread quantizes the row for itself, takes its own tiles front to back, then takes
// the tiles the other threads have not reached from the back, so a thread that the OS deschedules (or that never
// starts: ck__parallel_open) delays nothing. Rows are computed by the same tiles as the static split (tile starts
// are multiples of 4 either way), so the values are identical.
typedef struct {
    ck_claim claim[CK_MATMUL_OPEN_MATS][CK_MATMUL_OPEN_THREADS];
    int parts;
} mm_claims;

// One call's work: every thread quantizes its share of the activation rows (or, for one row, all of it: see
// mm_run), then takes its contiguous share of every matrix in turn.
typedef struct {
    int fmt, count, quant;
    float *const *outs;
    const float *x;
    const void *const *ws;
    const int64_t *Ns;
    int64_t T, K;
    const ck_matmul_impl *impl;
    ck_qact a;
    mm_claims *claims;  // one-row calls on the open path (else NULL)
} mm_job;

// Activation bytes (ck__qact_stride) a thread quantizes for itself on its stack when the call has one row.
#define CK_MATMUL_OWN_ROW 10240

// Tiles [u0, u0 + n) of matrix i (4 rows each; the last may be shorter).
static void mm_tiles(const mm_job *j, const ck_qact *a, int i, int64_t u0, int64_t n) {
    const int64_t n0 = 4 * u0, n1 = 4 * (u0 + n) < j->Ns[i] ? 4 * (u0 + n) : j->Ns[i];
    if (j->quant)
        j->impl->rows_q(j->fmt, j->outs[i], j->ws[i], a, j->T, j->Ns[i], n0, n1);
    else
        j->impl->rows_f(j->fmt, j->outs[i], j->ws[i], j->x, j->T, j->K, j->Ns[i], n0, n1);
}

// Tiles of matrix i that make about `bytes` of weights (at least one).
static int64_t mm_chunk(const mm_job *j, int64_t bytes) {
    const int64_t tile = 4 * (int64_t)ck_row_bytes(j->fmt, j->K);
    return bytes / tile > 1 ? bytes / tile : 1;
}

static void mm_run_open(void *p, const ck_thread *th) {
    const mm_job *j = (const mm_job *)p;
    mm_claims *c = j->claims;
    ck_qact a = j->a;
    _Alignas(64) uint8_t own[CK_MATMUL_OWN_ROW];
    if (j->quant) {
        a.base = own;  // this thread's copy of the one quantized row (see mm_run)
        j->impl->quantize(&a, j->x, 0, 1);
    }
    const int64_t mine = mm_chunk(j, CK_MATMUL_OWN_CHUNK), steal = mm_chunk(j, CK_MATMUL_STEAL_CHUNK);
    int64_t u0, n;
    if (th->ith < c->parts)
        for (int i = 0; i < j->count; i++)
            while ((n = ck__claim(&c->claim[i][th->ith], mine, 0, &u0)) > 0) mm_tiles(j, &a, i, u0, n);
    for (int o = 1; o < c->parts; o++) {  // the others' shares, starting with the next thread's
        const int t = (th->ith + o) % c->parts;
        for (int i = 0; i < j->count; i++)
            while ((n = ck__claim(&c->claim[i][t], steal, 1, &u0)) > 0) mm_tiles(j, &a, i, u0, n);
    }
}

static void mm_run(void *p, const ck_thread *th) {
    const mm_job *j = (const mm_job *)p;
    ck_qact a = j->a;
    _Alignas(64) uint8_t own[CK_MATMUL_OWN_ROW];
    if (j->quant) {
        if (j->T == 1 && th->nth > 1 && a.stride <= CK_MATMUL_OWN_ROW) {
            // Decode: each thread quantizes the one row itself (a few hundred ns) instead of waiting at a barrier
            // for thread 0 to do it, so every thread starts streaming its weights at once. The values are the same.
            a.base = own;
            j->impl->quantize(&a, j->x, 0, 1);
        } else {
            int64_t t0, t1;
            ck__split_range(j->T, th->ith, th->nth, 1, &t0, &t1);
            if (t1 > t0) j->impl->quantize(&a, j->x, t0, t1);
            ck__barrier(th);
        }
    }
    // Each thread takes its contiguous share (whole 4-row tiles) of every matrix in turn, with no barrier between
    // them: each thread streams its own part of w once per token block, and the prefetches run ahead inside that
    // part. (Chunks from a shared counter, as ggml does, measured 20-40% slower for decode-sized matrices here.)
    for (int i = 0; i < j->count; i++) {
        if (j->Ns[i] <= 0) continue;
        int64_t u0, u1;
        ck__split_range((j->Ns[i] + 3) / 4, th->ith, th->nth, 1, &u0, &u1);
        if (u1 > u0) mm_tiles(j, &a, i, u0, u1 - u0);
    }
}

void ck_matmul_multi(int fmt, int count, float *const *outs, const float *x, const void *const *ws, const int64_t *Ns,
                     int64_t T, int64_t K, int nthreads, void *scratch) {
    // outs[i] (T, Ns[i]) = x (T, K) · ws[i] (Ns[i], K)ᵀ: one quantization of x and one parallel job for all.
    if (count <= 0 || T <= 0) return;
    const int quant = ck__is_quantized(fmt);
    if (!ck_format_supports(fmt, CK_CAN_MATMUL)) return;
    if (quant && (K % ck__block_size(fmt) != 0 || scratch == NULL)) return;
    mm_job j = {fmt, count, quant, outs, x, ws, Ns, T, K, impl_for(ck_simd_level(), fmt), {0}, NULL};
    if (quant) {
        j.a.base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        j.a.stride = ck__qact_stride(K);
        j.a.K = K;
        j.a.nb = K / CK_QK;
        j.a.T = T;
        j.a.fmt = fmt;
    }
    double total = 0;
    for (int i = 0; i < count; i++) total += (double)Ns[i];
    const int nt = ck__threads_for(nthreads, (double)T * (double)K * total, CK_MATMUL_GRAIN);
    if (T == 1 && nt > 1 && nt <= CK_MATMUL_OPEN_THREADS && count <= CK_MATMUL_OPEN_MATS &&
        (!quant || ck__qact_stride(K) <= CK_MATMUL_OWN_ROW)) {
        mm_claims claims;
        claims.parts = nt;
        for (int i = 0; i < count; i++)
            for (int t = 0; t < nt; t++) {
                int64_t u0, u1;
                ck__split_range((Ns[i] + 3) / 4, t, nt, 1, &u0, &u1);
                ck__claim_init(&claims.claim[i][t], u0, u1);
            }
        j.claims = &claims;
        ck__parallel_open(nt, mm_run_open, &j);
        return;
    }
    ck__parallel(nt, mm_run, &j);
}
