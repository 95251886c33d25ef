// cpu/elementwise.c: the element-wise CPU kernels: rope, SwiGLU, GELU, add, add_bias and the embedding lookup.
// All memory bound (or nearly): contiguous ranges per thread, and one thread below CK_ELEM_GRAIN elements, where
// a fork/join on the worker pool would cost more than the work. SwiGLU and GELU use the 8-lane exp of
// ck_internal.h, compiled per SIMD level (levels.h); the rest is plain C that the compiler vectorises the same way
// at every level.
#include <math.h>

#include "levels.h"

// Elements per thread at least (about 32 KB of floats per input).
#define CK_ELEM_GRAIN 8192

// MARK: - rope

CK_INLINE void rope_row(float *xr, int64_t nh, int64_t hd, const float *cs, const float *sn, int64_t i0, int64_t i1,
                        int neox) {
    // xr (nh*hd): pairs i0..i1 of every head rotate by (cs[i - i0], sn[i - i0])
    const int64_t half = hd / 2;
    for (int64_t h = 0; h < nh; h++) {
        float *xh = xr + h * hd;
        if (neox) {
            for (int64_t i = i0; i < i1; i++) {
                const float c = cs[i - i0], s = sn[i - i0], x0 = xh[i], x1 = xh[i + half];
                xh[i] = x0 * c - x1 * s;
                xh[i + half] = x0 * s + x1 * c;
            }
        } else {
            for (int64_t i = i0; i < i1; i++) {
                const float c = cs[i - i0], s = sn[i - i0], x0 = xh[2 * i], x1 = xh[2 * i + 1];
                xh[2 * i] = x0 * c - x1 * s;
                xh[2 * i + 1] = x0 * s + x1 * c;
            }
        }
    }
}

typedef struct {
    float *x;
    int64_t start_pos, nh, hd;
    float theta_scale;
    const float *freq_factors;
    int neox;
    const int32_t *positions;  // NULL: row t is at start_pos + t
} rope_args;

static void rope_range(const void *p, int64_t t0, int64_t t1) {
    // rows t0..t1 of x (T, nh*hd)
    const rope_args *a = (const rope_args *)p;
    const int64_t half = a->hd / 2;
    for (int64_t t = t0; t < t1; t++) {
        enum { CHUNK = 128 };  // pairs whose cos / sin are cached on the stack at a time
        float cs[CHUNK], sn[CHUNK];
        float theta = (float)(a->positions ? a->positions[t] : a->start_pos + t);
        for (int64_t i0 = 0; i0 < half; i0 += CHUNK) {
            const int64_t i1 = half - i0 < CHUNK ? half : i0 + CHUNK;
            for (int64_t i = i0; i < i1; i++, theta *= a->theta_scale) {
                const float angle = a->freq_factors ? theta / a->freq_factors[i] : theta;
                cs[i - i0] = cosf(angle);
                sn[i - i0] = sinf(angle);
            }
            rope_row(a->x + t * a->nh * a->hd, a->nh, a->hd, cs, sn, i0, i1, a->neox);
        }
    }
}

// Rows t of x (T, nh*hd) at positions[t], or at start_pos + t without positions: the set-up both entry points share.
static void rope_run(float *x, int64_t T, int64_t start_pos, const int32_t *positions, int64_t nh, int64_t hd,
                     float freq_base, const float *freq_factors, int neox, int nthreads) {
    const float theta_scale = powf(freq_base, -2.0f / (float)hd);
    const rope_args args = {x, start_pos, nh, hd, theta_scale, freq_factors, neox, positions};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)T * (double)(nh * hd), CK_ELEM_GRAIN), T, 1, rope_range,
                        &args);
}

void ck_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base,
             const float *freq_factors, int neox, int nthreads) {
    // x (T, nh*hd) in place. Angles exactly as llama.cpp computes them (ggml_rope_cache_init + rope_yarn with no
    // scaling): theta = (float)p, multiplied in float by theta_scale = powf(base, -2/hd) per pair, then cosf / sinf,
    // so the rotated q and k (and the logits) match llama.cpp's to the last bit or two. With freq_factors, pair i's
    // angle is divided by freq_factors[i] before cosf / sinf, as ggml divides theta_extrap by its factor.
    if (T <= 0 || hd < 2) return;
    rope_run(x, T, start_pos, NULL, nh, hd, freq_base, freq_factors, neox, nthreads);
}

