// ref/attention.c: scalar reference for causal multi-head attention with grouped KV heads: two passes over the
// keys per (query, head) (max, then exp-weighted sums), all in double. No scratch: the O(hd) accumulator is a
// variable-length array on the stack.
#include <math.h>

#include "../ck_internal.h"

void ck_ref_attention(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                      int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window) {
    // q, out (T, nh*hd); k, v (start_pos+T, nkv*hd); query t (position p = start_pos + t) sees keys 0..p, or with
    // window > 0 only the last `window` of them (p-window+1..p); head h reads kv head h / (nh / nkv).
    const int64_t group = nh / nkv, ldq = nh * hd, ldk = nkv * hd;
    double acc[hd > 0 ? hd : 1];
    for (int64_t t = 0; t < T; t++) {
        const int64_t nkeys = start_pos + t + 1;
        const int64_t first = window > 0 && nkeys > window ? nkeys - window : 0;
        for (int64_t h = 0; h < nh; h++) {
            const float *qh = q + t * ldq + h * hd;
            const float *kh = k + (h / group) * hd, *vh = v + (h / group) * hd;
            double max = -INFINITY;
            for (int64_t j = first; j < nkeys; j++) {
                double s = 0.0;
                for (int64_t d = 0; d < hd; d++) s += (double)qh[d] * kh[j * ldk + d];
                s *= scale;
                if (s > max) max = s;
            }
            double sum = 0.0;
            for (int64_t d = 0; d < hd; d++) acc[d] = 0.0;
            for (int64_t j = first; j < nkeys; j++) {
                double s = 0.0;
                for (int64_t d = 0; d < hd; d++) s += (double)qh[d] * kh[j * ldk + d];
                const double p = exp(s * scale - max);
                sum += p;
                for (int64_t d = 0; d < hd; d++) acc[d] += p * vh[j * ldk + d];
            }
            for (int64_t d = 0; d < hd; d++) out[t * ldq + h * hd + d] = (float)(acc[d] / sum);
        }
    }
}
