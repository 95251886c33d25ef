// cpu/levels.h: compiles one portable kernel body three times (portable, AVX2, AVX-512) and picks one by
// ck_simd_level(). The body is plain C over ck_v8f vectors (ck_internal.h), so the compiler maps it onto ymm for
// the two x86 levels and onto SSE (or NEON) pairs for the portable one; the integer-heavy matmul kernels are
// written with intrinsics instead (matmul_avx2.c, matmul_avx512.c).
//
// CK_LEVELS(name, (params), (args)) expects `CK_INLINE void name##_body params` and defines
// name##_scalar, name##_avx2, name##_avx512 and `name##_pick()`, which returns the one for the current level.
#ifndef CK_LEVELS_H
#define CK_LEVELS_H

#include "../ck_internal.h"

#if CK_X86
#define CK_LEVELS(name, params, args)                                                                              \
    static void name##_scalar params { name##_body args; }                                                        \
    static CK_TARGET_AVX2 void name##_avx2 params { name##_body args; }                                           \
    static CK_TARGET_AVX512 void name##_avx512 params { name##_body args; }                                       \
    typedef void(*name##_fn) params;                                                                               \
    static name##_fn name##_pick(void) {                                                                           \
        const int level = ck_simd_level();                                                                         \
        return level >= CK_SIMD_AVX512 ? name##_avx512 : level >= CK_SIMD_AVX2 ? name##_avx2 : name##_scalar;     \
    }
#else
#define CK_LEVELS(name, params, args)                                                                              \
    static void name##_scalar params { name##_body args; }                                                        \
    typedef void(*name##_fn) params;                                                                               \
    static name##_fn name##_pick(void) { return name##_scalar; }
#endif

#endif
