// cpu/simd.c: which SIMD level the CPU kernels run at. Detected once with __builtin_cpu_supports (no
// -march=native anywhere: one build runs on any x86-64, and on other architectures at the portable level);
// tests lower it with ck_simd_set_level to check each path against the references.
#include "../ck_internal.h"

static int detect(void) {
#if CK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
        __builtin_cpu_supports("bmi2"))
        return CK_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
        __builtin_cpu_supports("bmi2"))
        return CK_SIMD_AVX2;
#endif
    return CK_SIMD_SCALAR;
}

// -1 until first use; relaxed atomics because kernels may be called from several threads.
static int detected = -1, current = -1;

int ck_simd_detect(void) {
    int d = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (d < 0) {
        d = detect();
        __atomic_store_n(&detected, d, __ATOMIC_RELAXED);
    }
    return d;
}

int ck_simd_level(void) {
    int level = __atomic_load_n(&current, __ATOMIC_RELAXED);
    return level < 0 ? ck_simd_detect() : level;
}

void ck_simd_set_level(int level) {
    // Clamped to what the CPU can run: asking for more than ck_simd_detect() gives ck_simd_detect().
    int best = ck_simd_detect();
    if (level < CK_SIMD_SCALAR) level = CK_SIMD_SCALAR;
    if (level > best) level = best;
    __atomic_store_n(&current, level, __ATOMIC_RELAXED);
}

const char *ck_simd_name(int level) {
    switch (level) {
    case CK_SIMD_SCALAR: return "scalar";
    case CK_SIMD_AVX2: return "avx2";
    case CK_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}

int ck_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
