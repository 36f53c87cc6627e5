// kernels/ops.h: the fused ops of grpo. One signature each; two implementations behind
// it: a CUDA kernel (kernels/cuda/, when GRPO_CUDA is on and the tensors are on a GPU) and
// a plain LibTorch reference that is also the CPU path (kernels/reference.cpp). Models
// and the learner call these functions, never an implementation directly.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace grpo::kernels {

// Whether the CUDA implementations are compiled in and a GPU is present.
bool cuda_available();
// Process-wide switch (model.use_kernels): false forces the reference on every device.
void set_use_cuda_kernels(bool on);
bool use_cuda_kernels();

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
//  hidden: [N, H]; weight: [V, H]; targets: [N] int64.
//  Returns (logprob [N] fp32, entropy [N] fp32; entropy undefined unless with_entropy).
std::tuple<at::Tensor, at::Tensor> token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                  const at::Tensor& targets, double temperature,
                                                  int64_t chunk_tokens, bool with_entropy);

}  // namespace grpo::kernels
