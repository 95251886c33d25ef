// norm.cl: RMSNorm (llama) and LayerNorm (gpt2). One work-group per row; the local size is a power of two the
// host picks from the kernel's work-group limit; `red` is that many floats of local memory.
// out may alias x: every element is read and written by the same work-item, after the reductions.
// block_sum is in common.cl.

/// out (T, n) = x / sqrt(mean(x²) + eps) * w; w (n). Global (ls * T).
kernel void kernel_rms_norm_f32(global float *out, global const float *x, global const float *w, int n, float eps,
                                local float *red) {
    int lid = get_local_id(0), ls = get_local_size(0);
    size_t row = (size_t)get_group_id(0) * n;
    float s = 0.0f;
    for (int i = lid; i < n; i += ls) s = fma(x[row + i], x[row + i], s);
    float scale = 1.0f / sqrt(block_sum(red, s) / (float)n + eps);
    for (int i = lid; i < n; i += ls) out[row + i] = x[row + i] * scale * w[i];
}

/// out (T, n) = (x - mean) / sqrt(var + eps) * w + b, var the population variance (two passes, no cancellation).
kernel void kernel_layer_norm_f32(global float *out, global const float *x, global const float *w,
                                  global const float *b, int n, float eps, local float *red) {
    int lid = get_local_id(0), ls = get_local_size(0);
    size_t row = (size_t)get_group_id(0) * n;
    float s = 0.0f;
    for (int i = lid; i < n; i += ls) s += x[row + i];
    float mean = block_sum(red, s) / (float)n;
    float v = 0.0f;
    for (int i = lid; i < n; i += ls) {
        float d = x[row + i] - mean;
        v = fma(d, d, v);
    }
    float scale = 1.0f / sqrt(block_sum(red, v) / (float)n + eps);
    for (int i = lid; i < n; i += ls) out[row + i] = (x[row + i] - mean) * scale * w[i] + b[i];
}
