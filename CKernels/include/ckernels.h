// ckernels.h: SwiftGPT's C kernels. The only public header of the CKernels target.
//
// Two families with one calling convention (destination first, then inputs, then int64_t sizes):
//   ck_ref_*  scalar references: obviously correct, double accumulation where sums are long. The oracle of
//             `gpt check`, never used to generate text.
//   ck_*      the CPU kernels of the `openmp` backend: a persistent worker pool (cpu/pool.c) splits rows / tokens /
//             heads, SIMD picked at run time
//             (AVX-512, AVX2+FMA, or portable scalar), working on quantized blocks in place.
// Kernels never allocate, print or exit: scratch memory is passed in, sized by the *_scratch_bytes helpers.
//
// Shapes: T = tokens (rows of activations), K = input features, N = output features, nh = query heads,
// nkv = key/value heads, hd = head dimension. Matrices are row-major; weights are (N, K): one row per output.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Formats (values are GGUF / ggml type ids)

// The one table of weight formats. Sources/GPTCore/WeightFormat.swift mirrors it (a test compares them entry by
// entry through ck_format_at); every list of formats shown to users is generated from it.
//   X(enum, ggml type id, name, elements per block, bytes per block)
#define CK_FORMATS(X)            \
    X(CK_F32, 0, "f32", 1, 4)    \
    X(CK_F16, 1, "f16", 1, 2)    \
    X(CK_BF16, 30, "bf16", 1, 2) \
    X(CK_Q4_0, 2, "q4_0", 32, 18) \
    X(CK_Q4_1, 3, "q4_1", 32, 20) \
    X(CK_Q5_0, 6, "q5_0", 32, 22) \
    X(CK_Q5_1, 7, "q5_1", 32, 24) \
    X(CK_Q8_0, 8, "q8_0", 32, 34) \
    X(CK_Q2_K, 10, "q2_K", 256, 84) \
    X(CK_Q3_K, 11, "q3_K", 256, 110) \
    X(CK_Q4_K, 12, "q4_K", 256, 144) \
    X(CK_Q5_K, 13, "q5_K", 256, 176) \
    X(CK_Q6_K, 14, "q6_K", 256, 210) \
    X(CK_IQ4_NL, 20, "iq4_nl", 32, 18) \
    X(CK_IQ4_XS, 23, "iq4_xs", 256, 136)

#define CK_FORMAT_ENUM_(e, id, name, bs, bytes) e = id,
enum ck_format { CK_FORMATS(CK_FORMAT_ENUM_) };
#undef CK_FORMAT_ENUM_

typedef struct {
    int type;          // ggml type id (enum ck_format)
    const char *name;  // as WeightFormat's raw value
    int block_size;    // elements per block (1 for the float formats)
    int block_bytes;   // bytes per block
} ck_format_info;

/// Entry i of the table (i = 0, 1, ...), NULL past the last one.
const ck_format_info *ck_format_at(int i);
/// The entry of ggml type id fmt, NULL for a type not in the table.
const ck_format_info *ck_format_find(int fmt);

/// What CKernels can do with a format (ck_format_supports).
enum ck_capability {
    CK_CAN_DEQUANTIZE = 1,  // ck_dequantize_row, ck_ref_matmul, ck_ref_embedding
    CK_CAN_QUANTIZE = 2,    // ck_quantize_row
    CK_CAN_MATMUL = 3,      // ck_matmul, ck_matmul_multi, ck_embedding (the openmp backend's kernels)
};
/// 1 when CKernels implements `what` (enum ck_capability) for fmt, else 0: backends answer `supports` with it.
int ck_format_supports(int fmt, int what);

#define CK_QK 32    // elements per block of the 32-element formats
#define CK_QK_K 256  // elements per super-block of the K-quants

