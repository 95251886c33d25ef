// ref/matmul.c: scalar references for the products: matmul and embedding lookup. Weights are dequantized
// exactly (ck_dequantize_row, one block (or 64 floats) at a time on the stack) and sums run in double. Slow on purpose: these are
// the oracle of the tests and of `gpt check`, never used to generate text.
#include "../ck_internal.h"

void ck_ref_matmul(int fmt, float *out, const float *x, const void *w, int64_t T, int64_t K, int64_t N) {
    // out (T, N), x (T, K), w (N, K) in fmt: out[t][n] = sum_k x[t][k] * w[n][k]
    const size_t row_bytes = ck_row_bytes(fmt, K);
    const int64_t chunk = ck__is_quantized(fmt) ? ck__block_size(fmt) : 64;  // elements dequantized at a time
    const size_t chunk_bytes = ck_row_bytes(fmt, chunk);
    float wf[CK_QK_K];
    for (int64_t t = 0; t < T; t++) {
        for (int64_t n = 0; n < N; n++) {
            const uint8_t *wrow = (const uint8_t *)w + (size_t)n * row_bytes;
            double sum = 0.0;
            for (int64_t k0 = 0; k0 < K; k0 += chunk) {
                const int64_t len = K - k0 < chunk ? K - k0 : chunk;
                ck_dequantize_row(fmt, wf, wrow + (size_t)(k0 / chunk) * chunk_bytes, len);
                for (int64_t k = 0; k < len; k++) sum += (double)x[t * K + k0 + k] * (double)wf[k];
            }
            out[t * N + n] = (float)sum;
        }
    }
}

void ck_ref_embedding(int fmt, float *out, const void *table, const int32_t *tokens, int64_t T, int64_t n) {
    // out (T, n) = table (vocab, n)[tokens[t]]
    const size_t row_bytes = ck_row_bytes(fmt, n);
    for (int64_t t = 0; t < T; t++)
        ck_dequantize_row(fmt, out + t * n, (const uint8_t *)table + (size_t)tokens[t] * row_bytes, n);
}
