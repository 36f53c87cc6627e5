// kernels/cuda/rms_norm.cu: fused residual add + RMSNorm, forward and backward.
// defines: rms_norm_forward, rms_norm_backward, rms_norm_backward_blocks
// Forward: one block per row; pass 1 forms r = x + residual (rounded to the storage type,
// as the reference does), stores it and sums r^2 in fp32; pass 2 re-reads r (L1/L2-hot)
// and writes y = r * inv_rms * w; 16-byte vector accesses when the rows allow. Backward: a grid-stride loop of rows per block;
// dx = inv * (dy*w - r*inv * mean(dy*w*r*inv)) + dsum, and each block accumulates
// dy * r * inv into its own row of dw_partial (columns owned by one thread: no atomics).
#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rms_norm.cuh"

namespace grpo::kernels::cuda {
namespace {
constexpr int kThreads = 256;

// Sums of squares over a row; with a residual also writes sum = x + residual (rounded to
// T). VEC: elements per access (16-byte vectors when the row allows, else 1).
template <class T, int VEC>
__device__ __forceinline__ float rms_pass1(const T* __restrict__ xr, const T* __restrict__ rr,
                                           T* __restrict__ sr, int64_t cols) {
  struct alignas(sizeof(T) * VEC) Pack { T v[VEC]; };
  const Pack* xp = reinterpret_cast<const Pack*>(xr);
  const Pack* rp = reinterpret_cast<const Pack*>(rr);
  Pack* sp = reinterpret_cast<Pack*>(sr);
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < cols / VEC; i += blockDim.x) {
    Pack a = xp[i];
    if (rr != nullptr) {
      const Pack b = rp[i];
#pragma unroll
      for (int q = 0; q < VEC; ++q) a.v[q] = from_f<T>(to_f(a.v[q]) + to_f(b.v[q]));
      sp[i] = a;
    }
#pragma unroll
    for (int q = 0; q < VEC; ++q) {
      const float f = to_f(a.v[q]);
      ss += f * f;
    }
  }
  return ss;
}

template <class T, int VEC>
__device__ __forceinline__ void rms_pass2(const T* __restrict__ src, const float* __restrict__ w,
                                          T* __restrict__ yr, float inv, int64_t cols) {
  struct alignas(sizeof(T) * VEC) Pack { T v[VEC]; };
  const Pack* in = reinterpret_cast<const Pack*>(src);
  Pack* out = reinterpret_cast<Pack*>(yr);
  for (int64_t i = threadIdx.x; i < cols / VEC; i += blockDim.x) {
    const Pack a = in[i];
    Pack o;
#pragma unroll
    for (int q = 0; q < VEC; ++q) o.v[q] = from_f<T>(to_f(a.v[q]) * inv * w[i * VEC + q]);
    out[i] = o;
  }
}

template <class T, int VEC>
__global__ void rms_norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ residual,
                                    const float* __restrict__ w, T* __restrict__ y,
                                    T* __restrict__ sum, float* __restrict__ inv_rms, int64_t cols,
                                    float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * cols;
  const T* rr = residual != nullptr ? residual + row * cols : nullptr;
  T* sr = residual != nullptr ? sum + row * cols : nullptr;
  float ss = rms_pass1<T, VEC>(xr, rr, sr, cols);
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) inv_rms[row] = inv;
  // With a residual, pass 2 re-reads `sum`: the same thread wrote the same elements.
  rms_pass2<T, VEC>(rr != nullptr ? sr : xr, w, y + row * cols, inv, cols);
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
    constexpr int kVec = 16 / sizeof(T);
    // Rows start 16-byte aligned when cols is a multiple of kVec and the buffers are.
    auto aligned = [](const void* q) { return q == nullptr || reinterpret_cast<uintptr_t>(q) % 16 == 0; };
    const bool vec = p.cols % kVec == 0 && aligned(p.x) && aligned(p.residual) && aligned(p.y) &&
                     aligned(p.sum);
    const unsigned blocks = static_cast<unsigned>(p.rows);
    auto args = [&](auto kernel) {
      kernel<<<blocks, kThreads, 0, p.stream>>>(
          static_cast<const T*>(p.x), static_cast<const T*>(p.residual), p.weight,
          static_cast<T*>(p.y), static_cast<T*>(p.sum), p.inv_rms, p.cols, p.eps);
    };
    if (vec) {
      args(rms_norm_fwd_kernel<T, kVec>);
    } else {
      args(rms_norm_fwd_kernel<T, 1>);
    }
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
