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
