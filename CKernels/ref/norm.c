// ref/norm.c: scalar references for the normalisations (RMSNorm of llama, LayerNorm of GPT-2), in double.
#include <math.h>

#include "../ck_internal.h"

void ck_ref_rms_norm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps) {
    // out (T, n) = x / sqrt(mean(x^2) + eps) * w (n)
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n;
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        const double scale = 1.0 / sqrt(ss / (double)n + (double)eps);
        for (int64_t i = 0; i < n; i++) out[t * n + i] = (float)((double)xr[i] * scale * (double)w[i]);
    }
}

void ck_ref_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n, float eps) {
    // out (T, n) = (x - mean) / sqrt(var + eps) * w (n) + b (n)
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < n; i++) mean += xr[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        const double scale = 1.0 / sqrt(var / (double)n + (double)eps);
        for (int64_t i = 0; i < n; i++)
            out[t * n + i] = (float)(((double)xr[i] - mean) * scale * (double)w[i] + (double)b[i]);
    }
}
