// matmul.cl: out (T, N) = x (T, K) · w (N, K)ᵀ. x and out are F32; w stays in its GGUF format and is dequantized
// in registers (mv) or into local memory (mm); activations are not quantized, so results are those of exact
// weights with F32 accumulation. `common.cl` is prepended (block layouts, block_sum).
//
// kernel_matmul_mv_<fmt>: decode. One work-group per (output row n, token t), global (ls * N, T), local (ls, 1);
//   work-items stride over the row and reduce in local memory (`red`, ls floats).
// kernel_matmul_mm_<fmt>: prefill. Tiles of TM tokens x TN outputs per work-group of TS x TS work-items, each
//   computing WPT x WPT outputs from local tiles of TK = 32 (one quantized block) along K. Global
//   (ceil(N / TN) * TS, ceil(T / TM) * TS), local (TS, TS). TS and WPT come from the host's build options,
//   chosen from the device's work-group limit.

#ifndef TS
#define TS 16
#endif
#ifndef WPT
#define WPT 4
#endif
#define TM (TS * WPT)
#define TN (TS * WPT)
#define TK 32

// MARK: - Matrix-vector partial sums (one work-item's share of a row)

inline float mv_f32(global const uchar *row, global const float *x, int K, int lid, int ls) {
    global const float *w = (global const float *)row;
    float s = 0.0f;
    for (int j = lid; j < K; j += ls) s = fma(w[j], x[j], s);
    return s;
}

inline float mv_f16(global const uchar *row, global const float *x, int K, int lid, int ls) {
    global const half *w = (global const half *)row;
    float s = 0.0f;
    for (int j = lid; j < K; j += ls) s = fma(vload_half(j, w), x[j], s);
    return s;
}

// Quantized rows are cut into units of 8 elements, 4 per block: q4 unit u holds bytes qs[4s .. 4s+3] (s = u % 4),
// that is elements 4s..4s+3 (low nibbles) and 16+4s..16+4s+3 (high nibbles); q8 unit u holds qs[8s .. 8s+7].

inline float mv_q4_0(global const uchar *row, global const float *x, int K, int lid, int ls) {
    float s = 0.0f;
    for (int u = lid; u < K / QK * 4; u += ls) {
        int b = u / 4, o = (u % 4) * 4;
        global const uchar *blk = row + b * Q4_0_BYTES;
        uchar4 q = vload4(0, blk + 2 + o);
        float4 lo = convert_float4(q & (uchar4)(15)) - 8.0f;
        float4 hi = convert_float4(q >> (uchar4)(4)) - 8.0f;
        global const float *xb = x + b * QK + o;
        s = fma(load_half(blk), dot(lo, vload4(0, xb)) + dot(hi, vload4(0, xb + 16)), s);
    }
    return s;
}

inline float mv_q4_1(global const uchar *row, global const float *x, int K, int lid, int ls) {
    float s = 0.0f;
    for (int u = lid; u < K / QK * 4; u += ls) {
        int b = u / 4, o = (u % 4) * 4;
        global const uchar *blk = row + b * Q4_1_BYTES;
        uchar4 q = vload4(0, blk + 4 + o);
        float4 lo = convert_float4(q & (uchar4)(15));
        float4 hi = convert_float4(q >> (uchar4)(4));
        global const float *xb = x + b * QK + o;
        float4 xl = vload4(0, xb), xh = vload4(0, xb + 16);
        float xsum = dot(xl + xh, (float4)(1.0f));
        s += load_half(blk) * (dot(lo, xl) + dot(hi, xh)) + load_half(blk + 2) * xsum;
    }
    return s;
}

inline float mv_q8_0(global const uchar *row, global const float *x, int K, int lid, int ls) {
    float s = 0.0f;
    for (int u = lid; u < K / QK * 4; u += ls) {
        int b = u / 4, o = (u % 4) * 8;
        global const uchar *blk = row + b * Q8_0_BYTES;
        float8 q = convert_float8(vload8(0, (global const char *)(blk + 2 + o)));
        float8 xv = vload8(0, x + b * QK + o);
        s = fma(load_half(blk), dot(q.lo, xv.lo) + dot(q.hi, xv.hi), s);
    }
    return s;
}

// MARK: - Matrix-vector kernels

kernel void kernel_matmul_mv_f32(global float *out, global const float *x, global const uchar *w, int K, int N,
                                 local float *red) {
    int n = get_group_id(0), t = get_group_id(1);
    global const uchar *row = w + (size_t)n * K * 4;
    float s = block_sum(red, mv_f32(row, x + (size_t)t * K, K, get_local_id(0), get_local_size(0)));
    if (get_local_id(0) == 0) out[(size_t)t * N + n] = s;
}