typedef struct { uint16_t d; int8_t qs[CK_QK]; } ck_block_q8_0;               // 34 bytes: x = d*q
typedef struct { uint16_t d; uint8_t qs[CK_QK / 2]; } ck_block_q4_0;          // 18 bytes: x = d*(nib-8)
typedef struct { uint16_t d; uint16_t m; uint8_t qs[CK_QK / 2]; } ck_block_q4_1;  // 20 bytes: x = d*nib + m
// q4 nibble order: qs[j] & 0xF is element j, qs[j] >> 4 is element j + 16.
// q5: the nibbles as q4, bit j of qh (little-endian uint32) is the fifth bit of element j.
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[CK_QK / 2]; } ck_block_q5_0;  // 22 bytes: x = d*(q-16)
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[CK_QK / 2]; } ck_block_q5_1;  // 24: d*q + m
// K-quants: super-blocks of 256 with sub-block scales (ggml-common.h layouts; see ref/dequantize.c for the math).
typedef struct {
    uint8_t scales[CK_QK_K / 16];  // low 4 bits: scale, high 4 bits: min, per 16 elements
    uint8_t qs[CK_QK_K / 4];       // 2-bit quants
    uint16_t d, dmin;
} ck_block_q2_K;  // 84 bytes: x = d*sc*q - dmin*m
typedef struct {
    uint8_t hmask[CK_QK_K / 8];     // high bit (set: q, clear: q - 4)
    uint8_t qs[CK_QK_K / 4];        // low 2 bits
    uint8_t scales[12];             // 16 6-bit scales, stored with an offset of 32
    uint16_t d;
} ck_block_q3_K;  // 110 bytes: x = d*(sc-32)*q
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];  // 8 6-bit scales and 8 6-bit mins, per 32 elements
    uint8_t qs[CK_QK_K / 2];
} ck_block_q4_K;  // 144 bytes: x = d*sc*q - dmin*m
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[CK_QK_K / 8];  // fifth bits
    uint8_t qs[CK_QK_K / 2];
} ck_block_q5_K;  // 176 bytes: x = d*sc*q - dmin*m
typedef struct {
    uint8_t ql[CK_QK_K / 2];      // low 4 bits
    uint8_t qh[CK_QK_K / 4];      // high 2 bits
    int8_t scales[CK_QK_K / 16];  // per 16 elements
    uint16_t d;
} ck_block_q6_K;  // 210 bytes: x = d*sc*(q-32)
// IQ4: 4-bit indices into one fixed non-linear table of 16 int8 values (ck_iq4_values), nibble order as q4_0.
typedef struct { uint16_t d; uint8_t qs[CK_QK / 2]; } ck_block_iq4_nl;  // 18 bytes: x = d*values[nib]
typedef struct {
    uint16_t d;
    uint16_t scales_h;             // high 2 bits of the 8 sub-block scales: bits 2j of it for sub-block j
    uint8_t scales_l[CK_QK_K / 64];  // low 4 bits: nibble j % 2 of byte j / 2
    uint8_t qs[CK_QK_K / 2];       // sub-block j (32 elements) at qs[16 j], nibble order as q4_0
} ck_block_iq4_xs;  // 136 bytes: x = d*(sc-32)*values[nib], sc the 6-bit scale of the element's sub-block
/// The 16 values an IQ4 nibble selects (ggml's kvalues_iq4nl; gguf-py's IQ4_NL.kvalues).
extern const int8_t ck_iq4_values[16];

float ck_fp16_to_fp32(uint16_t h);
float ck_bf16_to_fp32(uint16_t h);   // exact (the top half of the float)
uint16_t ck_fp32_to_fp16(float f);  // round to nearest even

/// Bytes of one row of n elements in fmt; 0 for a format not in the table or an n that is not a whole number of
/// blocks.
size_t ck_row_bytes(int fmt, int64_t n);
/// dst (n) = src row (n elements in fmt) as floats: the reference dequantizers (ref/dequantize.c), bit for bit
/// those of gguf-py's numpy code; a no-op for a format without CK_CAN_DEQUANTIZE.
void ck_dequantize_row(int fmt, float *dst, const void *src, int64_t n);
/// dst (n elements in fmt) = src (n) quantized the standard (ggml reference) way, for every format of the table:
/// quants.c for f32/f16/q4_0/q4_1/q8_0, quantize.c (ck_quantize_*) for the others. Used by tests and tools.
void ck_quantize_row(int fmt, void *dst, const float *src, int64_t n);

