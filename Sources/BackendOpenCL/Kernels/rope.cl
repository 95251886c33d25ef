// rope.cl: rotary position embedding, in place on x (T, nh*hd). Row t is at position start_pos + t; pair i of a
// head rotates by pos * inv_freq[i], inv_freq[i] = freq_base^(-2i/hd) computed on the host in double (pow in
// OpenCL C may be 16 ulp off, which at position 1000 would move angles by 1e-3 rad).
// Global (hd/2, nh, T): one work-item per pair.

kernel void kernel_rope_f32(global float *x, global const float *inv_freq, int start_pos, int nh, int hd,
                            int neox) {
    int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    if (i >= hd / 2) return;
    float theta = (float)(start_pos + t) * inv_freq[i];
    float c = cos(theta), s = sin(theta);
    global float *head = x + ((size_t)t * nh + h) * hd;
    // neox pairs (i, i + hd/2); the llama.cpp "normal" style pairs (2i, 2i + 1).
    int a = neox ? i : 2 * i;
    int b = neox ? i + hd / 2 : 2 * i + 1;
    float x0 = head[a], x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
}
