// kernels/cuda/rms_norm.cuh: host launchers of the fused residual-add + RMSNorm kernels.
// Buffers are row-major and contiguous: rows x cols. Launch on `stream`; failures throw
// grpo::Error (GRPO_CUDA_CHECK). Not thread-safe per params object (plain data).
#pragma once
#include <cstdint>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

struct RmsNormFwdParams {
  const void* x = nullptr;         // rows x cols, dtype
  const void* residual = nullptr;  // rows x cols, dtype; nullptr: plain RMSNorm
  const float* weight = nullptr;   // cols fp32
  void* y = nullptr;               // rows x cols, dtype: normalised output
  void* sum = nullptr;             // rows x cols, dtype: x + residual (only with residual)
  float* inv_rms = nullptr;        // rows fp32: 1/sqrt(mean(r^2)+eps), saved for backward
  int64_t rows = 0, cols = 0;
  float eps = 1e-6f;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
void rms_norm_forward(const RmsNormFwdParams& p);

struct RmsNormBwdParams {
  const void* dy = nullptr;         // rows x cols, dtype: gradient of y
  const void* dsum = nullptr;       // rows x cols, dtype: gradient of the sum output; nullable
  const void* r = nullptr;          // rows x cols, dtype: the normalised input (x or x+residual)
  const float* inv_rms = nullptr;   // rows fp32 from the forward
  const float* weight = nullptr;    // cols fp32
  void* dx = nullptr;               // rows x cols, dtype: gradient of r (= of x and residual)
  float* dw_partial = nullptr;      // blocks x cols fp32, zeroed by the caller; sum over blocks = dw
  int64_t blocks = 0;               // rows of dw_partial (see rms_norm_backward_blocks)
  int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
// Number of blocks (rows of dw_partial) the backward uses for `rows`.
int64_t rms_norm_backward_blocks(int64_t rows);
void rms_norm_backward(const RmsNormBwdParams& p);

}  // namespace grpo::kernels::cuda
