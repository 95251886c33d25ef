// ref/elementwise.c: scalar references for rope and the activations (SwiGLU, GELU), in double.
#include <math.h>

#include "../ck_internal.h"

void ck_ref_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base,
                 const float *freq_factors, int neox) {
    // x (T, nh*hd) in place. The angle follows llama.cpp (ggml_rope_cache_init) bit for bit: theta starts at the
    // position as a float and is multiplied in float by theta_scale = powf(base, -2/hd) once per pair, so pair i
    // gets p * theta_scale^i with llama.cpp's rounding; cos and sin of that float angle are taken in double.
    const float theta_scale = powf(freq_base, -2.0f / (float)hd);
    const int64_t half = hd / 2;
    for (int64_t t = 0; t < T; t++) {
        float theta = (float)(start_pos + t);
        for (int64_t i = 0; i < half; i++, theta *= theta_scale) {
            const float angle = freq_factors ? theta / freq_factors[i] : theta;
            const double c = cos((double)angle), s = sin((double)angle);
            for (int64_t h = 0; h < nh; h++) {
                float *xh = x + (t * nh + h) * hd;
                const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
                const double x0 = xh[i0], x1 = xh[i1];
                xh[i0] = (float)(x0 * c - x1 * s);
                xh[i1] = (float)(x0 * s + x1 * c);
            }
        }
    }
}

void ck_ref_swiglu(float *out, const float *gate, const float *up, int64_t n) {
    // out (n) = silu(gate) * up, silu(g) = g / (1 + e^-g) (in double e^-g cannot overflow for any float g)
    for (int64_t i = 0; i < n; i++) {
        const double g = gate[i];
        out[i] = (float)(g / (1.0 + exp(-g)) * (double)up[i]);
    }
}

void ck_ref_gelu(float *out, const float *x, int64_t n) {
    // out (n) = 0.5 x (1 + tanh(y)), y = sqrt(2/pi) (x + 0.044715 x^3), the tanh approximation GPT-2 uses, evaluated
    // as x / (1 + e^-2y) (the same function: 0.5 (1 + tanh y) = 1 / (1 + e^-2y)) because 1 + tanh(y) cancels for
    // y << 0 even in double (x = -7 would keep 3 digits).
    const double k = 0.79788456080286535588;  // sqrt(2/pi)
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i], y = k * (v + 0.044715 * v * v * v);
        out[i] = (float)(v / (1.0 + exp(-2.0 * y)));
    }
}