void ck_rope_positions(float *x, int64_t T, const int32_t *positions, int64_t nh, int64_t hd, float freq_base,
                       const float *freq_factors, int neox, int nthreads) {
    // ck_rope with row t at positions[t] (the rows of several sequences), the same angles
    if (T <= 0 || hd < 2 || positions == NULL) return;
    rope_run(x, T, 0, positions, nh, hd, freq_base, freq_factors, neox, nthreads);
}

// MARK: - Activations

CK_INLINE ck_v8f silu_v8(ck_v8f g) {
    // g / (1 + e^-g), written with h = e^(-|g|/2) so nothing overflows and the negative tail keeps its digits:
    // g / (1 + h^2) for g >= 0, (g h) h / (1 + h^2) below 0 (g = -89 gives -2.9e-37, where e^-89 itself would be
    // subnormal; multiplying by h twice lets the hardware produce it).
    const ck_v8f one = ck_v8_splat(1.0f), h = ck_v8_exp(ck_v8_splat(-0.5f) * __builtin_elementwise_abs(g));
    const ck_v8i neg = g < ck_v8_splat(0.0f);
    const ck_v8f f = (ck_v8f)(((ck_v8i)h & neg) | ((ck_v8i)one & ~neg));
    return g * f * f / (one + h * h);
}
CK_INLINE void swiglu_body(float *out, const float *gate, const float *up, int64_t n) {
    // out (n) = gate / (1 + exp(-gate)) * up
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) ck_v8_store(out + i, silu_v8(ck_v8_load(gate + i)) * ck_v8_load(up + i));
    if (i < n) {
        float g[8] = {0}, u[8] = {0};
        for (int64_t j = i; j < n; j++) {
            g[j - i] = gate[j];
            u[j - i] = up[j];
        }
        const ck_v8f r = silu_v8(ck_v8_load(g)) * ck_v8_load(u);
        for (int64_t j = i; j < n; j++) out[j] = r[j - i];
    }
}
CK_LEVELS(swiglu, (float *out, const float *gate, const float *up, int64_t n), (out, gate, up, n))

CK_INLINE ck_v8f gelu_v8(ck_v8f x) {
    // 0.5 x (1 + tanh(y)) = x / (1 + e^-2y): the same function without the cancellation in 1 + tanh(y) for y << 0,
    // which would lose the small negative tail (x = -5 gives -1.4e-6) to rounding.
    const ck_v8f y = ck_v8_splat(0.79788456080286535588f) * (x + ck_v8_splat(0.044715f) * x * x * x);
    return x / (ck_v8_splat(1.0f) + ck_v8_exp(ck_v8_splat(-2.0f) * y));
}
CK_INLINE void gelu_body(float *out, const float *x, int64_t n) {
    // out (n) = gelu(x), tanh approximation (GPT-2)
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) ck_v8_store(out + i, gelu_v8(ck_v8_load(x + i)));
    if (i < n) {
        float tail[8] = {0};
        for (int64_t j = i; j < n; j++) tail[j - i] = x[j];
        const ck_v8f r = gelu_v8(ck_v8_load(tail));
        for (int64_t j = i; j < n; j++) out[j] = r[j - i];
    }
}
CK_LEVELS(gelu, (float *out, const float *x, int64_t n), (out, x, n))

CK_INLINE void geglu_body(float *out, const float *gate, const float *up, int64_t n) {
    // out (n) = gelu(gate) * up (Gemma's MLP)
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) ck_v8_store(out + i, gelu_v8(ck_v8_load(gate + i)) * ck_v8_load(up + i));
    for (; i < n; i++) {
        float tail[8] = {gate[i]};
        out[i] = gelu_v8(ck_v8_load(tail))[0] * up[i];
    }
}
CK_LEVELS(geglu, (float *out, const float *gate, const float *up, int64_t n), (out, gate, up, n))

/// The arguments of an element-wise op over ranges of n: out = fn(a, b) (gated, add), out = fn(a) (gelu), or
/// out *= factor (scale; fn NULL).
typedef struct {
    void (*fn2)(float *, const float *, const float *, int64_t);
    void (*fn1)(float *, const float *, int64_t);
    float *out;
    const float *a, *b;
    float factor;
} elem_args;

