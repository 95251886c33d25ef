// attention.cl: causal multi-head attention over the KV cache, grouped-query aware.
//   q (T, nh*hd) at positions start_pos .. start_pos+T-1; k, v (ring, nkv*hd) hold positions 0 .. start_pos+T-1,
//   position j at row j % ring (the identity for a full cache; a sliding-window layer's ring keeps the last
//   ring >= window + T - 1 positions, all the keys the queries see); out (T, nh*hd). Query head h reads KV head h / G, G = nh / nkv; query t (position p = start_pos + t) sees
//   keys 0 .. p, or with window > 0 (sliding-window attention) keys p-window+1 .. p only: the fused kernel then
//   starts each work-group at its first query's window, so a local layer reads at most window + bq keys.
//
// kernel_attention_fused_f32 (flash style): a work-group takes one KV head g and a block of bq queries, that is
//   R = bq*G query rows sharing the same keys, and streams the keys in blocks of bk through local memory: each
//   K/V block is read once for all R rows. An online softmax (running max m, sum l, rescaled accumulator) means
//   no score matrix exists outside a (R, bk) tile. Blocks past the last query's position are never visited.
//   Decode over a long cache splits the keys into `nsplit` chunks of `chunk` keys, one work-group each, which
//   write partial (acc, m, l) rows that kernel_attention_merge_f32 combines (flash-decoding).
//   Global (wg, nkv * ceil(T / bq), nsplit), local (wg, 1, 1).
// kernel_attention_{scores,softmax,values}_f32 (naive): every score into a (nh, T, start_pos+T) scratch buffer,
//   then a row softmax, then the weighted sum of values. The test oracle for the fused kernel.

// MARK: - Fused