// MARK: - Scalar references

/// out (T, N) = x (T, K) · w (N, K)ᵀ, w dequantized exactly, double accumulation.
void ck_ref_matmul(int fmt, float *out, const float *x, const void *w, int64_t T, int64_t K, int64_t N);
/// out (T, n) = table[tokens[t]] dequantized; table (vocab, n) in fmt.
void ck_ref_embedding(int fmt, float *out, const void *table, const int32_t *tokens, int64_t T, int64_t n);
/// out (T, n) = x / sqrt(mean(x²) + eps) * w.
void ck_ref_rms_norm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps);
/// out (T, n) = (x - mean) / sqrt(var + eps) * w + b.
void ck_ref_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n, float eps);
/// In place on x (T, nh*hd): row t is at position p = start_pos + t; pair i of a head rotates by
/// p * freq_base^(-2i/hd). neox = 0 pairs (2i, 2i+1); neox = 1 pairs (i, i + hd/2). The angle is llama.cpp's float
/// one (theta = (float)p multiplied by powf(freq_base, -2/hd) once per pair), so ck_rope can match it bit for bit;
/// only cos and sin are taken in double. freq_factors: NULL, or hd/2 divisors of the pairs' angles (Llama 3's
/// rope_freqs, Phi-3's LongRoPE factors): pair i rotates by theta_i / freq_factors[i] (a float division).
void ck_ref_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base,
                 const float *freq_factors, int neox);
/// Causal attention. q (T, nh*hd) at positions start_pos..start_pos+T-1; k, v (start_pos+T, nkv*hd);
/// out (T, nh*hd). Head h uses kv head h / (nh / nkv); query t (position p = start_pos + t) sees keys 0..p, or,
/// with window > 0 (sliding-window attention), only keys p-window+1..p. window = 0: every earlier key.
void ck_ref_attention(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                      int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window);
/// out (n) = gate / (1 + exp(-gate)) * up.
void ck_ref_swiglu(float *out, const float *gate, const float *up, int64_t n);
/// out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))).
void ck_ref_gelu(float *out, const float *x, int64_t n);

// MARK: - CPU kernels (OpenMP + SIMD)

enum ck_simd { CK_SIMD_SCALAR = 0, CK_SIMD_AVX2 = 1, CK_SIMD_AVX512 = 2 };
/// The best level this CPU supports.
int ck_simd_detect(void);
/// The level the kernels use now (defaults to ck_simd_detect()); lower it to test the portable paths.
int ck_simd_level(void);
/// Process-wide; clamped to 0...ck_simd_detect().
void ck_simd_set_level(int level);
const char *ck_simd_name(int level);
/// Threads OpenMP would use by default (omp_get_max_threads), or 1 without OpenMP.
int ck_max_threads(void);

/// Scratch bytes ck_matmul needs for T rows of K inputs with weights in fmt (activations quantized to 8 bits):
/// about T * (K + K/4) plus 64 for alignment (any address works); 0 for F32 / F16 (scratch may then be NULL).
size_t ck_matmul_scratch_bytes(int fmt, int64_t T, int64_t K);
/// out (T, N) = x (T, K) · w (N, K)ᵀ, w in fmt. For quantized w the activations are first quantized to 8-bit
/// blocks in scratch (as llama.cpp does), then integer dot products run on the blocks. K % 32 == 0 for
/// quantized formats. Threads split the N output rows; below about 32K multiply-adds the call stays on one thread.
void ck_matmul(int fmt, float *out, const float *x, const void *w, int64_t T, int64_t K, int64_t N, int nthreads,
               void *scratch);
/// outs[i] (T, Ns[i]) = x (T, K) · ws[i] (Ns[i], K)ᵀ for i < count, every ws[i] in fmt: projections of one input
/// (Q, K, V; gate and up) with one quantization of x and one parallel region. Scratch: ck_matmul_scratch_bytes.
void ck_matmul_multi(int fmt, int count, float *const *outs, const float *x, const void *const *ws, const int64_t *Ns,
                     int64_t T, int64_t K, int nthreads, void *scratch);