kernel void kernel_matmul_mv_f16(global float *out, global const float *x, global const uchar *w, int K, int N,
                                 local float *red) {
    int n = get_group_id(0), t = get_group_id(1);
    global const uchar *row = w + (size_t)n * K * 2;
    float s = block_sum(red, mv_f16(row, x + (size_t)t * K, K, get_local_id(0), get_local_size(0)));
    if (get_local_id(0) == 0) out[(size_t)t * N + n] = s;
}

kernel void kernel_matmul_mv_q4_0(global float *out, global const float *x, global const uchar *w, int K, int N,
                                  local float *red) {
    int n = get_group_id(0), t = get_group_id(1);
    global const uchar *row = w + (size_t)n * (K / QK) * Q4_0_BYTES;
    float s = block_sum(red, mv_q4_0(row, x + (size_t)t * K, K, get_local_id(0), get_local_size(0)));
    if (get_local_id(0) == 0) out[(size_t)t * N + n] = s;
}

kernel void kernel_matmul_mv_q4_1(global float *out, global const float *x, global const uchar *w, int K, int N,
                                  local float *red) {
    int n = get_group_id(0), t = get_group_id(1);
    global const uchar *row = w + (size_t)n * (K / QK) * Q4_1_BYTES;
    float s = block_sum(red, mv_q4_1(row, x + (size_t)t * K, K, get_local_id(0), get_local_size(0)));
    if (get_local_id(0) == 0) out[(size_t)t * N + n] = s;
}

kernel void kernel_matmul_mv_q8_0(global float *out, global const float *x, global const uchar *w, int K, int N,
                                  local float *red) {
    int n = get_group_id(0), t = get_group_id(1);
    global const uchar *row = w + (size_t)n * (K / QK) * Q8_0_BYTES;
    float s = block_sum(red, mv_q8_0(row, x + (size_t)t * K, K, get_local_id(0), get_local_size(0)));
    if (get_local_id(0) == 0) out[(size_t)t * N + n] = s;
}

// MARK: - Tiles for the matrix-matrix kernels
// xs (TK, TM) and ws (TK, TN) are stored k-major so that the inner product reads a row of each.

/// xs[k][m] = x[t0 + m][k0 + k], zero past T or K.
inline void tile_x(local float *xs, global const float *x, int T, int K, int t0, int k0, int lid) {
    for (int i = lid; i < TM * TK; i += TS * TS) {
        int m = i / TK, k = i % TK;
        xs[k * TM + m] = (t0 + m < T && k0 + k < K) ? x[(size_t)(t0 + m) * K + k0 + k] : 0.0f;
    }
}

inline void tile_w_f32(local float *ws, global const uchar *w, int N, int K, int n0, int k0, int lid) {
    global const float *wf = (global const float *)w;
    for (int i = lid; i < TN * TK; i += TS * TS) {
        int r = i / TK, k = i % TK;
        ws[k * TN + r] = (n0 + r < N && k0 + k < K) ? wf[(size_t)(n0 + r) * K + k0 + k] : 0.0f;
    }
}

inline void tile_w_f16(local float *ws, global const uchar *w, int N, int K, int n0, int k0, int lid) {
    global const half *wh = (global const half *)w;
    for (int i = lid; i < TN * TK; i += TS * TS) {
        int r = i / TK, k = i % TK;
        ws[k * TN + r] = (n0 + r < N && k0 + k < K) ? vload_half((size_t)(n0 + r) * K + k0 + k, wh) : 0.0f;
    }
}

/// Stores the 8 elements of q4 unit o/4 (elements o..o+3 and 16+o..16+o+3) of tile row r.
inline void put_q4_unit(local float *ws, int r, int o, float4 lo, float4 hi) {
    ws[(o + 0) * TN + r] = lo.s0;
    ws[(o + 1) * TN + r] = lo.s1;
    ws[(o + 2) * TN + r] = lo.s2;
    ws[(o + 3) * TN + r] = lo.s3;
    ws[(o + 16) * TN + r] = hi.s0;
    ws[(o + 17) * TN + r] = hi.s1;
    ws[(o + 18) * TN + r] = hi.s2;
    ws[(o + 19) * TN + r] = hi.s3;
}

