// cpu/norm.c: RMSNorm (llama) and LayerNorm (GPT-2) over rows, sums in 8-lane float vectors (compiled per SIMD
// level, levels.h). Rows are split across threads only when there are enough of them (prefill): decode normalises
// one row of a few hundred floats, which one thread does in well under a microsecond.
#include <math.h>

#include "levels.h"

#define CK_NORM_GRAIN 16384  // elements per thread at least

CK_INLINE float sum_v8(const float *x, int64_t n, float shift, int squares) {
    // sum(x - shift) or sum((x - shift)^2) with two vector accumulators
    ck_v8f a0 = ck_v8_splat(0.0f), a1 = a0;
    const ck_v8f s = ck_v8_splat(shift);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const ck_v8f v0 = ck_v8_load(x + i) - s, v1 = ck_v8_load(x + i + 8) - s;
        a0 += squares ? v0 * v0 : v0;
        a1 += squares ? v1 * v1 : v1;
    }
    float sum = ck_v8_hsum(a0 + a1);
    for (; i < n; i++) sum += squares ? (x[i] - shift) * (x[i] - shift) : x[i] - shift;
    return sum;
}

CK_INLINE void rms_norm_body(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps) {
    // out (T, n) = x * (1 / sqrt(mean(x^2) + eps)) * w, in llama.cpp's order (scale first, weight after)
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n;
        float *o = out + t * n;
        const float scale = 1.0f / sqrtf(sum_v8(xr, n, 0.0f, 1) / (float)n + eps);
        for (int64_t i = 0; i < n; i++) o[i] = xr[i] * scale * w[i];
    }
}
CK_LEVELS(rms_norm, (float *out, const float *x, const float *w, int64_t T, int64_t n, float eps),
          (out, x, w, T, n, eps))

CK_INLINE void layer_norm_body(float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n,
                               float eps) {
    // out (T, n) = (x - mean) / sqrt(var + eps) * w + b; two passes (mean, then squares about it)
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n;
        float *o = out + t * n;
        const float mean = sum_v8(xr, n, 0.0f, 0) / (float)n;
        const float scale = 1.0f / sqrtf(sum_v8(xr, n, mean, 1) / (float)n + eps);
        for (int64_t i = 0; i < n; i++) o[i] = (xr[i] - mean) * scale * w[i] + b[i];
    }
}
CK_LEVELS(layer_norm,
          (float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n, float eps),
          (out, x, w, b, T, n, eps))

// Rows t0..t1 of either norm (rms: w; layer: w and b).
typedef struct {
    rms_norm_fn rms;
    layer_norm_fn layer;
    float *out;
    const float *x, *w, *b;
    int64_t n;
    float eps;
} norm_args;

static void norm_rows(const void *p, int64_t t0, int64_t t1) {
    const norm_args *a = (const norm_args *)p;
    if (a->rms) a->rms(a->out + t0 * a->n, a->x + t0 * a->n, a->w, t1 - t0, a->n, a->eps);
    else a->layer(a->out + t0 * a->n, a->x + t0 * a->n, a->w, a->b, t1 - t0, a->n, a->eps);
}

void ck_rms_norm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps, int nthreads) {
    // out, x (T, n); w (n). out may alias x.
    if (T <= 0 || n <= 0) return;
    const norm_args a = {rms_norm_pick(), NULL, out, x, w, NULL, n, eps};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)T * (double)n, CK_NORM_GRAIN), T, 1, norm_rows, &a);
}

void ck_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n, float eps,
                   int nthreads) {
    // out, x (T, n); w, b (n). out may alias x.
    if (T <= 0 || n <= 0) return;
    const norm_args a = {NULL, layer_norm_pick(), out, x, w, b, n, eps};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)T * (double)n, CK_NORM_GRAIN), T, 1, norm_rows, &a);
}
