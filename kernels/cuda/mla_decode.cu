// kernels/cuda/mla_decode.cu: MLA decode attention over the compressed cache, split-KV.
// defines: mla_decode, mla_decode_splits
// Grid (split, batch row, head group of kHeads). A block keeps its kHeads query rows
// (latent + rope, pre-scaled, fp32) in shared memory and walks its range of cached tokens
// in tiles of kTile: the tile of [latent | rope] keys is staged in shared memory once and
// serves every head of the group (the latent doubles as the value). Scores: lane = token,
// warp = pair of heads, each thread a full-width dot product over element pairs (key rows
// padded so the 32 lanes hit 32 banks; queries are warp broadcasts). An online softmax
// rescales the fp32 accumulators (kHeads x 2 latent columns per thread) and each split
// writes a normalised partial output and its log-sum-exp; a second kernel merges the
// splits (flash-decoding). CUDA cores only; a tensor-core (wgmma) variant is the known
// next step for wide head groups.
#include <algorithm>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mla_decode.cuh"

namespace grpo::kernels::cuda {
namespace {
constexpr int kThreads = 256;
constexpr int kHeads = 16;  // query heads per block
constexpr int kTile = 32;   // cached tokens per tile
constexpr int kCols = kMlaMaxLatent / kThreads;  // latent columns per thread
static_assert(kTile == 32 && kThreads / 32 * 2 == kHeads, "score layout: lane = token, warp = 2 heads");

// Row stride of the staged keys: D plus padding so that consecutive rows start in
// different banks (D even).
__host__ __device__ inline int padded_width(int d) { return d + ((d / 2) % 2 == 0 ? 2 : 4); }

__device__ __forceinline__ float2 load_pair(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ float2 load_pair(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ float2 load_pair(const __half* p) {
  return __half22float2(*reinterpret_cast<const __half2*>(p));
}

template <class T>
__global__ void __launch_bounds__(kThreads) mla_split_kernel(MlaDecodeParams p) {
  extern __shared__ float smem[];
  const int D = p.d_latent + p.d_rope, Dp = padded_width(D);
  float* q_s = smem;                          // [kHeads][D]
  float* s_s = q_s + kHeads * D;              // [kTile][kHeads] scores, then probabilities
  float* m_s = s_s + kHeads * kTile;          // [kHeads] running max
  float* l_s = m_s + kHeads;                  // [kHeads] running sum
  float* c_s = l_s + kHeads;                  // [kHeads] rescale of this tile
  T* k_s = reinterpret_cast<T*>(c_s + kHeads);  // [kTile][Dp]

  const int split = blockIdx.x, b = blockIdx.y, h0 = blockIdx.z * kHeads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t slot = p.slots[b];
  const int64_t len = p.lengths[b];
  const bool valid = slot >= 0 && slot < p.num_slots && len >= 1 && len <= p.max_len;
  const int per_split = (p.max_len + p.splits - 1) / p.splits;
  const int64_t t_begin = static_cast<int64_t>(split) * per_split;
  const int64_t t_end = valid ? std::min<int64_t>(len, t_begin + per_split) : 0;

  const T* ql = static_cast<const T*>(p.q_latent) + b * p.q_latent_sb;
  const T* qr = static_cast<const T*>(p.q_rope) + b * p.q_rope_sb;
  for (int i = tid; i < kHeads * D; i += kThreads) {
    const int h = i / D, d = i % D, hh = h0 + h;
    float v = 0.f;
    if (hh < p.heads)
      v = d < p.d_latent ? to_f(ql[hh * p.q_latent_sh + d]) : to_f(qr[hh * p.q_rope_sh + d - p.d_latent]);
    q_s[i] = v * p.scale;
  }
  if (tid < kHeads) { m_s[tid] = -INFINITY; l_s[tid] = 0.f; }
  float acc[kHeads][kCols];
#pragma unroll
  for (int h = 0; h < kHeads; ++h)
#pragma unroll
    for (int c = 0; c < kCols; ++c) acc[h][c] = 0.f;
  const T* kv = static_cast<const T*>(p.kv_latent) + slot * p.kv_ss;
  const T* kr = static_cast<const T*>(p.k_rope) + slot * p.kr_ss;
  __syncthreads();

  for (int64_t t0 = t_begin; t0 < t_end; t0 += kTile) {
    const int nt = static_cast<int>(std::min<int64_t>(kTile, t_end - t0));
    for (int i = tid; i < nt * D; i += kThreads) {
      const int tt = i / D, d = i % D;
      const int64_t t = t0 + tt;
      k_s[tt * Dp + d] = d < p.d_latent ? kv[t * p.kv_st + d] : kr[t * p.kr_st + d - p.d_latent];
    }
    __syncthreads();
    {  // scores of token `lane` for heads 2*warp and 2*warp+1
      const float* qa = q_s + (2 * warp) * D;
      const float* qb = qa + D;
      const T* kt = k_s + lane * Dp;
      float sa = 0.f, sb = 0.f;
      if (lane < nt) {
        for (int d = 0; d < D; d += 2) {
          const float2 k2 = load_pair(kt + d);
          const float2 xa = *reinterpret_cast<const float2*>(qa + d);
          const float2 xb = *reinterpret_cast<const float2*>(qb + d);
          sa += xa.x * k2.x + xa.y * k2.y;
          sb += xb.x * k2.x + xb.y * k2.y;
        }
      }
      s_s[lane * kHeads + 2 * warp] = lane < nt ? sa : -INFINITY;
      s_s[lane * kHeads + 2 * warp + 1] = lane < nt ? sb : -INFINITY;
    }
    __syncthreads();
    if (tid < kHeads) {
      float mx = m_s[tid];
      for (int tt = 0; tt < nt; ++tt) mx = fmaxf(mx, s_s[tt * kHeads + tid]);
      const float corr = __expf(m_s[tid] - mx);  // first tile: exp(-inf) = 0
      float sum = 0.f;
      for (int tt = 0; tt < kTile; ++tt) {
        const float e = tt < nt ? __expf(s_s[tt * kHeads + tid] - mx) : 0.f;
        s_s[tt * kHeads + tid] = e;
        sum += e;
      }
      l_s[tid] = l_s[tid] * corr + sum;
      m_s[tid] = mx;
      c_s[tid] = corr;
    }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < kHeads; ++h)
#pragma unroll
      for (int c = 0; c < kCols; ++c) acc[h][c] *= c_s[h];
    for (int tt = 0; tt < nt; ++tt) {
      float pr[kHeads];  // probabilities of token tt for the kHeads heads (4 x 16 bytes)
#pragma unroll
      for (int q = 0; q < kHeads / 4; ++q) {
        const float4 v4 = reinterpret_cast<const float4*>(s_s + tt * kHeads)[q];
        pr[4 * q] = v4.x; pr[4 * q + 1] = v4.y; pr[4 * q + 2] = v4.z; pr[4 * q + 3] = v4.w;
      }
#pragma unroll
      for (int c = 0; c < kCols; ++c) {
        const int col = tid + c * kThreads;
        const float v = col < p.d_latent ? to_f(k_s[tt * Dp + col]) : 0.f;
#pragma unroll
        for (int h = 0; h < kHeads; ++h) acc[h][c] += pr[h] * v;
      }
    }
    __syncthreads();
  }
  // Partial results of this split: normalised output and lse (-inf when it saw no token).
  const int64_t base = (static_cast<int64_t>(split) * p.batch + b) * p.heads;
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    const int hh = h0 + h;
    if (hh >= p.heads) break;
    const float l = l_s[h];
    const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
    for (int c = 0; c < kCols; ++c) {
      const int col = tid + c * kThreads;
      if (col < p.d_latent) p.out_partial[(base + hh) * p.d_latent + col] = acc[h][c] * inv;
    }
    if (tid == 0) {
      p.lse_partial[base + hh] = !valid ? NAN : (l > 0.f ? m_s[h] + __logf(l) : -INFINITY);
    }
  }
}

template <class T>
__global__ void mla_combine_kernel(MlaDecodeParams p) {
  const int b = blockIdx.x, h = blockIdx.y;
  const int64_t bh = static_cast<int64_t>(b) * p.heads + h;
  const int64_t stride = static_cast<int64_t>(p.batch) * p.heads;
  float mx = -INFINITY;
  bool nan = false;
  for (int s = 0; s < p.splits; ++s) {
    const float l = p.lse_partial[s * stride + bh];
    nan |= isnan(l);
    mx = fmaxf(mx, l);
  }
  float total = 0.f;
  for (int s = 0; s < p.splits; ++s) total += __expf(p.lse_partial[s * stride + bh] - mx);
  const float lse = nan ? NAN : mx + __logf(total);
  T* o = static_cast<T*>(p.out) + bh * p.d_latent;
  for (int c = threadIdx.x; c < p.d_latent; c += blockDim.x) {
    float v = 0.f;
    for (int s = 0; s < p.splits; ++s) {
      const float l = p.lse_partial[s * stride + bh];
      if (l != -INFINITY) v += __expf(l - lse) * p.out_partial[(s * stride + bh) * p.d_latent + c];
    }
    o[c] = from_f<T>(nan ? NAN : v);
  }
  if (threadIdx.x == 0) p.lse[bh] = lse;
}
}  // namespace

int mla_decode_splits(int batch, int heads, int max_len, int num_sms) {
  const int blocks = batch * ((heads + kHeads - 1) / kHeads);
  const int want = (2 * num_sms + blocks - 1) / std::max(1, blocks);
  const int most = std::max(1, (max_len + 4 * kTile - 1) / (4 * kTile));  // >= 4 tiles a split
  return std::max(1, std::min(want, most));
}

void mla_decode(const MlaDecodeParams& p) {
  if (p.batch == 0 || p.heads == 0) return;
  GRPO_ENSURE(p.d_latent >= 1 && p.d_latent <= kMlaMaxLatent && p.d_rope >= 0 &&
                  p.d_rope <= kMlaMaxRope,
              "mla_decode (CUDA): latent width must be in [1, ", kMlaMaxLatent,
              "] and rope width in [0, ", kMlaMaxRope, "]; got ", p.d_latent, ", ", p.d_rope);
  GRPO_ENSURE(p.d_latent % 2 == 0 && p.d_rope % 2 == 0,
              "mla_decode (CUDA): latent and rope widths must be even; got ", p.d_latent, ", ",
              p.d_rope);
  const int D = p.d_latent + p.d_rope;
  dispatch_dtype(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    const size_t smem = sizeof(float) * (kHeads * D + kTile * kHeads + 3 * kHeads) +
                        sizeof(T) * kTile * padded_width(D);
    GRPO_CUDA_CHECK(cudaFuncSetAttribute(mla_split_kernel<T>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
    const dim3 grid(p.splits, p.batch, (p.heads + kHeads - 1) / kHeads);
    mla_split_kernel<T><<<grid, kThreads, smem, p.stream>>>(p);
    GRPO_CUDA_CHECK_LAUNCH();
    mla_combine_kernel<T><<<dim3(p.batch, p.heads), 128, 0, p.stream>>>(p);
    GRPO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace grpo::kernels::cuda