inline void tile_w_q4_0(local float *ws, global const uchar *w, int N, int K, int n0, int k0, int lid) {
    for (int i = lid; i < TN * 4; i += TS * TS) {
        int r = i / 4, o = (i % 4) * 4;
        float4 lo = 0.0f, hi = 0.0f;
        if (n0 + r < N) {
            global const uchar *blk = w + ((size_t)(n0 + r) * (K / QK) + k0 / QK) * Q4_0_BYTES;
            float d = load_half(blk);
            uchar4 q = vload4(0, blk + 2 + o);
            lo = d * (convert_float4(q & (uchar4)(15)) - 8.0f);
            hi = d * (convert_float4(q >> (uchar4)(4)) - 8.0f);
        }
        put_q4_unit(ws, r, o, lo, hi);
    }
}

inline void tile_w_q4_1(local float *ws, global const uchar *w, int N, int K, int n0, int k0, int lid) {
    for (int i = lid; i < TN * 4; i += TS * TS) {
        int r = i / 4, o = (i % 4) * 4;
        float4 lo = 0.0f, hi = 0.0f;
        if (n0 + r < N) {
            global const uchar *blk = w + ((size_t)(n0 + r) * (K / QK) + k0 / QK) * Q4_1_BYTES;
            float d = load_half(blk), m = load_half(blk + 2);
            uchar4 q = vload4(0, blk + 4 + o);
            lo = d * convert_float4(q & (uchar4)(15)) + m;
            hi = d * convert_float4(q >> (uchar4)(4)) + m;
        }
        put_q4_unit(ws, r, o, lo, hi);
    }
}

inline void tile_w_q8_0(local float *ws, global const uchar *w, int N, int K, int n0, int k0, int lid) {
    for (int i = lid; i < TN * 4; i += TS * TS) {
        int r = i / 4, o = (i % 4) * 8;
        float8 v = 0.0f;
        if (n0 + r < N) {
            global const uchar *blk = w + ((size_t)(n0 + r) * (K / QK) + k0 / QK) * Q8_0_BYTES;
            v = load_half(blk) * convert_float8(vload8(0, (global const char *)(blk + 2 + o)));
        }
        ws[(o + 0) * TN + r] = v.s0;
        ws[(o + 1) * TN + r] = v.s1;
        ws[(o + 2) * TN + r] = v.s2;
        ws[(o + 3) * TN + r] = v.s3;
        ws[(o + 4) * TN + r] = v.s4;
        ws[(o + 5) * TN + r] = v.s5;
        ws[(o + 6) * TN + r] = v.s6;
        ws[(o + 7) * TN + r] = v.s7;
    }
}

/// acc[wm][wn] += Σ_k xs[k][ty + wm*TS] * ws[k][tx + wn*TS]: outputs (t0 + ty + wm*TS, n0 + tx + wn*TS).
inline void mm_tile(float *acc, local const float *xs, local const float *ws, int tx, int ty) {
    for (int k = 0; k < TK; k++) {
        float a[WPT], b[WPT];
        for (int i = 0; i < WPT; i++) a[i] = xs[k * TM + ty + i * TS];
        for (int i = 0; i < WPT; i++) b[i] = ws[k * TN + tx + i * TS];
        for (int wm = 0; wm < WPT; wm++)
            for (int wn = 0; wn < WPT; wn++) acc[wm * WPT + wn] = fma(a[wm], b[wn], acc[wm * WPT + wn]);
    }
}

inline void mm_store(global float *out, const float *acc, int T, int N, int t0, int n0, int tx, int ty) {
    for (int wm = 0; wm < WPT; wm++) {
        int t = t0 + ty + wm * TS;
        for (int wn = 0; wn < WPT; wn++) {
            int n = n0 + tx + wn * TS;
            if (t < T && n < N) out[(size_t)t * N + n] = acc[wm * WPT + wn];
        }
    }
}

// MARK: - Matrix-matrix kernels (identical but for the weight tile loader)

