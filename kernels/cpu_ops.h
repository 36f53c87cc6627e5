// kernels/cpu_ops.h: the fast CPU implementations of the ops in ops.h, for inference.
// Rollout decode on a CPU is a long chain of tiny ops (a B = 64 step of a small model is a
// few hundred kilo-FLOPs per op), so the time goes to dispatching ATen ops, not to
// arithmetic. Each function here is one pass of plain loops over raw fp32 pointers
// (vectorised with `omp simd`, compiled for AVX-512, AVX2 and baseline x86-64 and picked at
// run time), parallel over rows with at::parallel_for.
// Contract: every input is a CPU float32 tensor (int64 for indices) and no gradient is
// needed; dispatch.cpp checks this with cpu::handles() before calling and otherwise takes
// the reference. Same shapes, results (to float rounding) and argument checks as the
// reference.h versions, which the tests compare them against. Thread-safe.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

#include "kernels/ops.h"

namespace grpo::kernels::cpu {

// True when `t` is a defined CPU float32 tensor. Differentiable ops also need the caller to
// check that no input requires a gradient (dispatch.cpp: needs_grad()).
bool handles(const at::Tensor& t);

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps);
// Ties between equal scores go to the lower expert (and group) index.
std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt);
// A counting sort; identical to the reference's stable argsort (any dtype of x later).
MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts);
at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing);
// One GEMM per expert written in place into the output (no concatenation).
at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts);
std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale);

}  // namespace grpo::kernels::cpu
