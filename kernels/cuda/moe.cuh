// kernels/cuda/moe.cuh: host launchers of the MoE kernels: the fused DeepSeek gate (scores,
// biased group-limited top-k, weights, per-expert load) and the row permute / weighted
// unpermute by expert, forward and backward. Row-major contiguous buffers; launches on
// `stream`; failures throw grpo::Error.
#pragma once
#include <cstdint>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

struct MoeGateParams {
  const void* logits = nullptr;  // tokens x experts, dtype
  const float* bias = nullptr;   // experts fp32 (selection only); nullable
  int64_t* topk_idx = nullptr;   // tokens x top_k int64, by biased score descending
  float* topk_weight = nullptr;  // tokens x top_k fp32
  int64_t* load = nullptr;       // experts int64, zeroed by the caller; += tokens routed
  int64_t tokens = 0;
  int experts = 0, top_k = 0, n_group = 1, topk_group = 1;
  bool sigmoid = true, norm_topk_prob = true;
  float routed_scaling_factor = 1.f;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
// Limits: experts <= 1024, top_k <= 32, n_group <= 32.
void moe_gate_forward(const MoeGateParams& p);

// out[r] = x[src[r]] for r < rows_out; rows of `row_bytes` bytes (any dtype).
struct MoePermuteParams {
  const void* x = nullptr;
  const int64_t* src = nullptr;  // rows_out, row indices into x
  void* out = nullptr;
  int64_t rows_out = 0, row_bytes = 0;
  cudaStream_t stream = nullptr;
};
void moe_permute_forward(const MoePermuteParams& p);

// out[n] = sum_k w[n,k] * y[pos[n*K+k]] in fp32 (w nullable: all ones).
struct MoeUnpermuteParams {
  const void* y = nullptr;      // (tokens*K) x cols, dtype
  const float* w = nullptr;     // tokens x K fp32; nullable
  const int64_t* pos = nullptr; // tokens*K
  void* out = nullptr;          // tokens x cols, dtype
  int64_t tokens = 0, cols = 0;
  int top_k = 0;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
void moe_unpermute_forward(const MoeUnpermuteParams& p);

// Backward of unpermute: dy[pos[n*K+k]] = w[n,k] * g[n]; dw[n,k] = g[n] . y[pos[n*K+k]].
struct MoeUnpermuteBwdParams {
  const void* g = nullptr;      // tokens x cols, dtype
  const void* y = nullptr;      // (tokens*K) x cols, dtype
  const float* w = nullptr;     // tokens x K fp32
  const int64_t* pos = nullptr; // tokens*K
  void* dy = nullptr;           // (tokens*K) x cols, dtype
  float* dw = nullptr;          // tokens x K fp32
  int64_t tokens = 0, cols = 0;
  int top_k = 0;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
void moe_unpermute_backward(const MoeUnpermuteBwdParams& p);

}  // namespace grpo::kernels::cuda
