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
