// ckernels.h: SwiftGPT's C kernels. The only public header of the CKernels target.
//
// Two families with one calling convention (destination first, then inputs, then int64_t sizes):
//   ck_ref_*  scalar references: obviously correct, double accumulation where sums are long. The oracle of
//             `gpt check`, never used to generate text.
//   ck_*      the CPU kernels of the `openmp` backend: OpenMP over rows / tokens / heads, SIMD picked at run time
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

enum ck_format { CK_F32 = 0, CK_F16 = 1, CK_Q4_0 = 2, CK_Q4_1 = 3, CK_Q8_0 = 8 };

#define CK_QK 32  // elements per quantized block

typedef struct { uint16_t d; int8_t qs[CK_QK]; } ck_block_q8_0;               // 34 bytes: x = d*q
typedef struct { uint16_t d; uint8_t qs[CK_QK / 2]; } ck_block_q4_0;          // 18 bytes: x = d*(nib-8)
typedef struct { uint16_t d; uint16_t m; uint8_t qs[CK_QK / 2]; } ck_block_q4_1;  // 20 bytes: x = d*nib + m
// q4 nibble order: qs[j] & 0xF is element j, qs[j] >> 4 is element j + 16.

float ck_fp16_to_fp32(uint16_t h);
uint16_t ck_fp32_to_fp16(float f);  // round to nearest even

/// Bytes of one row of n elements in fmt (n a multiple of 32 for the quantized formats); 0 for an unknown fmt or a
/// quantized n that is not a multiple of 32.
size_t ck_row_bytes(int fmt, int64_t n);
/// dst (n) = src row (n elements in fmt) as floats.
void ck_dequantize_row(int fmt, float *dst, const void *src, int64_t n);
/// dst (n elements in fmt) = src (n) quantized the standard (ggml reference) way: used by tests and tools.
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
/// only cos and sin are taken in double.
void ck_ref_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base, int neox);
/// Causal attention. q (T, nh*hd) at positions start_pos..start_pos+T-1; k, v (start_pos+T, nkv*hd);
/// out (T, nh*hd). Head h uses kv head h / (nh / nkv); query t sees keys 0..start_pos+t.
void ck_ref_attention(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                      int64_t nh, int64_t nkv, int64_t hd, float scale);
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
void ck_rope(float *x, int64_t T, int64_t start_pos, int64_t nh, int64_t hd, float freq_base, int neox,
             int nthreads);
void ck_swiglu(float *out, const float *gate, const float *up, int64_t n, int nthreads);
void ck_gelu(float *out, const float *x, int64_t n, int nthreads);
/// out (n) = a + b; out may alias a or b.
void ck_add(float *out, const float *a, const float *b, int64_t n, int nthreads);
/// x (T, n) += bias (n).
void ck_add_bias(float *x, const float *bias, int64_t T, int64_t n, int nthreads);

/// Scratch bytes for ck_attention_naive: the full score matrix, nh * T * (start_pos + T) floats.
size_t ck_attention_naive_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh);
/// Same contract as ck_ref_attention; writes every score to scratch, then softmax, then the weighted sum.
/// On return scratch holds the attention probabilities as (nh, T, start_pos + T) floats, row-major, with zeros
/// above the causal diagonal, from scratch's first 64-byte boundary on: `gpt attention` reads them to draw
/// attention patterns.
void ck_attention_naive(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int nthreads, void *scratch);
/// Scratch bytes for ck_attention_fused: per-thread tiles plus the decode split partials, independent of the context
/// length. Pass the same nthreads to ck_attention_fused.
size_t ck_attention_fused_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh, int64_t hd, int nthreads);
/// Same contract as ck_ref_attention, flash style: blocks of queries stream over blocks of keys/values with an
/// online softmax (running max and sum); fully masked blocks are skipped; a KV block is loaded once for all the
/// query heads that share it. One query (decode) over a long cache splits the keys across threads and merges the
/// partial softmax results (flash-decoding). Memory is linear in the context length.
void ck_attention_fused(float *out, const float *q, const float *k, const float *v, int64_t T, int64_t start_pos,
                        int64_t nh, int64_t nkv, int64_t hd, float scale, int nthreads, void *scratch);

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
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int nthreads,
                              void *scratch);
size_t ck_attention_naive_f16kv_scratch_bytes(int64_t T, int64_t start_pos, int64_t nh);
/// On return scratch holds the (nh, T, start_pos+T) probabilities, zeros above the diagonal, like ck_attention_naive.
void ck_attention_naive_f16kv(float *out, const float *q, const uint16_t *k, const uint16_t *v, int64_t T,
                              int64_t start_pos, int64_t nh, int64_t nkv, int64_t hd, float scale, int nthreads,
                              void *scratch);

// MARK: - Roofline calibration (CKernels/calibrate)

/// Peak FP32 FMA throughput in GFLOP/s on nthreads threads (iters loop trips per thread; ~1e8 takes ~0.2 s).
double ck_calibrate_fma_gflops(int nthreads, int64_t iters);
/// Streaming read bandwidth in GB/s over `bytes` (a multiple of 64) of `buffer`.
double ck_calibrate_read_gbps(const void *buffer, int64_t bytes, int nthreads, int repetitions);

#ifdef __cplusplus
}
#endif
#endif