kernel void kernel_matmul_mm_f32(global float *out, global const float *x, global const uchar *w, int T, int K,
                                 int N) {
    local float xs[TK * TM], ws[TK * TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;
    int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;
    float acc[WPT * WPT] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += TK) {
        tile_x(xs, x, T, K, t0, k0, lid);
        tile_w_f32(ws, w, N, K, n0, k0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        mm_tile(acc, xs, ws, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mm_store(out, acc, T, N, t0, n0, tx, ty);
}

kernel void kernel_matmul_mm_f16(global float *out, global const float *x, global const uchar *w, int T, int K,
                                 int N) {
    local float xs[TK * TM], ws[TK * TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;
    int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;
    float acc[WPT * WPT] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += TK) {
        tile_x(xs, x, T, K, t0, k0, lid);
        tile_w_f16(ws, w, N, K, n0, k0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        mm_tile(acc, xs, ws, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mm_store(out, acc, T, N, t0, n0, tx, ty);
}

kernel void kernel_matmul_mm_q4_0(global float *out, global const float *x, global const uchar *w, int T, int K,
                                  int N) {
    local float xs[TK * TM], ws[TK * TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;
    int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;
    float acc[WPT * WPT] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += TK) {
        tile_x(xs, x, T, K, t0, k0, lid);
        tile_w_q4_0(ws, w, N, K, n0, k0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        mm_tile(acc, xs, ws, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mm_store(out, acc, T, N, t0, n0, tx, ty);
}

kernel void kernel_matmul_mm_q4_1(global float *out, global const float *x, global const uchar *w, int T, int K,
                                  int N) {
    local float xs[TK * TM], ws[TK * TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;
    int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;
    float acc[WPT * WPT] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += TK) {
        tile_x(xs, x, T, K, t0, k0, lid);
        tile_w_q4_1(ws, w, N, K, n0, k0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        mm_tile(acc, xs, ws, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mm_store(out, acc, T, N, t0, n0, tx, ty);
}

kernel void kernel_matmul_mm_q8_0(global float *out, global const float *x, global const uchar *w, int T, int K,
                                  int N) {
    local float xs[TK * TM], ws[TK * TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;
    int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;
    float acc[WPT * WPT] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += TK) {
        tile_x(xs, x, T, K, t0, k0, lid);
        tile_w_q8_0(ws, w, N, K, n0, k0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        mm_tile(acc, xs, ws, tx, ty);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mm_store(out, acc, T, N, t0, n0, tx, ty);
}

// MARK: - Formats read element by element (common.cl's <fmt>_at): one kernel pair per format from two macros.
// ROW_BYTES(fmt, K) is the bytes of a row of K elements.

#define ELEMENT_KERNELS(fmt, ROW_BYTES)                                                                            \
    kernel void kernel_matmul_mv_##fmt(global float *out, global const float *x, global const uchar *w, int K,    \
                                       int N, local float *red) {                                                \
        int n = get_group_id(0), t = get_group_id(1), lid = get_local_id(0), ls = get_local_size(0);              \
        global const uchar *row = w + (size_t)n * (ROW_BYTES);                                                    \
        global const float *xr = x + (size_t)t * K;                                                               \
        float s = 0.0f;                                                                                           \
        for (int j = lid; j < K; j += ls) s = fma(fmt##_at(row, j), xr[j], s);                                    \
        s = block_sum(red, s);                                                                                    \
        if (lid == 0) out[(size_t)t * N + n] = s;                                                                 \
    }                                                                                                             \
    kernel void kernel_matmul_mm_##fmt(global float *out, global const float *x, global const uchar *w, int T,    \
                                       int K, int N) {                                                           \
        local float xs[TK * TM], ws[TK * TN];                                                                     \
        int tx = get_local_id(0), ty = get_local_id(1), lid = ty * TS + tx;                                       \
        int n0 = get_group_id(0) * TN, t0 = get_group_id(1) * TM;                                                 \
        float acc[WPT * WPT] = {0.0f};                                                                            \
        for (int k0 = 0; k0 < K; k0 += TK) {                                                                      \
            tile_x(xs, x, T, K, t0, k0, lid);                                                                     \
            for (int i = lid; i < TN * TK; i += TS * TS) {                                                        \
                int r = i / TK, k = i % TK;                                                                       \
                ws[k * TN + r] = (n0 + r < N && k0 + k < K)                                                       \
                                     ? fmt##_at(w + (size_t)(n0 + r) * (ROW_BYTES), k0 + k) : 0.0f;               \
            }                                                                                                     \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                         \
            mm_tile(acc, xs, ws, tx, ty);                                                                         \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                         \
        }                                                                                                         \
        mm_store(out, acc, T, N, t0, n0, tx, ty);                                                                 \
    }

ELEMENT_KERNELS(bf16, K * 2)
ELEMENT_KERNELS(q5_0, (K / QK) * Q5_0_BYTES)
ELEMENT_KERNELS(q5_1, (K / QK) * Q5_1_BYTES)
ELEMENT_KERNELS(q2_K, (K / QK_K) * Q2_K_BYTES)
ELEMENT_KERNELS(q3_K, (K / QK_K) * Q3_K_BYTES)
ELEMENT_KERNELS(q4_K, (K / QK_K) * Q4_K_BYTES)
ELEMENT_KERNELS(q5_K, (K / QK_K) * Q5_K_BYTES)
ELEMENT_KERNELS(q6_K, (K / QK_K) * Q6_K_BYTES)
ELEMENT_KERNELS(iq4_nl, (K / QK) * IQ4_NL_BYTES)
ELEMENT_KERNELS(iq4_xs, (K / QK_K) * IQ4_XS_BYTES)
