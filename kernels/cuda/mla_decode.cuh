// kernels/cuda/mla_decode.cuh: host launcher of MLA decode attention in the absorbed form
// (one query token per sequence over a slot of the compressed cache; see ops.h). The
// last dimension of every tensor is contiguous; the others are given as strides in
// elements. Launch on `stream`; failures throw grpo::Error. A row whose slot or length
// is out of range gets NaN output (no host round trip is spent on validating them).
#pragma once
#include <cstdint>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

struct MlaDecodeParams {
  const void* q_latent = nullptr;  // B x Hq x Dc, dtype
  int64_t q_latent_sb = 0, q_latent_sh = 0;
  const void* q_rope = nullptr;    // B x Hq x Dr, dtype
  int64_t q_rope_sb = 0, q_rope_sh = 0;
  const void* kv_latent = nullptr; // S x L x Dc, dtype
  int64_t kv_ss = 0, kv_st = 0;
  const void* k_rope = nullptr;    // S x L x Dr, dtype
  int64_t kr_ss = 0, kr_st = 0;
  const int64_t* slots = nullptr;   // B
  const int64_t* lengths = nullptr; // B
  float* out_partial = nullptr;     // splits x B x Hq x Dc fp32 scratch
  float* lse_partial = nullptr;     // splits x B x Hq fp32 scratch
  void* out = nullptr;              // B x Hq x Dc, dtype, contiguous
  float* lse = nullptr;             // B x Hq fp32
  int batch = 0, heads = 0, d_latent = 0, d_rope = 0, num_slots = 0, max_len = 0, splits = 1;
  float scale = 1.f;
  DType dtype = DType::kBF16;
  cudaStream_t stream = nullptr;
};
// Largest latent / rope widths the kernel handles (DeepSeek-V2/V3: 512 / 64).
constexpr int kMlaMaxLatent = 512;
constexpr int kMlaMaxRope = 128;
// Splits of the cache length chosen for a batch (fills the GPU for small batches).
int mla_decode_splits(int batch, int heads, int max_len, int num_sms);
void mla_decode(const MlaDecodeParams& p);

}  // namespace grpo::kernels::cuda