void ck_embedding(int fmt, float *out, const void *table, const int32_t *tokens, int64_t T, int64_t n, int nthreads);
void ck_rms_norm(float *out, const float *x, const float *w, int64_t T, int64_t n, float eps, int nthreads);
void ck_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t T, int64_t n, float eps,
                   int nthreads);
void ck_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base,
             const float *freq_factors, int neox, int nthreads);
/// ck_rope with row t at position positions[t] (T entries, >= 0): the rows of several sequences in one call.
void ck_rope_positions(float *x, int64_t T, const int32_t *positions, int64_t nh, int64_t hd, float freq_base,
                       const float *freq_factors, int neox, int nthreads);
void ck_swiglu(float *out, const float *gate, const float *up, int64_t n, int nthreads);
void ck_gelu(float *out, const float *x, int64_t n, int nthreads);
/// out (n) = gelu(gate) * up, GELU's tanh approximation (GeGLU: Gemma's MLP).
void ck_geglu(float *out, const float *gate, const float *up, int64_t n, int nthreads);
/// x (n) *= factor (Gemma's embedding scale √nEmbd).
void ck_scale(float *x, float factor, int64_t n, int nthreads);
/// out (n) = a + b; out may alias a or b.
void ck_add(float *out, const float *a, const float *b, int64_t n, int nthreads);
/// x (T, n) += bias (n).
void ck_add_bias(float *x, const float *bias, int64_t T, int64_t n, int nthreads);

/// The CPU attention kernels take kv_rows, the rows of the caches k and v: position j is at row j % kv_rows. A full
/// cache (kv_rows >= start_pos + T, or 0 for exactly that) is the identity; a sliding-window layer's cache may be
/// a ring of kv_rows >= window + T - 1 rows (every key some query of the call sees is still there; older ones are
/// overwritten), which the kernels read as at most two contiguous runs.
/// Scratch bytes for ck_attention_naive: the full score matrix, nh * T * (start_pos + T) floats.
size_t ck_attention_naive_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh);
/// Same contract as ck_ref_attention (window included); writes every score to scratch, then softmax, then the
/// weighted sum. On return scratch holds the attention probabilities as (nh, T, start_pos + T) floats, row-major,
/// with zeros above the causal diagonal (and before each row's window), from scratch's first 64-byte boundary on: `gpt attention` reads them to draw
/// attention patterns.
void ck_attention_naive(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int64_t kv_rows,
                        int nthreads, void *scratch);
/// Scratch bytes for ck_attention_fused: per-thread tiles plus the decode split partials, independent of the context
/// length. Pass the same nthreads to ck_attention_fused.
size_t ck_attention_fused_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh, int64_t hd, int nthreads);
/// Same contract as ck_ref_attention, flash style: blocks of queries stream over blocks of keys/values with an
/// online softmax (running max and sum); fully masked blocks are skipped; a KV block is loaded once for all the
/// query heads that share it. One query (decode) over a long cache splits the keys across threads and merges the
/// partial softmax results (flash-decoding). Memory is linear in the context length. With a window, key blocks
/// before every row's window are never read: a query block reads at most window + its own length keys.
void ck_attention_fused(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int64_t kv_rows,
                        int nthreads, void *scratch);

// MARK: - F16 KV cache (llama.cpp's default KV type: half the cache's memory and bandwidth)

/// dst (n) = src (n) rounded to IEEE half (round to nearest even), e.g. new rows of the KV cache. Bit-exact with
/// ck_fp32_to_fp16 for every input (NaN included).
void ck_convert_f32_to_f16(uint16_t *dst, const float *src, int64_t n, int nthreads);
/// ck_attention_fused / ck_attention_naive with the caches k, v (start_pos+T, nkv*hd) stored as IEEE half:
/// same contract and results as converting k and v to float first. Scratch sizes from the *_f16kv_scratch_bytes
/// functions (same arguments as the F32 ones). The fused one converts each block of keys / values it visits into
/// a per-thread buffer in scratch, so its scratch stays independent of the context length.
size_t ck_attention_fused_f16kv_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh, int64_t hd, int nthreads);
void ck_attention_fused_f16kv(float *out, const float *q, const uint16_t *k, const uint16_t *v, int64_t T,
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window,
                              int64_t kv_rows, int nthreads, void *scratch);
