// kernels/cuda/moe.cu: MoE routing kernels.
// defines: moe_gate_forward, moe_permute_forward, moe_unpermute_forward, moe_unpermute_backward
// Gate: one block per token, one thread per expert (scores, biased choice scores and the
// group scores live in shared memory); groups and experts are picked by top_k rounds of a
// block-wide arg-max (ties to the lower index), which for E <= 1024 and K <= 32 costs far
// less than reading the logits. Permute is a byte-wise row gather (16-byte vectors when
// aligned); unpermute gathers the K expert rows of a token and sums them in fp32.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/moe.cuh"

#include <stdexcept>

#include "core/error.h"

namespace grpo::kernels::cuda {
namespace {

// Block-wide arg-max of (v, i), ties to the smaller index; result in every thread.
__device__ __forceinline__ void block_argmax(float& v, int& i, float* sv, int* si) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (ov > v || (ov == v && oi < i)) { v = ov; i = oi; }
  }
  __syncthreads();
  if (lane == 0) { sv[warp] = v; si[warp] = i; }
  __syncthreads();
  v = lane < nwarps ? sv[lane] : -INFINITY;
  i = lane < nwarps ? si[lane] : 0x7fffffff;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (ov > v || (ov == v && oi < i)) { v = ov; i = oi; }
  }
}

template <class T>
__global__ void moe_gate_kernel(MoeGateParams p) {
  extern __shared__ float smem[];
  float* score = smem;                 // [E] unbiased scores
  float* choice = smem + p.experts;    // [E] biased, masked choice scores
  __shared__ float sv[32];
  __shared__ int si[32];
  __shared__ float gscore[32];
  __shared__ int gkeep[32];
  __shared__ float wsum;
  const int e = threadIdx.x;
  const bool active = e < p.experts;
  const T* row = static_cast<const T*>(p.logits) + blockIdx.x * static_cast<int64_t>(p.experts);
  const float l = active ? to_f(row[e]) : -INFINITY;
  float s;
  if (p.sigmoid) {
    s = 1.f / (1.f + expf(-l));  // accurate expf: selection must match the reference
  } else {
    const float m = block_max(l, sv);
    const float ex = active ? expf(l - m) : 0.f;
    s = ex / block_sum(ex, sv);
  }
  if (active) {
    score[e] = s;
    choice[e] = s + (p.bias != nullptr ? p.bias[e] : 0.f);
  }
  __syncthreads();
  if (p.n_group > 1) {
    const int per = p.experts / p.n_group;
    if (e < p.n_group) {  // group score: top-2 sum (sigmoid, V3) or max (softmax, V2)
      float a = -INFINITY, b = -INFINITY;
      for (int j = e * per; j < (e + 1) * per; ++j) {
        const float c = choice[j];
        if (c > a) { b = a; a = c; } else if (c > b) { b = c; }
      }
      gscore[e] = p.sigmoid ? (per > 1 ? a + b : a) : a;
      gkeep[e] = 0;
    }
    __syncthreads();
    for (int r = 0; r < p.topk_group; ++r) {
      float v = (e < p.n_group && !gkeep[e]) ? gscore[e] : -INFINITY;
      int i = e < p.n_group && !gkeep[e] ? e : 0x7fffffff;
      block_argmax(v, i, sv, si);
      if (threadIdx.x == 0) gkeep[i] = 1;
      __syncthreads();
    }
    if (active && !gkeep[e / per]) choice[e] = -INFINITY;
    __syncthreads();
  }
  int64_t* out_idx = p.topk_idx + blockIdx.x * static_cast<int64_t>(p.top_k);
  float* out_w = p.topk_weight + blockIdx.x * static_cast<int64_t>(p.top_k);
  if (threadIdx.x == 0) wsum = 0.f;
  for (int k = 0; k < p.top_k; ++k) {
    float v = active ? choice[e] : -INFINITY;
    int i = active ? e : 0x7fffffff;
    block_argmax(v, i, sv, si);
    if (threadIdx.x == 0) {
      out_idx[k] = i;
      out_w[k] = score[i];
      wsum += score[i];
      choice[i] = -INFINITY;  // taken
      atomicAdd(reinterpret_cast<unsigned long long*>(p.load + i), 1ull);
    }
    __syncthreads();
  }
  if (threadIdx.x < p.top_k) {
    float w = out_w[threadIdx.x];
    if (p.norm_topk_prob) w = w / (wsum + 1e-20f);
    out_w[threadIdx.x] = w * p.routed_scaling_factor;
  }
}

