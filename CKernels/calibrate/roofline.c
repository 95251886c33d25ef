// roofline.c: measures this machine's ceilings for the profiler's roofline: peak FP32 FMA throughput and
// streaming read bandwidth. Not kernels of the model; they only time loops.
#include <stdint.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "ckernels.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// 16 independent FMA chains of `width` floats each keep every FMA unit busy (latency 4 x 2 ports = 8 in flight).
#define CK_CHAINS 16

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static double fma_loop_avx512(int64_t iters) {
    __m512 acc[CK_CHAINS];
    for (int c = 0; c < CK_CHAINS; c++) acc[c] = _mm512_set1_ps((float)c * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; i++)
        for (int c = 0; c < CK_CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
    float sink = 0;
    for (int c = 0; c < CK_CHAINS; c++) sink += _mm512_reduce_add_ps(acc[c]);
    return (double)iters * CK_CHAINS * 16 * 2 + (sink == 12345.0f ? 1 : 0);
}
__attribute__((target("avx2,fma"))) static double fma_loop_avx2(int64_t iters) {
    __m256 acc[CK_CHAINS];
    for (int c = 0; c < CK_CHAINS; c++) acc[c] = _mm256_set1_ps((float)c * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; i++)
        for (int c = 0; c < CK_CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    float out[8], sink = 0;
    for (int c = 0; c < CK_CHAINS; c++) {
        _mm256_storeu_ps(out, acc[c]);
        for (int j = 0; j < 8; j++) sink += out[j];
    }
    return (double)iters * CK_CHAINS * 8 * 2 + (sink == 12345.0f ? 1 : 0);
}
#endif

static double fma_loop_scalar(int64_t iters) {
    float acc[CK_CHAINS];
    for (int c = 0; c < CK_CHAINS; c++) acc[c] = (float)c * 1e-3f;
    for (int64_t i = 0; i < iters; i++)
        for (int c = 0; c < CK_CHAINS; c++) acc[c] = acc[c] * 0.999999f + 1e-7f;
    float sink = 0;
    for (int c = 0; c < CK_CHAINS; c++) sink += acc[c];
    return (double)iters * CK_CHAINS * 2 + (sink == 12345.0f ? 1 : 0);
}

double ck_calibrate_fma_gflops(int nthreads, int64_t iters) {
    int level = ck_simd_level();
    double flops = 0;
    double t0 = now_seconds();
#pragma omp parallel num_threads(nthreads) reduction(+ : flops)
    {
#if defined(__x86_64__)
        if (level >= CK_SIMD_AVX512) flops += fma_loop_avx512(iters);
        else if (level >= CK_SIMD_AVX2) flops += fma_loop_avx2(iters);
        else flops += fma_loop_scalar(iters);
#else
        (void)level;
        flops += fma_loop_scalar(iters);
#endif
    }
    return flops / (now_seconds() - t0) / 1e9;
}

double ck_calibrate_read_gbps(const void *buffer, int64_t bytes, int nthreads, int repetitions) {
    const int64_t n = bytes / (int64_t)sizeof(uint64_t);
    const uint64_t *p = (const uint64_t *)buffer;
    uint64_t sink = 0;
    double t0 = now_seconds();
    for (int r = 0; r < repetitions; r++) {
#pragma omp parallel for num_threads(nthreads) reduction(^ : sink) schedule(static)
        for (int64_t i = 0; i < n; i += 8) {
            // eight independent words a step: the loop is bound by memory, not by the xor chain
            sink ^= p[i] ^ p[i + 1] ^ p[i + 2] ^ p[i + 3] ^ p[i + 4] ^ p[i + 5] ^ p[i + 6] ^ p[i + 7];
        }
    }
    double seconds = now_seconds() - t0;
    return (double)bytes * repetitions / seconds / 1e9 + (sink == 42 ? 1e-12 : 0);
}