/// One sequence of ck_attention_fused_batch: rows row..row+T-1 of q and out, at positions start_pos..start_pos+T-1,
/// over its own caches k, v (kv_rows, nkv*hd) (float or IEEE half, as the call says; kv_rows as above, 0: start_pos + T).
typedef struct {
    int64_t row, T, start_pos, kv_rows;
    const void *k, *v;
} ck_attn_seq;
/// Scratch bytes for ck_attention_fused_batch over `rows` rows (the sum of the sequences' T) of nseq sequences.
size_t ck_attention_fused_batch_scratch_bytes(int64_t rows, int64_t nseq, int64_t nh, int64_t hd, int f16kv,
                                              int nthreads);
/// ck_attention_fused (f16kv = 0) or ck_attention_fused_f16kv (1) of several sequences in one parallel job (a
/// server's step: one decode row per running sequence plus prompt chunks): work items are (sequence, query block,
/// KV head) across all of them, with the same heads, scale and window. Same results as one call per sequence.
void ck_attention_fused_batch(float *out, const float *q, const ck_attn_seq *seqs, int64_t nseq, int f16kv,
                              int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window, int nthreads,
                              void *scratch);
size_t ck_attention_naive_f16kv_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh);
/// On return scratch holds the (nh, T, start_pos+T) probabilities, zeros above the diagonal, like ck_attention_naive.
void ck_attention_naive_f16kv(float *out, const float *q, const uint16_t *k, const uint16_t *v, int64_t T,
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int64_t window,
                              int64_t kv_rows, int nthreads, void *scratch);

// MARK: - Threads (cpu/pool.c)

/// Checks the CPU kernels' worker pool: `rounds` phases on nthreads threads, each thread writing its cell then
/// meeting the others at a barrier and reading every cell of the phase. cells: nthreads * rounds zeroed int64s;
/// *threads receives the threads the job ran on (1 when another caller owned the pool). Returns the number of cells
/// found unwritten after a barrier (0: every barrier held), -1 for bad arguments.
int ck_pool_check(int nthreads, int rounds, int64_t *cells, int *threads);

// MARK: - Roofline calibration (CKernels/calibrate)

/// Peak FP32 FMA throughput in GFLOP/s on nthreads threads (iters loop trips per thread; ~1e8 takes ~0.2 s).
double ck_calibrate_fma_gflops(int nthreads, int64_t iters);
/// Streaming read bandwidth in GB/s over `bytes` (a multiple of 64) of `buffer`.
double ck_calibrate_read_gbps(const void *buffer, int64_t bytes, int nthreads, int repetitions);

// MARK: - Quantizers (quantize.c): dst (n elements in the format) = src (n floats); n a multiple of the block size

/// The top 16 bits of each float rounded to nearest even (ggml's fp32 -> bf16); NaN stays NaN.
void ck_quantize_bf16(uint16_t *dst, const float *src, int64_t n);
/// Round to nearest (ggml's reference q5_0 / q5_1).
void ck_quantize_q5_0(void *dst, const float *src, int64_t n);
void ck_quantize_q5_1(void *dst, const float *src, int64_t n);
/// K-quants with the sub-block scale searches of ggml's reference quantizers (what llama-quantize runs without an
/// importance matrix); n a multiple of 256.
void ck_quantize_q2_K(void *dst, const float *src, int64_t n);
void ck_quantize_q3_K(void *dst, const float *src, int64_t n);
void ck_quantize_q4_K(void *dst, const float *src, int64_t n);
void ck_quantize_q5_K(void *dst, const float *src, int64_t n);
void ck_quantize_q6_K(void *dst, const float *src, int64_t n);
/// IQ4 with ggml's scale search over the non-linear table (quantize_iq4_nl / quantize_iq4_xs without an importance
/// matrix, llama-quantize's path); n a multiple of 32 (iq4_nl) or 256 (iq4_xs).
void ck_quantize_iq4_nl(void *dst, const float *src, int64_t n);
void ck_quantize_iq4_xs(void *dst, const float *src, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
