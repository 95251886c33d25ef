// elementwise.cl: add, add_bias, swiglu, gelu, geglu, scale on F32. One work-item per element; global sizes are rounded up
// to the work-group size, hence the bounds checks.

/// out (n) = a + b; out may alias a or b.
kernel void kernel_add_f32(global float *out, global const float *a, global const float *b, int n) {
    int i = get_global_id(0);
    if (i < n) out[i] = a[i] + b[i];
}

/// x (T, n) += bias (n); `count` = T * n.
kernel void kernel_add_bias_f32(global float *x, global const float *bias, int n, int count) {
    int i = get_global_id(0);
    if (i < count) x[i] += bias[i % n];
}

/// out (n) = silu(gate) * up = gate / (1 + exp(-gate)) * up.
kernel void kernel_swiglu_f32(global float *out, global const float *gate, global const float *up, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float g = gate[i];
    out[i] = g / (1.0f + exp(-g)) * up[i];
}

/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), the tanh approximation GPT-2 uses.
float gelu(float v) {
    const float sqrt_2_over_pi = 0.7978845608028654f;
    return 0.5f * v * (1.0f + tanh(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
}

kernel void kernel_gelu_f32(global float *out, global const float *x, int n) {
    int i = get_global_id(0);
    if (i < n) out[i] = gelu(x[i]);
}

/// out (n) = gelu(gate) * up (GeGLU).
kernel void kernel_geglu_f32(global float *out, global const float *gate, global const float *up, int n) {
    int i = get_global_id(0);
    if (i < n) out[i] = gelu(gate[i]) * up[i];
}

/// x (n) *= factor, in place.
kernel void kernel_scale_f32(global float *x, float factor, int n) {
    int i = get_global_id(0);
    if (i < n) x[i] *= factor;
}