template <class V>
__global__ void permute_kernel(const V* __restrict__ x, const int64_t* __restrict__ src,
                               V* __restrict__ out, int64_t row_elems) {
  const int64_t r = blockIdx.x;
  const V* in = x + src[r] * row_elems;
  V* o = out + r * row_elems;
  for (int64_t j = threadIdx.x; j < row_elems; j += blockDim.x) o[j] = in[j];
}

template <class T>
__global__ void unpermute_kernel(const T* __restrict__ y, const float* __restrict__ w,
                                 const int64_t* __restrict__ pos, T* __restrict__ out,
                                 int64_t cols, int top_k) {
  const int64_t n = blockIdx.x;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float acc = 0.f;
    for (int k = 0; k < top_k; ++k) {
      const int64_t row = pos[n * top_k + k];
      acc += (w != nullptr ? w[n * top_k + k] : 1.f) * to_f(y[row * cols + j]);
    }
    out[n * cols + j] = from_f<T>(acc);
  }
}

template <class T>
__global__ void unpermute_bwd_kernel(const T* __restrict__ g, const T* __restrict__ y,
                                     const float* __restrict__ w, const int64_t* __restrict__ pos,
                                     T* __restrict__ dy, float* __restrict__ dw, int64_t cols,
                                     int top_k) {
  __shared__ float scratch[32];
  const int64_t n = blockIdx.x;
  const T* gr = g + n * cols;
  for (int k = 0; k < top_k; ++k) {
    const int64_t row = pos[n * top_k + k];
    const float wk = w[n * top_k + k];
    float dot = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float gv = to_f(gr[j]);
      dot += gv * to_f(y[row * cols + j]);
      dy[row * cols + j] = from_f<T>(wk * gv);
    }
    dot = block_sum(dot, scratch);
    if (threadIdx.x == 0) dw[n * top_k + k] = dot;
  }
}
}  // namespace

void moe_gate_forward(const MoeGateParams& p) {
  if (p.tokens == 0) return;
  GRPO_ENSURE(p.experts >= 1 && p.experts <= 1024 && p.top_k >= 1 && p.top_k <= 32 &&
                  p.n_group >= 1 && p.n_group <= 32,
              "moe_gate (CUDA): needs 1 <= experts <= 1024, top_k <= 32, n_group <= 32; got ",
              p.experts, ", ", p.top_k, ", ", p.n_group);
  const int threads = (p.experts + 31) / 32 * 32;
  const size_t smem = 2 * sizeof(float) * static_cast<size_t>(p.experts);
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    moe_gate_kernel<T><<<static_cast<unsigned>(p.tokens), threads, smem, p.stream>>>(p);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

void moe_permute_forward(const MoePermuteParams& p) {
  if (p.rows_out == 0 || p.row_bytes == 0) return;
  const bool vec16 = p.row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(p.out) % 16 == 0;
  const unsigned blocks = static_cast<unsigned>(p.rows_out);
  if (vec16) {
    permute_kernel<uint4><<<blocks, 128, 0, p.stream>>>(static_cast<const uint4*>(p.x), p.src,
                                                        static_cast<uint4*>(p.out), p.row_bytes / 16);
  } else {
    permute_kernel<uint8_t><<<blocks, 256, 0, p.stream>>>(
        static_cast<const uint8_t*>(p.x), p.src, static_cast<uint8_t*>(p.out), p.row_bytes);
  }
  GRPO_CUDA_CHECK_LAUNCH();
}

void moe_unpermute_forward(const MoeUnpermuteParams& p) {
  if (p.tokens == 0) return;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    unpermute_kernel<T><<<static_cast<unsigned>(p.tokens), 256, 0, p.stream>>>(
        static_cast<const T*>(p.y), p.w, p.pos, static_cast<T*>(p.out), p.cols, p.top_k);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

void moe_unpermute_backward(const MoeUnpermuteBwdParams& p) {
  if (p.tokens == 0) return;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    unpermute_bwd_kernel<T><<<static_cast<unsigned>(p.tokens), 256, 0, p.stream>>>(
        static_cast<const T*>(p.g), static_cast<const T*>(p.y), p.w, p.pos,
        static_cast<T*>(p.dy), p.dw, p.cols, p.top_k);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace grpo::kernels::cuda
