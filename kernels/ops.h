// kernels/ops.h: the fused ops of grpo. One signature each; up to three implementations
// behind it: a CUDA kernel (kernels/cuda/, when GRPO_CUDA is on and the tensors are on a
// GPU), fused CPU loops for inference (kernels/cpu_kernels.cpp: CPU float32 tensors, no
// gradient needed) and a plain LibTorch reference (kernels/reference.cpp) that is the
// ground truth for both and the path for everything else (autograd, other dtypes). Models
// and the learner call these functions, never an implementation directly.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace grpo::kernels {

// Dispatch: every function below runs the CUDA kernel when the build has GRPO_CUDA, the
// input tensors are on a GPU and use_kernels() is true; the fused CPU loops when the
// inputs are CPU float32, no input requires a gradient (or grad mode is off) and
// use_kernels() is true; otherwise the LibTorch reference (kernels/reference.h), which is
// also what tests compare the kernels against.
// Misuse (wrong rank, dtype, device, sizes) throws c10::Error (TORCH_CHECK) naming the
// argument. All functions are thread-safe (no shared mutable state besides the switch).

// Whether the CUDA implementations are compiled in and a GPU is present.
bool cuda_available();
// Process-wide switch (model.use_kernels): false forces the reference on every device.
void set_use_kernels(bool on);
bool use_kernels();

// RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight, computed in fp32.
//  x: [N, H] (any leading dims) float/bf16; weight: [H]. Returns x's dtype. Differentiable.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Fused residual add + RMSNorm: r = x + residual; returns (rms_norm(r), r). Differentiable.
std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps);

struct MoeGateOptions {
  int64_t top_k = 8;
  int64_t n_group = 1;        // expert groups (group-limited routing)
  int64_t topk_group = 1;     // groups kept per token
  bool sigmoid = true;        // DeepSeek-V3 sigmoid scores; false: softmax (V2)
  bool norm_topk_prob = true; // renormalise the selected weights to sum 1
  double routed_scaling_factor = 1.0;
};
// MoE gate: scores = sigmoid|softmax(logits); selection uses scores + bias (bias only for
// choosing, DeepSeek-V3 aux-loss-free balancing); groups ranked by the sum of their top-2
// biased scores (sigmoid) or their max (softmax); weights from the unbiased scores.
//  logits: [N, E] fp32; bias: [E] fp32 or undefined.
//  Returns (topk_idx [N, K] int64, topk_weight [N, K] fp32 differentiable w.r.t. logits,
//           expert_load [E] int64 tokens per expert).
std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt);

// Per-token log-prob of `targets` (and entropy) under softmax(hidden @ weight^T / T),
// chunked over tokens so [N, V] fp32 logits are never materialised at once; forward and
// backward (gradients to hidden and weight).
// Logits are computed chunk by chunk in the input dtype and reduced in fp32.
// chunk_tokens <= 0 picks a chunk of about 256 MiB of fp32 logits.
//  hidden: [N, H] float/bf16; weight: [V, H] same dtype; targets: [N] int64 in [0, V);
//  temperature > 0.
//  Returns (logprob [N] fp32, entropy [N] fp32; entropy undefined unless with_entropy).
std::tuple<at::Tensor, at::Tensor> token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                  const at::Tensor& targets, double temperature,
                                                  int64_t chunk_tokens, bool with_entropy);

// Routing of N tokens x K experts each to E experts, sorted by expert (stable: within an
// expert, rows keep token order). Built once per MoE layer call and shared by
// moe_permute / moe_unpermute. All tensors int64 on the device of topk_idx.
struct MoeRouting {
  at::Tensor token;   // [N*K] source token of each permuted row
  at::Tensor pos;     // [N*K] permuted row of pair (n, k), flattened as n*K + k
  at::Tensor counts;  // [E] rows per expert (the group sizes for grouped_gemm)
  int64_t num_experts = 0;
  int64_t top_k = 0;
};
//  topk_idx: [N, K] int64 expert ids in [0, E). Throws c10::Error on ids out of range.
MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts);

// Gathers token rows into expert order: out[r] = x[routing.token[r]].
//  x: [N, H] float/bf16. Returns [N*K, H] in x's dtype. Differentiable w.r.t. x.
at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing);

// Combines expert outputs back per token: out[n] = sum_k weight[n,k] * y[pos[n*K+k]],
// accumulated in fp32.
//  y: [N*K, H] float/bf16; weight: [N, K] fp32 (the gate's topk_weight).
//  Returns [N, H] in y's dtype. Differentiable w.r.t. y and weight.
at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing);

// Grouped expert GEMM: rows of x are grouped by expert (counts[e] consecutive rows for
// expert e, as moe_permute lays them out), and each group is multiplied by its expert's
// weight: out[rows of e] = x[rows of e] @ w[e]^T (nn.Linear layout).
//  x: [M, K] float/bf16; w: [E, N, K] same dtype; counts: [E] int64 summing to M (any
//  device; on a GPU it is read back to the host once per call).
//  Returns [M, N] in x's dtype. Differentiable w.r.t. x and w (grouped GEMMs backward too).
at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts);

// MLA decode attention in the absorbed form (DeepSeek-V2/V3, as FlashMLA): one new token
// per sequence attends over its slot's compressed cache. With q_nope already absorbed
// through W_UK (q_latent = q_nope @ W_UK), scores are
//   s[h, t] = (q_latent[h] . kv_latent[t] + q_rope[h] . k_rope[t]) * softmax_scale
// and the output is sum_t softmax(s)[h, t] * kv_latent[t] (the caller applies W_UV).
//  q_latent:  [B, Hq, Dc] float/bf16 (Dc = kv_lora_rank)
//  q_rope:    [B, Hq, Dr] same dtype (Dr = qk_rope_head_dim)
//  kv_latent: [S, L, Dc] same dtype, the cache of S slots of up to L tokens
//  k_rope:    [S, L, Dr] same dtype
//  slots:     [B] int64, the cache slot of each row (any device)
//  lengths:   [B] int64, tokens to attend in each slot, 1..L (the new token included)
//  Returns (out [B, Hq, Dc] in q's dtype, lse [B, Hq] fp32 natural-log sum of exp(s)).
//  Inference only (not differentiable).
std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale);

}  // namespace grpo::kernels
