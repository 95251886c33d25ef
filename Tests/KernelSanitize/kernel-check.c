// kernel-check.c: every CKernels CPU kernel against its scalar reference, built with AddressSanitizer and
// UndefinedBehaviorSanitizer outside SwiftPM (`make test-kernels-sanitized`, part of `make test`).
//
// The kernels are the code that does pointer arithmetic on blocks, SIMD loads and OpenMP splits; the Swift side is
// bounds-checked by the language (and runs under ASan in the slower `make test-sanitize`). Every buffer here is
// allocated at its exact size, so ASan's redzone starts at the first byte past the end: a kernel that reads one
// float or one block too far stops the run. Each case runs at every SIMD level this CPU has (scalar, AVX2,
// AVX-512) and on 1, 2 and 3 threads (3 > cores: uneven splits), on odd shapes (T and N not multiples of the 4x4
// tiles, several blocks per row, the tail of the K-quants' super-blocks). Results must also agree with the
// references (ref/*.c, exact dequantization in double), so a kernel that computes nonsense fails too:
// the tolerance is relative to the largest reference value, and for the products to each output's sum of
// |x_k w_k| (the activations are quantized to 8 bits for the quantized formats, as llama.cpp does, so one output's
// error scales with its terms, not with the result, which may cancel to near zero).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckernels.h"

static int failures = 0, cases = 0;
static uint64_t rng = 0x243F6A8885A308D3ull;

