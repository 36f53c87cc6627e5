// kernels/cuda/logprob.cu: token log-prob and entropy from a chunk of logits.
// defines: logprob_forward, logprob_backward_inplace
// Forward: one block per row streams the vocabulary once, keeping per thread an online
// softmax state (max m, s = sum e^(z-m), t = sum e^(z-m) z) merged across the block at
// the end; logprob = z[target] - lse, entropy = lse - t/s. Reads use 16-byte vectors when
// the row is aligned, so the pass is bandwidth-bound. Backward is elementwise given the
// saved lse and entropy: dz = g_lp (onehot - p) - g_ent p (z - (lse - H)), times inv_t.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/logprob.cuh"

#include "core/error.h"

namespace grpo::kernels::cuda {
namespace {
constexpr int kFwdThreads = 512;

struct Online {
  float m = -INFINITY, s = 0.f, t = 0.f;
  __device__ __forceinline__ void add(float z) {
    if (z > m) {
      const float c = __expf(m - z);  // m = -inf -> 0
      s = s * c + 1.f;
      t = t * c + z;
      m = z;
    } else if (z != -INFINITY) {
      const float e = __expf(z - m);
      s += e;
      t += e * z;
    }
  }
  // Adds n values at once: one rescale for the group, then n exponentials.
  template <int n>
  __device__ __forceinline__ void add_group(const float (&z)[n]) {
    float gm = z[0];
#pragma unroll
    for (int q = 1; q < n; ++q) gm = fmaxf(gm, z[q]);
    if (gm == -INFINITY) return;  // every value is -inf: contributes nothing
    if (gm > m) {
      const float c = __expf(m - gm);  // m = -inf -> 0
      s *= c;
      t *= c;
      m = gm;
    }
#pragma unroll
    for (int q = 0; q < n; ++q) {
      const float e = __expf(z[q] - m);
      s += e;
      t += e * z[q];
    }
  }
  __device__ __forceinline__ void merge(float om, float os, float ot) {
    if (om == -INFINITY) return;
    if (m == -INFINITY) { m = om; s = os; t = ot; return; }
    const float nm = fmaxf(m, om);
    const float a = __expf(m - nm), b = __expf(om - nm);
    s = s * a + os * b;
    t = t * a + ot * b;
    m = nm;
  }
};

template <class T>
__global__ void logprob_fwd_kernel(LogprobFwdParams p) {
  __shared__ float sm[32], ss[32], st[32];
  const int64_t row = blockIdx.x;
  const T* lr = static_cast<const T*>(p.logits) + row * p.ld;
  Online o;
  constexpr int kVec = 16 / sizeof(T);
  const bool vec = (reinterpret_cast<uintptr_t>(lr) % 16 == 0);
  int64_t j0 = 0;
  if (vec) {
    const int64_t nvec = p.vocab / kVec;
    const uint4* v4 = reinterpret_cast<const uint4*>(lr);
    for (int64_t i = threadIdx.x; i < nvec; i += blockDim.x) {
      uint4 raw = __ldg(v4 + i);
      const T* e = reinterpret_cast<const T*>(&raw);
      float z[kVec];
#pragma unroll
      for (int q = 0; q < kVec; ++q) z[q] = to_f(e[q]) * p.inv_t;
      o.add_group(z);
    }
    j0 = nvec * kVec;
  }
  for (int64_t j = j0 + threadIdx.x; j < p.vocab; j += blockDim.x) o.add(to_f(lr[j]) * p.inv_t);
  // Merge the warp's states, then the block's.
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float om = __shfl_xor_sync(0xffffffffu, o.m, off);
    const float os = __shfl_xor_sync(0xffffffffu, o.s, off);
    const float ot = __shfl_xor_sync(0xffffffffu, o.t, off);
    o.merge(om, os, ot);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  if (lane == 0) { sm[warp] = o.m; ss[warp] = o.s; st[warp] = o.t; }
  __syncthreads();
  if (warp == 0) {
    Online b;
    if (lane < nwarps) { b.m = sm[lane]; b.s = ss[lane]; b.t = st[lane]; }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float om = __shfl_xor_sync(0xffffffffu, b.m, off);
      const float os = __shfl_xor_sync(0xffffffffu, b.s, off);
      const float ot = __shfl_xor_sync(0xffffffffu, b.t, off);
      b.merge(om, os, ot);
    }
    if (lane == 0) {
      const float lse = b.m + __logf(b.s);
      const float zt = to_f(lr[p.targets[row]]) * p.inv_t;
      p.lse[row] = lse;
      p.logprob[row] = zt - lse;
      if (p.entropy != nullptr) p.entropy[row] = lse - b.t / b.s;
    }
  }
}

template <class T>
__global__ void logprob_bwd_kernel(LogprobBwdParams p) {
  const int64_t per_row = gridDim.x / p.rows;  // blocks per row (grid = rows * per_row)
  const int64_t row = blockIdx.x / per_row, part = blockIdx.x % per_row;
  T* lr = static_cast<T*>(p.logits) + row * p.ld;
  const float lse = p.lse[row];
  const float glp = p.g_logprob != nullptr ? p.g_logprob[row] : 0.f;
  const float gent = p.g_entropy != nullptr ? p.g_entropy[row] : 0.f;
  const float mean_z = p.g_entropy != nullptr ? lse - p.entropy[row] : 0.f;
  const int64_t tgt = p.targets[row];
  for (int64_t j = part * blockDim.x + threadIdx.x; j < p.vocab; j += per_row * blockDim.x) {
    const float z = to_f(lr[j]) * p.inv_t;
    const float prob = __expf(z - lse);
    float dz = -glp * prob - gent * prob * (z - mean_z);
    if (j == tgt) dz += glp;
    lr[j] = from_f<T>(dz * p.inv_t);
  }
}
}  // namespace

void logprob_forward(const LogprobFwdParams& p) {
  if (p.rows == 0) return;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    logprob_fwd_kernel<T><<<static_cast<unsigned>(p.rows), kFwdThreads, 0, p.stream>>>(p);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

void logprob_backward_inplace(const LogprobBwdParams& p) {
  if (p.rows == 0) return;
  const int threads = 256;
  const int64_t per_row = (p.vocab + threads * 8 - 1) / (threads * 8);  // ~8 elements/thread
  const int64_t blocks = (per_row < 1 ? 1 : per_row) * p.rows;
  GRPO_ENSURE(blocks < (int64_t{1} << 31), "logprob backward (CUDA): chunk of ", p.rows,
              " rows x ", p.vocab, " is too large; use a smaller chunk_tokens");
  const dim3 grid(static_cast<unsigned>(blocks));
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    logprob_bwd_kernel<T><<<grid, threads, 0, p.stream>>>(p);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace grpo::kernels::cuda
