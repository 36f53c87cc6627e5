// kernels/reference.h: the plain LibTorch references of every op in ops.h. They are the
// CPU path and the ground truth the CUDA kernels are tested against
// (tests/kernels/kernels_gpu_test.cpp). Written for clarity: composed of ATen ops
// (so autograd differentiates them) and computed in fp32, except token_logprobs, whose
// chunked custom autograd Function is shared with the CUDA path (only its two per-chunk
// steps differ). Same contracts, shapes and failures as the ops.h functions; thread-safe.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

#include "kernels/ops.h"

namespace grpo::kernels::ref {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps);
std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt);
// Gradient of moe_gate's topk_weight w.r.t. the logits, in closed form (used by the CUDA
// gate's backward; the reference itself differentiates through autograd):
// w_k = c s_k / S (S = sum_j s_j + 1e-20, or w_k = c s_k without normalisation) gives
// ds_k = c (g_k / S - sum_j g_j s_j / S^2), scattered to the experts, then through the
// sigmoid (s (1 - s)) or the softmax (s (gs - sum gs s)).
//  logits: [N, E]; topk_idx: [N, K] int64; grad_weight: [N, K]. Returns [N, E] in
//  logits' dtype.
at::Tensor moe_gate_backward(const at::Tensor& logits, const at::Tensor& topk_idx,
                             const at::Tensor& grad_weight, const MoeGateOptions& opt);
MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts);
at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing);
at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing);
at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts);
std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale);
std::tuple<at::Tensor, at::Tensor> token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                  const at::Tensor& targets, double temperature,
                                                  int64_t chunk_tokens, bool with_entropy);

// The two per-chunk steps of token_logprobs (reference versions).
// Forward: from logits [n, V] (any float dtype) of one chunk, writes for each row, with
// z = logits * inv_t in fp32: lse [n] = logsumexp(z), logprob [n] = z[target] - lse and,
// when `entropy` is defined, entropy [n] = lse - sum softmax(z) * z. Outputs fp32 [n].
void logprob_chunk_forward(const at::Tensor& logits, const at::Tensor& targets, double inv_t,
                           at::Tensor& logprob, at::Tensor& lse, at::Tensor& entropy);
// Backward: gradient w.r.t. logits [n, V] (returned in logits' dtype) given the upstream
// gradients g_logprob [n] and g_entropy [n] (either may be undefined = zero):
//   dz = g_lp * (onehot(target) - p) - g_ent * p * (z - (lse - entropy)),  dlogits = dz * inv_t.
at::Tensor logprob_chunk_backward(const at::Tensor& logits, const at::Tensor& targets,
                                  double inv_t, const at::Tensor& lse, const at::Tensor& entropy,
                                  const at::Tensor& g_logprob, const at::Tensor& g_entropy);

// Argument checks shared by the reference and CUDA paths (TORCH_CHECK on failure).
void check_rms_norm_args(const at::Tensor& x, const at::Tensor& weight, double eps);
void check_moe_gate_args(const at::Tensor& logits, const at::Tensor& bias,
                         const MoeGateOptions& opt);
void check_mla_decode_args(const at::Tensor& q_latent, const at::Tensor& q_rope,
                           const at::Tensor& kv_latent, const at::Tensor& k_rope,
                           const at::Tensor& slots, const at::Tensor& lengths,
                           bool check_values = true);  // false: shapes only (no device sync)
void check_token_logprobs_args(const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, double temperature);
// Chunk size used by token_logprobs for `chunk_tokens` (<= 0: about 256 MiB of fp32 logits).
int64_t logprob_chunk_size(int64_t chunk_tokens, int64_t vocab);

}  // namespace grpo::kernels::ref
