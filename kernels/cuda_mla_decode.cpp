// kernels/cuda_mla_decode.cpp: tensor adapter of MLA decode attention
// (kernels/cuda/mla_decode.cuh). Checks shapes (not the values of slots/lengths: that
// would cost a device sync per layer; the kernel writes NaN for rows out of range), makes
// the last dims contiguous, sizes the split-KV scratch and launches.
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>

#include "core/error.h"
#include "core/log.h"
#include "kernels/cuda/mla_decode.cuh"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"
#include "kernels/reference.h"

namespace grpo::kernels::cuda {
namespace {
at::Tensor last_dim_contiguous(const at::Tensor& t) {
  return t.stride(-1) == 1 ? t : t.contiguous();
}
}  // namespace

std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale) {
  ref::check_mla_decode_args(q_latent, q_rope, kv_latent, k_rope, slots, lengths,
                             /*check_values=*/false);
  const int64_t b = q_latent.size(0), hq = q_latent.size(1), dc = q_latent.size(2);
  const int64_t dr = q_rope.size(2);
  if (dc > kMlaMaxLatent || dr > kMlaMaxRope || dc % 2 != 0 || dr % 2 != 0) {
    grpo::log::once("mla_decode_cuda_limits", grpo::log::Level::kWarn,
                    grpo::str("mla_decode: latent ", dc, " / rope ", dr,
                              " outside the CUDA kernel's limits (even, <= 512 / 128); using the reference"));
    return ref::mla_decode(q_latent, q_rope, kv_latent, k_rope, slots, lengths, softmax_scale);
  }
  c10::cuda::CUDAGuard guard(q_latent.device());
  at::Tensor ql = last_dim_contiguous(q_latent), qr = last_dim_contiguous(q_rope);
  at::Tensor kv = last_dim_contiguous(kv_latent), kr = last_dim_contiguous(k_rope);
  at::Tensor sl = slots.to(q_latent.device()).contiguous();
  at::Tensor ln = lengths.to(q_latent.device()).contiguous();
  auto f32 = q_latent.options().dtype(at::kFloat);
  at::Tensor out = at::empty({b, hq, dc}, q_latent.options());
  at::Tensor lse = at::empty({b, hq}, f32);
  MlaDecodeParams p;
  p.batch = static_cast<int>(b);
  p.heads = static_cast<int>(hq);
  p.d_latent = static_cast<int>(dc);
  p.d_rope = static_cast<int>(dr);
  p.num_slots = static_cast<int>(kv.size(0));
  p.max_len = static_cast<int>(kv.size(1));
  p.splits = mla_decode_splits(p.batch, p.heads, p.max_len, sm_count(q_latent));
  at::Tensor out_partial = at::empty({p.splits, b, hq, dc}, f32);
  at::Tensor lse_partial = at::empty({p.splits, b, hq}, f32);
  p.q_latent = ql.data_ptr();
  p.q_latent_sb = ql.stride(0);
  p.q_latent_sh = ql.stride(1);
  p.q_rope = qr.data_ptr();
  p.q_rope_sb = qr.stride(0);
  p.q_rope_sh = qr.stride(1);
  p.kv_latent = kv.data_ptr();
  p.kv_ss = kv.stride(0);
  p.kv_st = kv.stride(1);
  p.k_rope = kr.data_ptr();
  p.kr_ss = kr.stride(0);
  p.kr_st = kr.stride(1);
  p.slots = sl.data_ptr<int64_t>();
  p.lengths = ln.data_ptr<int64_t>();
  p.out_partial = out_partial.data_ptr<float>();
  p.lse_partial = lse_partial.data_ptr<float>();
  p.out = out.data_ptr();
  p.lse = lse.data_ptr<float>();
  p.scale = static_cast<float>(softmax_scale);
  p.dtype = dtype_of(q_latent, "mla_decode");
  p.stream = stream_of(q_latent);
  mla_decode(p);
  return {out, lse};
}

}  // namespace grpo::kernels::cuda
