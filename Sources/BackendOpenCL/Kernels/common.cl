// common.cl: prepended to every program: the block layouts of the quantized weight formats, and block_sum.
// Weights arrive as raw GGUF bytes (global const uchar *): blocks of 32 elements, rows of K/32 blocks.
//   q4_0 { half d; uchar qs[16]; }          18 bytes  x = d * (nibble - 8)
//   q4_1 { half d; half m; uchar qs[16]; }  20 bytes  x = d * nibble + m
//   q8_0 { half d; char qs[32]; }           34 bytes  x = d * q
// q4 nibble order: qs[j] & 15 is element j, qs[j] >> 4 is element j + 16. Block sizes are even, so the halves
// are 2-byte aligned for vload_half; the quants are read as bytes (vload on uchar/char needs no alignment).

#define QK 32
#define Q4_0_BYTES 18
#define Q4_1_BYTES 20
#define Q8_0_BYTES 34
#define Q5_0_BYTES 22
#define Q5_1_BYTES 24
#define QK_K 256
#define Q2_K_BYTES 84
#define Q3_K_BYTES 110
#define Q4_K_BYTES 144
#define Q5_K_BYTES 176
#define Q6_K_BYTES 210
#define IQ4_NL_BYTES 18
#define IQ4_XS_BYTES 136

inline float load_half(global const uchar *p) { return vload_half(0, (global const half *)p); }

/// Element j of a q4_0 row.
inline float q4_0_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * Q4_0_BYTES;
    int i = j % QK;
    uchar q = b[2 + (i & 15)];
    int nib = i < 16 ? (q & 15) : (q >> 4);
    return load_half(b) * (float)(nib - 8);
}

/// Element j of a q4_1 row.
inline float q4_1_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * Q4_1_BYTES;
    int i = j % QK;
    uchar q = b[4 + (i & 15)];
    int nib = i < 16 ? (q & 15) : (q >> 4);
    return load_half(b) * (float)nib + load_half(b + 2);
}

/// Element j of a q8_0 row.
inline float q8_0_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * Q8_0_BYTES;
    return load_half(b) * (float)((global const char *)b)[2 + j % QK];
}

// The formats below are read one element at a time (the bits as CKernels/ref/dequantize.c documents them): simple
// and exact; their kernels are correct on any device rather than tuned for one.

/// Element j of a bf16 row.
inline float bf16_at(global const uchar *row, int j) {
    global const uchar *p = row + 2 * j;
    return as_float((uint)p[0] << 16 | (uint)p[1] << 24);
}

inline uint load_u32(global const uchar *p) {
    return (uint)p[0] | (uint)p[1] << 8 | (uint)p[2] << 16 | (uint)p[3] << 24;
}

/// Element j of a q5_0 row: d * (q - 16), q = nibble | bit i of qh << 4.
inline float q5_0_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * Q5_0_BYTES;
    int i = j % QK;
    uchar q = b[6 + (i & 15)];
    int v = (i < 16 ? (q & 15) : (q >> 4)) | (int)((load_u32(b + 2) >> i) & 1) << 4;
    return load_half(b) * (float)(v - 16);
}

/// Element j of a q5_1 row: d * q + m.
inline float q5_1_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * Q5_1_BYTES;
    int i = j % QK;
    uchar q = b[8 + (i & 15)];
    int v = (i < 16 ? (q & 15) : (q >> 4)) | (int)((load_u32(b + 4) >> i) & 1) << 4;
    return load_half(b) * (float)v + load_half(b + 2);
}

/// Element j of a q2_K row: d * sc * q - dmin * m (scales[e / 16]: sc low, m high nibble).
inline float q2_K_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * Q2_K_BYTES;
    int e = j % QK_K, g = e / 128, s = (e / 32) % 4, l = e % 32;
    int q = (b[16 + 32 * g + l] >> (2 * s)) & 3;
    uchar sc = b[e / 16];
    return load_half(b + 80) * (float)(sc & 15) * (float)q - load_half(b + 82) * (float)(sc >> 4);
}