kernel void kernel_attention_fused_f32(
    global float *out,          // (T, nh*hd), written when nsplit == 1
    global const float *q,      // (T, nh*hd)
    global const float *k,      // (ring, nkv*hd)
    global const float *v,      // (ring, nkv*hd)
    global float *part,         // (nsplit, T, nh, hd + 2): acc[hd], m, l; written when nsplit > 1
    int T, int start_pos, int nh, int nkv, int hd, float scale, int window, int ring,
    int bq, int bk, int chunk, int nsplit,
    local float *qs,            // (R, hd) query rows
    local float *acc,           // (R, hd) unnormalised outputs
    local float *kv,            // (bk, hd + 1) the current K or V block; +1 pads away bank conflicts
    local float *ss,            // (R, bk) scores, then probabilities
    local float *stats)         // (3, R) running max, running sum, rescale factor of the block
{
    int lid = get_local_id(0), wg = get_local_size(0);
    int G = nh / nkv, R = bq * G, hdp = hd + 1;
    int g = get_group_id(1) % nkv, t0 = (get_group_id(1) / nkv) * bq, split = get_group_id(2);
    int qStride = nh * hd, kvStride = nkv * hd;
    local float *ms = stats, *ls = stats + R, *cs = stats + 2 * R;

    // Row r is query t0 + r / G of head g*G + r % G.
    for (int i = lid; i < R * hd; i += wg) {
        int r = i / hd, d = i % hd, t = t0 + r / G, h = g * G + r % G;
        qs[i] = t < T ? q[(size_t)t * qStride + h * hd + d] : 0.0f;
        acc[i] = 0.0f;
    }
    for (int r = lid; r < R; r += wg) {
        ms[r] = -INFINITY;
        ls[r] = 0.0f;
    }
    // Keys of this split that the last query of the block can see.
    int tLast = min(t0 + bq, T) - 1;
    int first = window > 0 ? max(0, start_pos + t0 + 1 - window) : 0;
    int kBegin = first + split * chunk;
    int kEnd = min(start_pos + tLast + 1, kBegin + chunk);

    for (int j0 = kBegin; j0 < kEnd; j0 += bk) {
        int nb = min(bk, kEnd - j0);
        barrier(CLK_LOCAL_MEM_FENCE);  // the previous block's V is no longer read
        for (int i = lid; i < nb * hd; i += wg) {
            int j = i / hd, d = i % hd;
            kv[j * hdp + d] = k[(size_t)((j0 + j) % ring) * kvStride + g * hd + d];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        // Scores, masked to -inf past each row's position.
        for (int i = lid; i < R * bk; i += wg) {
            int r = i / bk, j = i % bk, t = t0 + r / G;
            float s = -INFINITY;
            if (j < nb && t < T && j0 + j <= start_pos + t && (window <= 0 || j0 + j > start_pos + t - window)) {
                float dotp = 0.0f;
                for (int d = 0; d < hd; d++) dotp = fma(qs[r * hd + d], kv[j * hdp + d], dotp);
                s = dotp * scale;
            }
            ss[i] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        // Online softmax: new running max, probabilities against it, rescale factor for what came before.
        for (int r = lid; r < R; r += wg) {
            float mOld = ms[r], mNew = mOld;
            for (int j = 0; j < nb; j++) mNew = fmax(mNew, ss[r * bk + j]);
            float sum = 0.0f;
            for (int j = 0; j < nb; j++) {
                float p = mNew == -INFINITY ? 0.0f : exp(ss[r * bk + j] - mNew);
                ss[r * bk + j] = p;
                sum += p;
            }
            float c = mNew == -INFINITY ? 1.0f : exp(mOld - mNew);  // exp(-inf) = 0 on the first visible block
            ms[r] = mNew;
            ls[r] = ls[r] * c + sum;
            cs[r] = c;
        }
        for (int i = lid; i < nb * hd; i += wg) {  // K is no longer read: scores were done before the barrier
            int j = i / hd, d = i % hd;
            kv[j * hdp + d] = v[(size_t)((j0 + j) % ring) * kvStride + g * hd + d];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < R * hd; i += wg) {
            int r = i / hd, d = i % hd;
            float a = acc[i] * cs[r];
            for (int j = 0; j < nb; j++) a = fma(ss[r * bk + j], kv[j * hdp + d], a);
            acc[i] = a;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = lid; i < R * hd; i += wg) {
        int r = i / hd, d = i % hd, t = t0 + r / G, h = g * G + r % G;
        if (t >= T) continue;
        if (nsplit == 1) {
            out[(size_t)t * qStride + h * hd + d] = ls[r] > 0.0f ? acc[i] / ls[r] : 0.0f;
        } else {
            global float *p = part + (((size_t)split * T + t) * nh + h) * (hd + 2);
            p[d] = acc[i];
            if (d == 0) {
                p[hd] = ms[r];
                p[hd + 1] = ls[r];
            }
        }
    }
}

/// out[t][h] = Σ_s acc_s e^(m_s - M) / Σ_s l_s e^(m_s - M), M = max_s m_s; splits that saw no key have m = -inf.
/// Global (hd rounded up, nh, T).
kernel void kernel_attention_merge_f32(global float *out, global const float *part, int T, int nh, int hd,
                                       int nsplit) {
    int d = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    if (d >= hd) return;
    size_t stride = (size_t)T * nh * (hd + 2);
    global const float *p = part + ((size_t)t * nh + h) * (hd + 2);
    float M = -INFINITY;
    for (int s = 0; s < nsplit; s++) M = fmax(M, p[s * stride + hd]);
    float l = 0.0f, a = 0.0f;
    for (int s = 0; s < nsplit; s++) {
        float m = p[s * stride + hd];
        if (m == -INFINITY) continue;
        float w = exp(m - M);
        l = fma(w, p[s * stride + hd + 1], l);
        a = fma(w, p[s * stride + d], a);
    }
    out[((size_t)t * nh + h) * hd + d] = l > 0.0f ? a / l : 0.0f;
}

// MARK: - Naive

/// S (nh, T, nk), nk = start_pos + T: S[h][t][j] = q_t,h · k_j,g * scale, or -inf for j > start_pos + t (and for
/// j <= start_pos + t - window with a window).
/// Global (nk rounded up, T, nh).
kernel void kernel_attention_scores_f32(global float *S, global const float *q, global const float *k, int T,
                                        int start_pos, int nh, int nkv, int hd, float scale, int window, int ring) {
    int j = get_global_id(0), t = get_global_id(1), h = get_global_id(2), nk = start_pos + T;
    if (j >= nk) return;
    float s = -INFINITY;
    if (j <= start_pos + t && (window <= 0 || j > start_pos + t - window)) {
        global const float *qr = q + (size_t)t * nh * hd + h * hd;
        global const float *kr = k + (size_t)(j % ring) * nkv * hd + (h / (nh / nkv)) * hd;
        float dotp = 0.0f;
        for (int d = 0; d < hd; d++) dotp = fma(qr[d], kr[d], dotp);
        s = dotp * scale;
    }
    S[((size_t)h * T + t) * nk + j] = s;
}

/// Softmax of each row of S (nh*T rows of nk) in place; one work-group per row, `red` of local-size floats.
kernel void kernel_attention_softmax_f32(global float *S, int nk, local float *red) {
    int lid = get_local_id(0), ls = get_local_size(0);
    global float *row = S + (size_t)get_group_id(0) * nk;
    float m = -INFINITY;
    for (int j = lid; j < nk; j += ls) m = fmax(m, row[j]);
    // Max reduction (block_sum is for sums).
    barrier(CLK_LOCAL_MEM_FENCE);
    red[lid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = ls / 2; off > 0; off >>= 1) {
        if (lid < off) red[lid] = fmax(red[lid], red[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = red[0];  // key 0 is visible to every query, so m is finite
    float s = 0.0f;
    for (int j = lid; j < nk; j += ls) {
        float p = exp(row[j] - m);
        row[j] = p;
        s += p;
    }
    float inv = 1.0f / block_sum(red, s);
    for (int j = lid; j < nk; j += ls) row[j] *= inv;
}

/// out[t][h*hd + d] = Σ_j P[h][t][j] v[j][g*hd + d]. Global (hd rounded up, T, nh).
kernel void kernel_attention_values_f32(global float *out, global const float *P, global const float *v, int T,
                                        int start_pos, int nh, int nkv, int hd, int ring) {
    int d = get_global_id(0), t = get_global_id(1), h = get_global_id(2), nk = start_pos + T;
    if (d >= hd) return;
    global const float *p = P + ((size_t)h * T + t) * nk;
    global const float *vc = v + (h / (nh / nkv)) * hd + d;
    float a = 0.0f;
    for (int j = 0; j <= start_pos + t; j++) a = fma(p[j], vc[(size_t)(j % ring) * nkv * hd], a);
    out[((size_t)t * nh + h) * hd + d] = a;
}