static void elem_range(const void *p, int64_t lo, int64_t hi) {
    const elem_args *e = (const elem_args *)p;
    if (e->fn2) e->fn2(e->out + lo, e->a + lo, e->b + lo, hi - lo);
    else if (e->fn1) e->fn1(e->out + lo, e->a + lo, hi - lo);
    else
        for (int64_t i = lo; i < hi; i++) e->out[i] *= e->factor;
}

/// Runs e over n elements, threads splitting n in chunks of 16.
static void elementwise(const elem_args *e, int64_t n, int nthreads) {
    ck__parallel_ranges(ck__threads_for(nthreads, (double)n, CK_ELEM_GRAIN), n, 16, elem_range, e);
}

/// out (n) = fn(a, b) elementwise, threads splitting n.
static void gated(void (*fn)(float *, const float *, const float *, int64_t), float *out, const float *a,
                  const float *b, int64_t n, int nthreads) {
    const elem_args e = {fn, NULL, out, a, b, 0.0f};
    elementwise(&e, n, nthreads);
}

void ck_swiglu(float *out, const float *gate, const float *up, int64_t n, int nthreads) {
    gated(swiglu_pick(), out, gate, up, n, nthreads);  // out, gate, up (n)
}

void ck_geglu(float *out, const float *gate, const float *up, int64_t n, int nthreads) {
    gated(geglu_pick(), out, gate, up, n, nthreads);  // out, gate, up (n)
}

void ck_scale(float *x, float factor, int64_t n, int nthreads) {
    // x (n) *= factor
    const elem_args e = {NULL, NULL, x, NULL, NULL, factor};
    elementwise(&e, n, nthreads);
}

void ck_gelu(float *out, const float *x, int64_t n, int nthreads) {
    // out, x (n)
    const elem_args e = {NULL, gelu_pick(), out, x, NULL, 0.0f};
    elementwise(&e, n, nthreads);
}

// MARK: - Sums

static void add_range(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void ck_add(float *out, const float *a, const float *b, int64_t n, int nthreads) {
    // out (n) = a (n) + b (n); out may alias a or b (each element is read before it is written)
    const elem_args e = {add_range, NULL, out, a, b, 0.0f};
    elementwise(&e, n, nthreads);
}

/// Row-wise ops over ranges of rows: add_bias (x, bias, n) and embedding (x = out, table, tokens, n, fmt, row bytes).
typedef struct {
    float *x;
    const float *bias;
    const void *table;
    const int32_t *tokens;
    int64_t n;
    int fmt;
    size_t row_bytes;
} rows_args;

static void bias_rows(const void *p, int64_t t0, int64_t t1) {
    const rows_args *r = (const rows_args *)p;
    for (int64_t t = t0; t < t1; t++) {
        float *xr = r->x + t * r->n;
        for (int64_t i = 0; i < r->n; i++) xr[i] += r->bias[i];
    }
}

static void embedding_rows(const void *p, int64_t t0, int64_t t1) {
    const rows_args *r = (const rows_args *)p;
    for (int64_t t = t0; t < t1; t++)
        ck_dequantize_row(r->fmt, r->x + t * r->n, (const uint8_t *)r->table + (size_t)r->tokens[t] * r->row_bytes,
                          r->n);
}

void ck_add_bias(float *x, const float *bias, int64_t T, int64_t n, int nthreads) {
    // x (T, n) += bias (n)
    if (T <= 0 || n <= 0) return;
    const rows_args r = {x, bias, NULL, NULL, n, 0, 0};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)T * (double)n, CK_ELEM_GRAIN), T, 1, bias_rows, &r);
}

// MARK: - Embedding

void ck_embedding(int fmt, float *out, const void *table, const int32_t *tokens, int64_t T, int64_t n,
                  int nthreads) {
    // out (T, n) = rows tokens[t] of table (vocab, n) in fmt, dequantized
    const size_t row_bytes = ck_row_bytes(fmt, n);
    if (T <= 0 || row_bytes == 0) return;
    const rows_args r = {out, NULL, table, tokens, n, fmt, row_bytes};
    ck__parallel_ranges(ck__threads_for(nthreads, (double)T * (double)n, CK_ELEM_GRAIN), T, 1, embedding_rows, &r);
}
