// embedding.cl: out (T, n) = table[tokens[t]] dequantized. Global (n, T); one work-item per output element,
// adjacent items read adjacent elements of the row. `common.cl` is prepended.

kernel void kernel_embedding_f32(global float *out, global const uchar *table, global const int *tokens, int n) {
    int j = get_global_id(0), t = get_global_id(1);
    if (j >= n) return;
    global const float *row = (global const float *)table + (size_t)tokens[t] * n;
    out[(size_t)t * n + j] = row[j];
}

kernel void kernel_embedding_f16(global float *out, global const uchar *table, global const int *tokens, int n) {
    int j = get_global_id(0), t = get_global_id(1);
    if (j >= n) return;
    out[(size_t)t * n + j] = vload_half((size_t)tokens[t] * n + j, (global const half *)table);
}

kernel void kernel_embedding_q4_0(global float *out, global const uchar *table, global const int *tokens, int n) {
    int j = get_global_id(0), t = get_global_id(1);
    if (j >= n) return;
    out[(size_t)t * n + j] = q4_0_at(table + (size_t)tokens[t] * (n / QK) * Q4_0_BYTES, j);
}

kernel void kernel_embedding_q4_1(global float *out, global const uchar *table, global const int *tokens, int n) {
    int j = get_global_id(0), t = get_global_id(1);
    if (j >= n) return;
    out[(size_t)t * n + j] = q4_1_at(table + (size_t)tokens[t] * (n / QK) * Q4_1_BYTES, j);
}

kernel void kernel_embedding_q8_0(global float *out, global const uchar *table, global const int *tokens, int n) {
    int j = get_global_id(0), t = get_global_id(1);
    if (j >= n) return;
    out[(size_t)t * n + j] = q8_0_at(table + (size_t)tokens[t] * (n / QK) * Q8_0_BYTES, j);
}

// Formats read element by element (common.cl's <fmt>_at); ROW_BYTES(n) is the bytes of a row of n elements.
#define EMBEDDING_KERNEL(fmt, ROW_BYTES)                                                                           \
    kernel void kernel_embedding_##fmt(global float *out, global const uchar *table, global const int *tokens,   \
                                       int n) {                                                                  \
        int j = get_global_id(0), t = get_global_id(1);                                                           \
        if (j >= n) return;                                                                                       \
        out[(size_t)t * n + j] = fmt##_at(table + (size_t)tokens[t] * (ROW_BYTES), j);                            \
    }

EMBEDDING_KERNEL(bf16, n * 2)
EMBEDDING_KERNEL(q5_0, (n / QK) * Q5_0_BYTES)
EMBEDDING_KERNEL(q5_1, (n / QK) * Q5_1_BYTES)
EMBEDDING_KERNEL(q2_K, (n / QK_K) * Q2_K_BYTES)
EMBEDDING_KERNEL(q3_K, (n / QK_K) * Q3_K_BYTES)
EMBEDDING_KERNEL(q4_K, (n / QK_K) * Q4_K_BYTES)
EMBEDDING_KERNEL(q5_K, (n / QK_K) * Q5_K_BYTES)
EMBEDDING_KERNEL(q6_K, (n / QK_K) * Q6_K_BYTES)
EMBEDDING_KERNEL(iq4_nl, (n / QK) * IQ4_NL_BYTES)
EMBEDDING_KERNEL(iq4_xs, (n / QK_K) * IQ4_XS_BYTES)