/// Element j of a q3_K row: d * (sc - 32) * (q - 4 when the hmask bit is clear).
inline float q3_K_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * Q3_K_BYTES;
    int e = j % QK_K, g = e / 128, s = (e / 32) % 4, l = e % 32, k = e / 16;
    int lo = (b[32 + 32 * g + l] >> (2 * s)) & 3;
    int hi = (b[l] >> (e / 32)) & 1;
    global const uchar *sc = b + 96;
    int scale = ((k < 8 ? sc[k] & 15 : sc[k - 8] >> 4) | ((sc[8 + k % 4] >> (2 * (k / 4))) & 3) << 4) - 32;
    return load_half(b + 108) * (float)scale * (float)(lo - (hi ? 0 : 4));
}

/// Scale and min of sub-block k (0..7) of a q4_K / q5_K super-block (12 packed bytes at s).
inline int2 k_scale_min(global const uchar *s, int k) {
    if (k < 4) return (int2)(s[k] & 63, s[k + 4] & 63);
    return (int2)((s[k + 4] & 15) | ((s[k - 4] >> 2) & 48), (s[k + 4] >> 4) | ((s[k] >> 2) & 48));
}

/// Element j of a q4_K row: d * sc * q - dmin * m.
inline float q4_K_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * Q4_K_BYTES;
    int e = j % QK_K, g = e / 64, s = (e / 32) % 2, l = e % 32;
    int2 sm = k_scale_min(b + 4, e / 32);
    int q = (b[16 + 32 * g + l] >> (4 * s)) & 15;
    return load_half(b) * (float)sm.x * (float)q - load_half(b + 2) * (float)sm.y;
}

/// Element j of a q5_K row: as q4_K with the fifth bit e / 32 of qh[e % 32].
inline float q5_K_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * Q5_K_BYTES;
    int e = j % QK_K, g = e / 64, s = (e / 32) % 2, l = e % 32;
    int2 sm = k_scale_min(b + 4, e / 32);
    int q = ((b[48 + 32 * g + l] >> (4 * s)) & 15) | ((b[16 + l] >> (e / 32)) & 1) << 4;
    return load_half(b) * (float)sm.x * (float)q - load_half(b + 2) * (float)sm.y;
}

/// Element j of a q6_K row: d * sc * (q - 32), int8 scales per 16.
inline float q6_K_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * Q6_K_BYTES;
    int e = j % QK_K, g = e / 128, s = (e / 32) % 4, l = e % 32;
    int lo = (b[64 * g + 32 * (s % 2) + l] >> (4 * (s / 2))) & 15;
    int hi = (b[128 + 32 * g + l] >> (2 * s)) & 3;
    int sc = ((global const char *)b)[192 + e / 16];
    return load_half(b + 208) * (float)sc * (float)((lo | hi << 4) - 32);
}

/// The 16 values an IQ4 nibble selects (CKernels' ck_iq4_values).
constant float iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// Element j of an iq4_nl row: d * values[nibble], nibbles as q4_0.
inline float iq4_nl_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK) * IQ4_NL_BYTES;
    int i = j % QK;
    uchar q = b[2 + (i & 15)];
    return load_half(b) * iq4_values[i < 16 ? (q & 15) : (q >> 4)];
}

/// Element j of an iq4_xs row: d * (sc - 32) * values[nibble]; sub-block s = e / 32 has its bytes at 8 + 16 s and
/// the scale (nibble s % 2 of byte 4 + s / 2) | (bits 2s of the uint16 at 2) << 4.
inline float iq4_xs_at(global const uchar *row, int j) {
    global const uchar *b = row + (j / QK_K) * IQ4_XS_BYTES;
    int e = j % QK_K, s = e / 32, l = e % 32;
    int sc = ((b[4 + s / 2] >> (4 * (s % 2))) & 15) | ((((int)b[2] | (int)b[3] << 8) >> (2 * s)) & 3) << 4;
    uchar q = b[8 + 16 * s + (l & 15)];
    return load_half(b) * (float)(sc - 32) * iq4_values[l < 16 ? (q & 15) : (q >> 4)];
}

/// Tree sum over the work-group (local size a power of two); `red` holds get_local_size(0) floats. Every work-item
/// must call it; the result is returned to all of them.
inline float block_sum(local float *red, float v) {
    int lid = get_local_id(0), ls = get_local_size(0);
    barrier(CLK_LOCAL_MEM_FENCE);  // red may still be read by a previous reduction
    red[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = ls / 2; off > 0; off >>= 1) {
        if (lid < off) red[lid] += red[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return red[0];
}
