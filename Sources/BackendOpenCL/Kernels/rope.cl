// rope.cl: rotary position embedding, in place on rows row0..row0+T-1 of x (·, nh*hd). Row row0 + t is at position
// p = start_pos + t. The angle
// of pair i follows llama.cpp (ggml_rope_cache_init) bit for bit, like ck_ref_rope: theta starts at p as a float
// and is multiplied in float by theta_scale = powf(freq_base, -2/hd) (computed on the host) once per pair, so
// pair i gets p * theta_scale^i with llama.cpp's rounding. A closed form (pow per pair) would differ by up to
// ~1e-3 rad at p = 1000. Global (hd/2, nh, T): one work-item per pair; the i multiplications are cheap.

// factors (hd/2), read when has_factors != 0: pair i's angle is divided by factors[i] (Llama 3's rope_freqs,
// Phi-3's LongRoPE factors), as ck_ref_rope does.
kernel void kernel_rope_f32(global float *x, float theta_scale, int row0, int start_pos, int nh, int hd, int neox,
                            global const float *factors, int has_factors) {
    int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    if (i >= hd / 2) return;
    float theta = (float)(start_pos + t);
    for (int k = 0; k < i; k++) theta *= theta_scale;
    if (has_factors) theta /= factors[i];
    float c = cos(theta), s = sin(theta);
    global float *head = x + ((size_t)(row0 + t) * nh + h) * hd;
    // neox pairs (i, i + hd/2); the llama.cpp "normal" style pairs (2i, 2i + 1).
    int a = neox ? i : 2 * i;
    int b = neox ? i + hd / 2 : 2 * i + 1;
    float x0 = head[a], x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
}
