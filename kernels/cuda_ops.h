// kernels/cuda_ops.h: the CUDA implementations of the ops in ops.h at tensor level
// (compiled only with GRPO_CUDA). Each op has one adapter file kernels/cuda_<op>.cpp that
// checks its tensors, turns them into the plain parameter struct of its kernel in
// kernels/cuda/<op>.cuh and launches it on the current stream; the .cu files never see
// a torch header. Differentiable ops wrap their forward and backward kernels in a custom
// autograd Function here. Inputs must be CUDA tensors of float, bfloat16 or half (callers:
// dispatch.cpp and tests); same shapes, results and failures as the reference.h versions.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

#include "kernels/ops.h"

namespace grpo::kernels::cuda {

// True when a CUDA device is visible to this process.
bool device_present();

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps);
std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt);
at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing);
at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing);
at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts);
std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale);

// Per-chunk steps of token_logprobs (see reference.h for the formulas). The backward
// overwrites `logits` [n, V] with dlogits (same dtype) so no second [n, V] buffer exists.
void logprob_chunk_forward(const at::Tensor& logits, const at::Tensor& targets, double inv_t,
                           at::Tensor& logprob, at::Tensor& lse, at::Tensor& entropy);
void logprob_chunk_backward_(at::Tensor& logits, const at::Tensor& targets, double inv_t,
                             const at::Tensor& lse, const at::Tensor& entropy,
                             const at::Tensor& g_logprob, const at::Tensor& g_entropy);

}  // namespace grpo::kernels::cuda
