// kernels/cuda/rms_norm.cu: fused residual add + RMSNorm, forward and backward.
// defines: rms_norm_forward, rms_norm_backward, rms_norm_backward_blocks
// Forward: one block per row; pass 1 forms r = x + residual (rounded to the storage type,
// as the reference does), stores it and sums r^2 in fp32; pass 2 re-reads r (L1/L2-hot)
// and writes y = r * inv_rms * w. Backward: a grid-stride loop of rows per block;
// dx = inv * (dy*w - r*inv * mean(dy*w*r*inv)) + dsum, and each block accumulates
// dy * r * inv into its own row of dw_partial (columns owned by one thread: no atomics).
#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rms_norm.cuh"

namespace grpo::kernels::cuda {
namespace {
constexpr int kThreads = 256;

template <class T>
__global__ void rms_norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ residual,
                                    const float* __restrict__ w, T* __restrict__ y,
                                    T* __restrict__ sum, float* __restrict__ inv_rms, int64_t cols,
                                    float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * cols;
  const T* src = xr;
  float ss = 0.f;
  if (residual != nullptr) {
    const T* rr = residual + row * cols;
    T* sr = sum + row * cols;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      T v = from_f<T>(to_f(xr[j]) + to_f(rr[j]));
      sr[j] = v;
      const float f = to_f(v);
      ss += f * f;
    }
    src = sr;
  } else {
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float f = to_f(xr[j]);
      ss += f * f;
    }
  }
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) inv_rms[row] = inv;
  // With a residual, the re-read of `sum` sees this block's own writes (same threads).
  T* yr = y + row * cols;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = from_f<T>(to_f(src[j]) * inv * w[j]);
}

template <class T>
__global__ void rms_norm_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ dsum,
                                    const T* __restrict__ r, const float* __restrict__ inv_rms,
                                    const float* __restrict__ w, T* __restrict__ dx,
                                    float* __restrict__ dw_partial, int64_t rows, int64_t cols) {
  __shared__ float scratch[32];
  float* dwp = dw_partial + static_cast<int64_t>(blockIdx.x) * cols;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* dyr = dy + row * cols;
    const T* rr = r + row * cols;
    const float inv = inv_rms[row];
    float dot = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float g = to_f(dyr[j]);
      const float xhat = to_f(rr[j]) * inv;
      dot += g * w[j] * xhat;
      dwp[j] += g * xhat;
    }
    dot = block_sum(dot, scratch) / static_cast<float>(cols);
    T* dxr = dx + row * cols;
    const T* dsr = dsum != nullptr ? dsum + row * cols : nullptr;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float xhat = to_f(rr[j]) * inv;
      float v = inv * (to_f(dyr[j]) * w[j] - xhat * dot);
      if (dsr != nullptr) v += to_f(dsr[j]);
      dxr[j] = from_f<T>(v);
    }
  }
}
}  // namespace

void rms_norm_forward(const RmsNormFwdParams& p) {
  if (p.rows == 0) return;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    rms_norm_fwd_kernel<T><<<static_cast<unsigned>(p.rows), kThreads, 0, p.stream>>>(
        static_cast<const T*>(p.x), static_cast<const T*>(p.residual), p.weight,
        static_cast<T*>(p.y), static_cast<T*>(p.sum), p.inv_rms, p.cols, p.eps);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

int64_t rms_norm_backward_blocks(int64_t rows) {
  // Enough blocks to fill an H100 (132 SMs) a few times over; dw_partial stays small.
  return std::max<int64_t>(1, std::min<int64_t>(rows, 512));
}

void rms_norm_backward(const RmsNormBwdParams& p) {
  if (p.rows == 0) return;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    rms_norm_bwd_kernel<T><<<static_cast<unsigned>(p.blocks), kThreads, 0, p.stream>>>(
        static_cast<const T*>(p.dy), static_cast<const T*>(p.dsum), static_cast<const T*>(p.r),
        p.inv_rms, p.weight, static_cast<T*>(p.dx), p.dw_partial, p.rows, p.cols);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace grpo::kernels::cuda