static float frand(void) {  // xorshift64, uniform in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

// Exactly `bytes` (ASan's redzone right after), 64-byte aligned as the loader's buffers are.
static void *exact(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) {
        fprintf(stderr, "kernel-check: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static float *randoms(int64_t n) {
    float *x = exact((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = frand();
    return x;
}

static void expect_close(const char *what, const float *got, const float *want, int64_t n, double tolerance) {
    double scale = 1e-6, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)want[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    cases++;
    if (!(worst <= tolerance * scale)) {
        failures++;
        fprintf(stderr, "FAIL %s: max |error| %.3g > %.3g x max |reference| %.3g\n", what, worst, tolerance, scale);
    }
}

// |got - want| <= tolerance * bound[i] for each output i, bound[i] = sum over k of |x_k w_ik| (w dequantized).
static void expect_within(const char *what, const float *got, const float *want, const double *bound, int64_t n,
                          double tolerance) {
    int64_t worst = 0;
    double worst_ratio = 0;
    for (int64_t i = 0; i < n; i++) {
        const double ratio = fabs((double)got[i] - (double)want[i]) / (bound[i] + 1e-6);
        if (isnan(ratio) || ratio > worst_ratio) worst = i, worst_ratio = isnan(ratio) ? INFINITY : ratio;
    }
    cases++;
    if (!(worst_ratio <= tolerance)) {
        failures++;
        fprintf(stderr, "FAIL %s: output %lld is %.6g, reference %.6g: error %.3g x sum |x w| > %.3g\n", what,
                (long long)worst, got[worst], want[worst], worst_ratio, tolerance);
    }
}

// bound (T, N) = sum over k of |x[t,k] * w[n,k]|, w (N rows of rb bytes) dequantized.
static double *term_sums(int fmt, const float *x, const void *w, size_t rb, int64_t T, int64_t K, int64_t N) {
    double *bound = exact((size_t)(T * N) * sizeof(double));
    float *row = exact((size_t)K * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        ck_dequantize_row(fmt, row, (const char *)w + (size_t)n * rb, K);
        for (int64_t t = 0; t < T; t++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += fabs((double)x[t * K + k] * (double)row[k]);
            bound[t * N + n] = s;
        }
    }
    free(row);
    return bound;
}

// N rows of K weights in fmt (rb bytes each) from master (N, K), quantized the standard way (every format has a
// quantizer).
static void fill_weights(int fmt, void *w, const float *master, size_t rb, int64_t N, int64_t K) {
    for (int64_t n = 0; n < N; n++) ck_quantize_row(fmt, (char *)w + (size_t)n * rb, master + n * K, K);
}

static void check_matmul(int fmt, const char *name, int64_t T, int64_t K, int64_t N, int threads) {
    const size_t rb = ck_row_bytes(fmt, K);
    if (rb == 0) return;
    float *master = randoms(N * K), *x = randoms(T * K);
    void *w = exact(rb * (size_t)N);
    fill_weights(fmt, w, master, rb, N, K);
    float *want = exact((size_t)(T * N) * sizeof(float)), *got = exact((size_t)(T * N) * sizeof(float));
    ck_ref_matmul(fmt, want, x, w, T, K, N);
    const size_t sb = ck_matmul_scratch_bytes(fmt, T, K);
    void *scratch = sb ? exact(sb) : NULL;
    ck_matmul(fmt, got, x, w, T, K, N, threads, scratch);
    char what[160];
    snprintf(what, sizeof what, "matmul %s T=%lld K=%lld N=%lld threads=%d simd=%s", name, (long long)T,
             (long long)K, (long long)N, threads, ck_simd_name(ck_simd_level()));
    const double tolerance = sb != 0 ? 0.02 : 1e-3;
    double *bound = term_sums(fmt, x, w, rb, T, K, N);
    expect_within(what, got, want, bound, T * N, tolerance);

    // Two outputs of one input (Q/K/V-style), the second of another height.
    const int64_t N2 = N + 3;
    void *w2 = exact(rb * (size_t)N2);
    float *master2 = randoms(N2 * K);
    fill_weights(fmt, w2, master2, rb, N2, K);
    float *want2 = exact((size_t)(T * N2) * sizeof(float)), *got2 = exact((size_t)(T * N2) * sizeof(float));
    ck_ref_matmul(fmt, want2, x, w2, T, K, N2);
    float *outs[2] = {got, got2};
    const void *ws[2] = {w, w2};
    const int64_t Ns[2] = {N, N2};
    ck_matmul_multi(fmt, 2, outs, x, ws, Ns, T, K, threads, scratch);
    snprintf(what, sizeof what, "matmul_multi %s T=%lld K=%lld threads=%d simd=%s", name, (long long)T,
             (long long)K, threads, ck_simd_name(ck_simd_level()));
    double *bound2 = term_sums(fmt, x, w2, rb, T, K, N2);
    expect_within(what, got, want, bound, T * N, tolerance);
    expect_within(what, got2, want2, bound2, T * N2, tolerance);

    // Embedding rows of the same table (every format the kernels multiply with can also be looked up).
    int32_t *tokens = exact((size_t)T * sizeof(int32_t));
    for (int64_t t = 0; t < T; t++) tokens[t] = (int32_t)((t * 7 + 3) % N);
    float *ewant = exact((size_t)(T * K) * sizeof(float)), *egot = exact((size_t)(T * K) * sizeof(float));
    ck_ref_embedding(fmt, ewant, w, tokens, T, K);
    ck_embedding(fmt, egot, w, tokens, T, K, threads);
    snprintf(what, sizeof what, "embedding %s T=%lld n=%lld threads=%d", name, (long long)T, (long long)K, threads);
    expect_close(what, egot, ewant, T * K, 1e-6);

    free(master), free(x), free(w), free(want), free(got), free(scratch), free(w2), free(master2), free(want2);
    free(got2), free(tokens), free(ewant), free(egot), free(bound), free(bound2);
}

static void check_elementwise(int64_t T, int64_t n, int threads) {
    char what[96];
    float *x = randoms(T * n), *w = randoms(n), *b = randoms(n);
    float *want = exact((size_t)(T * n) * sizeof(float)), *got = exact((size_t)(T * n) * sizeof(float));
    snprintf(what, sizeof what, "rms_norm T=%lld n=%lld threads=%d", (long long)T, (long long)n, threads);
    ck_ref_rms_norm(want, x, w, T, n, 1e-5f);
    ck_rms_norm(got, x, w, T, n, 1e-5f, threads);
    expect_close(what, got, want, T * n, 1e-5);
    snprintf(what, sizeof what, "layer_norm T=%lld n=%lld threads=%d", (long long)T, (long long)n, threads);
    ck_ref_layer_norm(want, x, w, b, T, n, 1e-5f);
    ck_layer_norm(got, x, w, b, T, n, 1e-5f, threads);
    expect_close(what, got, want, T * n, 1e-5);

    const int64_t m = T * n;
    float *gate = randoms(m), *up = randoms(m), *g = exact((size_t)m * sizeof(float));
    snprintf(what, sizeof what, "swiglu n=%lld threads=%d", (long long)m, threads);
    ck_ref_swiglu(want, gate, up, m);
    ck_swiglu(got, gate, up, m, threads);
    expect_close(what, got, want, m, 1e-5);
    snprintf(what, sizeof what, "gelu n=%lld threads=%d", (long long)m, threads);
    ck_ref_gelu(want, gate, m);
    ck_gelu(got, gate, m, threads);
    expect_close(what, got, want, m, 1e-5);
    snprintf(what, sizeof what, "geglu n=%lld threads=%d", (long long)m, threads);
    ck_ref_gelu(g, gate, m);
    for (int64_t i = 0; i < m; i++) want[i] = g[i] * up[i];
    ck_geglu(got, gate, up, m, threads);
    expect_close(what, got, want, m, 1e-5);
    snprintf(what, sizeof what, "scale/add/add_bias n=%lld threads=%d", (long long)m, threads);
    for (int64_t i = 0; i < m; i++) want[i] = (gate[i] * 1.5f + up[i]) + b[i % n];
    memcpy(got, gate, (size_t)m * sizeof(float));
    ck_scale(got, 1.5f, m, threads);
    ck_add(got, got, up, m, threads);  // out aliases a
    ck_add_bias(got, b, T, n, threads);
    expect_close(what, got, want, m, 1e-6);
    free(x), free(w), free(b), free(want), free(got), free(gate), free(up), free(g);
}

static void check_rope(int64_t T, int64_t nh, int64_t hd, int neox, int factors, int threads) {
    char what[96];
    float *x = randoms(T * nh * hd), *want = exact((size_t)(T * nh * hd) * sizeof(float));
    float *ff = NULL;
    if (factors) {
        ff = exact((size_t)(hd / 2) * sizeof(float));
        for (int64_t i = 0; i < hd / 2; i++) ff[i] = 1.0f + (float)i;
    }
    memcpy(want, x, (size_t)(T * nh * hd) * sizeof(float));
    ck_ref_rope(want, T, 17, nh, hd, 10000.0f, ff, neox);
    ck_rope(x, T, 17, nh, hd, 10000.0f, ff, neox, threads);
    snprintf(what, sizeof what, "rope T=%lld nh=%lld hd=%lld neox=%d factors=%d threads=%d", (long long)T,
             (long long)nh, (long long)hd, neox, factors, threads);
    expect_close(what, x, want, T * nh * hd, 1e-5);
    free(x), free(want), free(ff);
}

// ck_rope_positions: rows of several sequences (positions out of order, repeated) against ck_ref_rope per row.
static void check_rope_positions(int64_t nh, int64_t hd, int neox, int threads) {
    enum { T = 6 };
    const int32_t positions[T] = {0, 300, 17, 18, 5, 300};
    char what[160];
    float *x = randoms(T * nh * hd), *want = exact((size_t)(T * nh * hd) * sizeof(float));
    memcpy(want, x, (size_t)(T * nh * hd) * sizeof(float));
    for (int t = 0; t < T; t++) ck_ref_rope(want + t * nh * hd, 1, positions[t], nh, hd, 10000.0f, NULL, neox);
    ck_rope_positions(x, T, positions, nh, hd, 10000.0f, NULL, neox, threads);
    snprintf(what, sizeof what, "rope positions nh=%lld hd=%lld neox=%d threads=%d", (long long)nh, (long long)hd, neox,
             threads);
    expect_close(what, x, want, T * nh * hd, 1e-5);
    free(x), free(want);
}

static void check_attention(int64_t T, int64_t start, int64_t nh, int64_t nkv, int64_t hd, int64_t window,
                            int threads) {
    char what[160];
    const int64_t L = start + T;
    float *q = randoms(T * nh * hd), *k = randoms(L * nkv * hd), *v = randoms(L * nkv * hd);
    uint16_t *k16 = exact((size_t)(L * nkv * hd) * 2), *v16 = exact((size_t)(L * nkv * hd) * 2);
    ck_convert_f32_to_f16(k16, k, L * nkv * hd, threads);
    ck_convert_f32_to_f16(v16, v, L * nkv * hd, threads);
    for (int64_t i = 0; i < L * nkv * hd; i++) {  // the reference sees exactly the half-precision cache
        k[i] = ck_fp16_to_fp32(k16[i]);
        v[i] = ck_fp16_to_fp32(v16[i]);
    }
    const float scale = 1.0f / sqrtf((float)hd);
    float *want = exact((size_t)(T * nh * hd) * sizeof(float)), *got = exact((size_t)(T * nh * hd) * sizeof(float));
    ck_ref_attention(want, q, k, v, T, start, nh, nkv, hd, scale, window);
    for (int variant = 0; variant < 4; variant++) {
        const int fused = variant & 1, half = variant >> 1;
        size_t sb;
        if (fused)
            sb = half ? ck_attention_fused_f16kv_scratch_bytes(T, start, nh, hd, threads)
                      : ck_attention_fused_scratch_bytes(T, start, nh, hd, threads);
        else
            sb = half ? ck_attention_naive_f16kv_scratch_bytes(T, start, nh)
                      : ck_attention_naive_scratch_bytes(T, start, nh);
        void *scratch = exact(sb);
        if (fused && half) ck_attention_fused_f16kv(got, q, k16, v16, T, start, nh, nkv, hd, scale, window, 0, threads, scratch);
        if (fused && !half) ck_attention_fused(got, q, k, v, T, start, nh, nkv, hd, scale, window, 0, threads, scratch);
        if (!fused && half) ck_attention_naive_f16kv(got, q, k16, v16, T, start, nh, nkv, hd, scale, window, 0, threads, scratch);
        if (!fused && !half) ck_attention_naive(got, q, k, v, T, start, nh, nkv, hd, scale, window, 0, threads, scratch);
        snprintf(what, sizeof what, "attention %s%s T=%lld start=%lld heads=%lld/%lld hd=%lld window=%lld threads=%d",
                 fused ? "fused" : "naive", half ? " f16kv" : "", (long long)T, (long long)start, (long long)nh,
                 (long long)nkv, (long long)hd, (long long)window, threads);
        expect_close(what, got, want, T * nh * hd, 1e-4);
        free(scratch);
    }
    free(q), free(k), free(v), free(k16), free(v16), free(want), free(got);
}

// ck_attention_fused_batch over sequences of different lengths (decode rows and prompt chunks, short and long caches,
// with a window: rings of window + T rows that have wrapped), in F32 and F16, against ck_ref_attention per sequence.
static void check_attention_batch(int64_t nh, int64_t nkv, int64_t hd, int64_t window, int threads) {
    enum { NSEQ = 5 };
    const int64_t Ts[NSEQ] = {1, 1, 7, 1, 20}, starts[NSEQ] = {0, 300, 40, 90, 100};
    char what[160];
    int64_t rows = 0;
    for (int s = 0; s < NSEQ; s++) rows += Ts[s];
    const int64_t w = nh * hd, kw = nkv * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    float *q = randoms(rows * w), *want = exact((size_t)(rows * w) * sizeof(float));
    float *got = exact((size_t)(rows * w) * sizeof(float));
    float *kf[NSEQ], *vf[NSEQ];  // each sequence's whole cache (L rows), values exactly representable in half
    void *kc[2][NSEQ], *vc[2][NSEQ];  // the caches the kernel reads: F32 and F16, rings where a window allows
    int64_t ring[NSEQ];
    for (int s = 0, row = 0; s < NSEQ; row += Ts[s], s++) {
        const int64_t L = starts[s] + Ts[s];
        ring[s] = window > 0 && window + Ts[s] < L ? window + Ts[s] : L;
        kf[s] = randoms(L * kw), vf[s] = randoms(L * kw);
        for (int64_t i = 0; i < L * kw; i++) {
            kf[s][i] = ck_fp16_to_fp32(ck_fp32_to_fp16(kf[s][i]));
            vf[s][i] = ck_fp16_to_fp32(ck_fp32_to_fp16(vf[s][i]));
        }
        for (int half = 0; half < 2; half++) {
            const size_t es = half ? 2 : 4;
            kc[half][s] = exact((size_t)(ring[s] * kw) * es), vc[half][s] = exact((size_t)(ring[s] * kw) * es);
            for (int64_t j = L - ring[s]; j < L; j++)  // position j at row j % ring
                for (int64_t i = 0; i < kw; i++) {
                    const int64_t at = (j % ring[s]) * kw + i;
                    if (half) {
                        ((uint16_t *)kc[1][s])[at] = ck_fp32_to_fp16(kf[s][j * kw + i]);
                        ((uint16_t *)vc[1][s])[at] = ck_fp32_to_fp16(vf[s][j * kw + i]);
                    } else {
                        ((float *)kc[0][s])[at] = kf[s][j * kw + i];
                        ((float *)vc[0][s])[at] = vf[s][j * kw + i];
                    }
                }
        }
        ck_ref_attention(want + row * w, q + row * w, kf[s], vf[s], Ts[s], starts[s], nh, nkv, hd, scale, window);
    }
    for (int half = 0; half < 2; half++) {
        ck_attn_seq seqs[NSEQ];
        for (int s = 0, row = 0; s < NSEQ; row += Ts[s], s++)
            seqs[s] = (ck_attn_seq){row, Ts[s], starts[s], ring[s], kc[half][s], vc[half][s]};
        void *scratch = exact(ck_attention_fused_batch_scratch_bytes(rows, NSEQ, nh, hd, half, threads));
        memset(got, 0, (size_t)(rows * w) * sizeof(float));
        ck_attention_fused_batch(got, q, seqs, NSEQ, half, nh, nkv, hd, scale, window, threads, scratch);
        snprintf(what, sizeof what, "attention batch%s of %d sequences heads=%lld/%lld hd=%lld window=%lld threads=%d",
                 half ? " f16kv" : "", NSEQ, (long long)nh, (long long)nkv, (long long)hd, (long long)window, threads);
        expect_close(what, got, want, rows * w, 1e-4);
        // two sequences only: few items, so the long cache's keys are split across threads and merged
        memset(got, 0, (size_t)(rows * w) * sizeof(float));
        ck_attention_fused_batch(got, q, seqs, 2, half, nh, nkv, hd, scale, window, threads, scratch);
        snprintf(what, sizeof what, "attention batch%s of 2 sequences heads=%lld/%lld hd=%lld window=%lld threads=%d",
                 half ? " f16kv" : "", (long long)nh, (long long)nkv, (long long)hd, (long long)window, threads);
        expect_close(what, got, want, 2 * w, 1e-4);
        free(scratch);
        for (int s = 0; s < NSEQ; s++) free(kc[half][s]), free(vc[half][s]);
    }
    for (int s = 0; s < NSEQ; s++) free(kf[s]), free(vf[s]);
    free(q), free(want), free(got);
}

int main(void) {
    const int best = ck_simd_detect();
    for (int level = 0; level <= best; level++) {
        ck_simd_set_level(level);
        for (int threads = 1; threads <= 3; threads++) {
            for (int i = 0; ck_format_at(i) != NULL; i++) {
                const ck_format_info *f = ck_format_at(i);
                if (!ck_format_supports(f->type, CK_CAN_MATMUL)) continue;
                const int64_t bs = f->block_size > 1 ? f->block_size : 32;
                // from the third on, the AVX2 panels (4+ tokens: decode batches of 5 and 9 rows, prompts of 16, 19
                // and 130 tokens, the last across two token blocks of 128), with partial 8-row panels and, at
                // panel_k, two chunks of blocks
                const int64_t panel_k = bs == 256 ? 3 * bs : 17 * bs;
                const int64_t shapes[][3] = {{1, bs, 1},  {1, 3 * bs, 9},     {2, 3 * bs, 40},   {5, 2 * bs, 7},
                                             {9, bs, 17}, {16, panel_k, 21}, {19, panel_k, 13}, {130, panel_k, 9}};
                for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                    check_matmul(f->type, f->name, shapes[s][0], shapes[s][1], shapes[s][2], threads);
            }
            check_elementwise(1, 576, threads);
            check_elementwise(3, 37, threads);
            for (int neox = 0; neox <= 1; neox++)
                for (int factors = 0; factors <= 1; factors++) {
                    check_rope(1, 9, 64, neox, factors, threads);
                    check_rope(5, 3, 32, neox, factors, threads);
                }
            for (int neox = 0; neox <= 1; neox++) check_rope_positions(9, 64, neox, threads);
            check_attention(1, 0, 4, 2, 64, 0, threads);       // first token
            check_attention(1, 300, 9, 3, 64, 0, threads);     // decode over a cache (split across threads)
            check_attention(7, 40, 4, 4, 32, 0, threads);      // prompt chunk after a prefix
            check_attention(33, 0, 2, 1, 128, 0, threads);     // prefill, tiles not full
            check_attention(1, 300, 4, 2, 64, 64, threads);    // sliding window, decode
            for (int64_t p = 15; p < 200; p += 46)               // Gemma 3's decode: short caches split in parts
                check_attention(1, p, 4, 1, 256, 512, threads); // of 16+ keys (the last may be empty), merged
            check_attention(20, 100, 4, 2, 64, 16, threads);   // sliding window, chunk
            check_attention_batch(9, 3, 64, 0, threads);       // a server's step: several sequences in one job
            check_attention_batch(4, 2, 32, 16, threads);      // the same over sliding-window rings
        }
    }
    printf("kernel-check: %d cases at SIMD levels scalar..%s, 1-3 threads: %d failed\n", cases, ck_simd_name(best),
           failures);
    return failures ? 1 : 0;
}
