// ckernels-bench.c: micro-benchmark of the CKernels CPU kernels on SmolLM2-135M's shapes, outside SwiftPM.
// Decode matmuls report GB/s of weights streamed (cold: the weights rotate over >= 256 MB of copies, so they come
// from DRAM as in a real decode step); prefill matmuls and attention report GFLOP/s (2 per multiply-add); the model
// pass runs SmolLM2's 30 layers of matmuls (plus the Q8_0 output layer for decode) on distinct weights.
// Every figure is the best of repeated runs (least disturbed by other processes on a shared machine).
//
// Build and run from the repository root (libomp from Debian's libomp-dev; any LLVM version's omp.h works):
//   OMP_INC=$(dirname $(ls /usr/lib/llvm-*/lib/clang/*/include/omp.h | tail -1))
//   OMP_LIB=$(dirname $(ls /usr/lib/llvm-*/lib/libomp.so | tail -1))
//   clang -O3 -ffp-contract=fast -fno-math-errno -fopenmp -I$OMP_INC -ICKernels/include CKernels/*.c \
//     CKernels/ref/*.c CKernels/cpu/*.c Benchmarks/ckernels-bench.c -o /tmp/ckernels-bench \
//     -L$OMP_LIB -Wl,-rpath,$OMP_LIB -lomp -lm
//   /tmp/ckernels-bench [threads (2)] [simd level: 0 scalar, 1 avx2, 2 avx512 (best)] [prefill | batch [DOWN OTHER]]
// `batch q4_K q5_0` and `batch q6_K q8_0` run the model pass with the variant files' mixes (the FFN down projection in
// the K-quant, the other matrices in OTHER: SmolLM2's other rows of 576 are not a multiple of 256); default q4_1 q4_1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) {  // xorshift64, uniform in [-1, 1)
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void *alloc(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

// n rows of k quantized random weights, repeated `copies` times back to back.
static char *weights(int fmt, int64_t k, int64_t n, int copies) {
    const size_t rb = ck_row_bytes(fmt, k), bytes = rb * (size_t)n;
    char *w = alloc(bytes * (size_t)copies);
    float *row = malloc((size_t)k * sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        for (int64_t i = 0; i < k; i++) row[i] = frand();
        ck_quantize_row(fmt, w + (size_t)r * rb, row, k);
    }
    for (int c = 1; c < copies; c++) memcpy(w + (size_t)c * bytes, w, bytes);
    free(row);
    return w;
}

static const char *fmt_name(int fmt) { return ck_format_find(fmt) ? ck_format_find(fmt)->name : "?"; }

// The format called `name` (ckernels.h's table), or -1.
static int fmt_named(const char *name) {
    for (int i = 0; ck_format_at(i) != NULL; i++)
        if (strcmp(ck_format_at(i)->name, name) == 0) return ck_format_at(i)->type;
    return -1;
}

// out (T, N) = x (T, K) · w (N, K)ᵀ; decode (T = 1) on cold weights -> GB/s, else GFLOP/s.
static void bench_matmul(int fmt, int64_t K, int64_t N, int64_t T, int nt) {
    const size_t bytes = ck_row_bytes(fmt, K) * (size_t)N;
    const int copies = T == 1 ? (int)(256e6 / (double)bytes) + 1 : 1;
    char *w = weights(fmt, K, N, copies);
    float *x = alloc((size_t)(T * K) * sizeof(float)), *out = alloc((size_t)(T * N) * sizeof(float));
    for (int64_t i = 0; i < T * K; i++) x[i] = frand();
    void *scratch = alloc(ck_matmul_scratch_bytes(fmt, T, K) + 64);
    double best = 1e30, start = now();
    for (int rep = 0; now() - start < 1.0 || rep < 5; rep++) {
        const double t0 = now();
        ck_matmul(fmt, out, x, w + (size_t)(rep % copies) * bytes, T, K, N, nt, scratch);
        const double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    if (T == 1)
        printf("matmul  %-4s K=%-5lld N=%-6lld T=%-4lld %8.1f us  %6.1f GB/s (weights, cold)\n", fmt_name(fmt),
               (long long)K, (long long)N, (long long)T, best * 1e6, (double)bytes / best / 1e9);
    else
        printf("matmul  %-4s K=%-5lld N=%-6lld T=%-4lld %8.1f us  %6.1f GFLOP/s\n", fmt_name(fmt), (long long)K,
               (long long)N, (long long)T, best * 1e6, 2.0 * (double)(T * K * N) / best / 1e9);
    free(w);
    free(x);
    free(out);
    free(scratch);
}

// SmolLM2-135M: 30 layers of q (576->576), k, v (576->192), o (576->576), gate, up (576->1536), down (1536->576)
// in `other` (down in `down`); decode adds the Q8_0 output layer (576->49152), prefill skips it (llama.cpp computes the
// last row only).
static void bench_model(int64_t T, int nt, int down, int other) {
    enum { LAYERS = 30, PER_LAYER = 7 };
    static const int64_t shapes[PER_LAYER][2] = {{576, 576},  {576, 192},  {576, 192}, {576, 576},
                                                 {576, 1536}, {576, 1536}, {1536, 576}};
    char *w[LAYERS * PER_LAYER + 1];
    for (int i = 0; i < LAYERS * PER_LAYER; i++)
        w[i] = weights(i % PER_LAYER == PER_LAYER - 1 ? down : other, shapes[i % PER_LAYER][0],
                       shapes[i % PER_LAYER][1], 1);
    w[LAYERS * PER_LAYER] = weights(CK_Q8_0, 576, 49152, 1);
    const int count = T <= 16 ? LAYERS * PER_LAYER + 1 : LAYERS * PER_LAYER;  // decode (batches) need every logit
    float *x = alloc((size_t)(T * 1536) * sizeof(float)), *out = alloc((size_t)(T * 49152) * sizeof(float));
    for (int64_t i = 0; i < T * 1536; i++) x[i] = frand();
    size_t sb = 0;  // the largest scratch of the three formats
    for (int f = 0; f < 3; f++) {
        const size_t b = ck_matmul_scratch_bytes(f == 0 ? down : f == 1 ? other : CK_Q8_0, T, 1536);
        sb = b > sb ? b : sb;
    }
    void *scratch = alloc(sb + 64);
    double best = 1e30, bytes = 0, flops = 0;
    for (int i = 0; i < count; i++) {
        const int last = i == LAYERS * PER_LAYER;
        const int64_t K = last ? 576 : shapes[i % PER_LAYER][0], N = last ? 49152 : shapes[i % PER_LAYER][1];
        const int fmt = last ? CK_Q8_0 : i % PER_LAYER == PER_LAYER - 1 ? down : other;
        bytes += (double)ck_row_bytes(fmt, K) * (double)N;
        flops += 2.0 * (double)(T * K * N);
    }
    for (int rep = 0; rep < (T <= 16 ? 30 : 3); rep++) {
        const double t0 = now();
        for (int i = 0; i < count; i++) {
            const int last = i == LAYERS * PER_LAYER;
            const int64_t K = last ? 576 : shapes[i % PER_LAYER][0], N = last ? 49152 : shapes[i % PER_LAYER][1];
            const int fmt = last ? CK_Q8_0 : i % PER_LAYER == PER_LAYER - 1 ? down : other;
            ck_matmul(fmt, out, x, w[i], T, K, N, nt, scratch);
        }
        const double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    printf("model   %s/%s %d matmuls T=%-4lld %8.3f ms  %6.1f GB/s  %6.1f GFLOP/s  %7.1f tokens/s (matmuls only)\n", fmt_name(down),
           fmt_name(other), count,
           (long long)T, best * 1e3, bytes / best / 1e9, flops / best / 1e9, (double)T / best);
    for (int i = 0; i < LAYERS * PER_LAYER + 1; i++) free(w[i]);
    free(x);
    free(out);
    free(scratch);
}

// One layer of SmolLM2 attention (9 query heads over 3 KV heads of 64), fused or naive.
static void bench_attention(int64_t T, int64_t start_pos, int fused, int nt) {
    const int64_t nh = 9, nkv = 3, hd = 64, nk = start_pos + T;
    float *q = alloc((size_t)(T * nh * hd) * sizeof(float)), *out = alloc((size_t)(T * nh * hd) * sizeof(float));
    float *k = alloc((size_t)(nk * nkv * hd) * sizeof(float)), *v = alloc((size_t)(nk * nkv * hd) * sizeof(float));
    for (int64_t i = 0; i < T * nh * hd; i++) q[i] = frand();
    for (int64_t i = 0; i < nk * nkv * hd; i++) {
        k[i] = frand();
        v[i] = frand();
    }
    const size_t sb = fused ? ck_attention_fused_scratch_bytes(T, start_pos, nh, hd, nt)
                            : ck_attention_naive_scratch_bytes(T, start_pos, nh);
    void *scratch = alloc(sb);
    double best = 1e30, start = now();
    for (int rep = 0; now() - start < 1.0 || rep < 3; rep++) {
        const double t0 = now();
        if (fused)
            ck_attention_fused(out, q, k, v, T, start_pos, nh, nkv, hd, 0.125f, 0, 0, nt, scratch);
        else
            ck_attention_naive(out, q, k, v, T, start_pos, nh, nkv, hd, 0.125f, 0, 0, nt, scratch);
        const double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    const double flops = 4.0 * (double)(nh * hd * T) * ((double)start_pos + (double)(T + 1) / 2);
    printf("attn    %-5s T=%-4lld start=%-5lld %8.1f us  %6.1f GFLOP/s  scratch %zu bytes\n",
           fused ? "fused" : "naive", (long long)T, (long long)start_pos, best * 1e6, flops / best / 1e9, sb);
    free(q);
    free(out);
    free(k);
    free(v);
    free(scratch);
}

int main(int argc, char **argv) {
    const int nt = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2) ck_simd_set_level(atoi(argv[2]));
    printf("ckernels-bench: %d threads, SIMD level %s\n", nt, ck_simd_name(ck_simd_level()));
    if (argc > 3 && strcmp(argv[3], "prefill") == 0) {  // prefill products per format (the variant files' formats)
        static const int fmts[] = {CK_Q4_0, CK_Q4_1, CK_Q5_0, CK_Q8_0, CK_Q4_K, CK_Q6_K};
        for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
            if (fmts[i] != CK_Q4_K && fmts[i] != CK_Q6_K) bench_matmul(fmts[i], 576, 1536, 512, nt);
            bench_matmul(fmts[i], 1536, 576, 512, nt);
        }
        return 0;
    }
    if (argc > 3 && strcmp(argv[3], "batch") == 0) {  // decode batches: one row per sequence (gpt serve's steps)
        const int down = argc > 5 ? fmt_named(argv[4]) : CK_Q4_1, other = argc > 5 ? fmt_named(argv[5]) : CK_Q4_1;
        if (down < 0 || other < 0 || ck_row_bytes(down, 1536) == 0 || ck_row_bytes(other, 576) == 0) {
            fprintf(stderr, "batch DOWN OTHER: formats of ckernels.h's table, DOWN for rows of 1536, OTHER of 576\n");
            return 1;
        }
        static const int64_t rows[] = {1, 2, 4, 8, 16};
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) bench_model(rows[i], nt, down, other);
        return 0;
    }
    bench_matmul(CK_Q4_1, 576, 1536, 1, nt);
    bench_matmul(CK_Q4_1, 1536, 576, 1, nt);
    bench_matmul(CK_Q8_0, 576, 49152, 1, nt);
    bench_matmul(CK_Q4_1, 576, 1536, 512, nt);
    bench_matmul(CK_Q4_1, 1536, 576, 512, nt);
    bench_matmul(CK_Q8_0, 576, 1536, 512, nt);
    bench_matmul(CK_F16, 576, 1536, 512, nt);
    bench_model(1, nt, CK_Q4_1, CK_Q4_1);
    bench_model(512, nt, CK_Q4_1, CK_Q4_1);
    bench_attention(512, 0, 1, nt);
    bench_attention(512, 0, 0, nt);
    bench_attention(1, 128, 1, nt);
    bench_attention(1, 1000, 1, nt);
    bench_attention(1, 4000, 1, nt);
    bench_attention(1, 4000, 0, nt);
    return 0;
}
