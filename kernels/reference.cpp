// kernels/reference.cpp: LibTorch references of the fused ops (see reference.h). Each is
// a short composition of ATen ops in fp32 so that it reads like the formula it stands
// for, autograd differentiates it, and it runs on any device. Speed is not a goal here;
// the CUDA kernels are the fast path.
#include "kernels/reference.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/argsort.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/full.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace grpo::kernels::ref {
namespace {
bool is_float_like(const at::Tensor& t) {
  auto s = t.scalar_type();
  return s == at::kFloat || s == at::kBFloat16 || s == at::kHalf || s == at::kDouble;
}
}  // namespace

void check_rms_norm_args(const at::Tensor& x, const at::Tensor& weight, double eps) {
  TORCH_CHECK(x.defined() && weight.defined(), "rms_norm: x and weight must be defined");
  TORCH_CHECK(x.dim() >= 1 && is_float_like(x), "rms_norm: x must be a float tensor [..., H], got ",
              x.sizes(), " ", x.scalar_type());
  TORCH_CHECK(weight.dim() == 1 && weight.size(0) == x.size(-1),
              "rms_norm: weight must be [H] with H = x.size(-1) = ", x.size(-1), ", got ",
              weight.sizes());
  TORCH_CHECK(weight.device() == x.device(), "rms_norm: weight on ", weight.device(),
              " but x on ", x.device());
  TORCH_CHECK(eps >= 0, "rms_norm: eps must be >= 0, got ", eps);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  check_rms_norm_args(x, weight, eps);
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor inv_rms = xf.pow(2).mean({-1}, /*keepdim=*/true).add(eps).rsqrt();
  return xf.mul(inv_rms).mul(weight.to(at::kFloat)).to(x.scalar_type());
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps) {
  TORCH_CHECK(x.defined() && residual.defined() && x.sizes() == residual.sizes(),
              "add_rms_norm: x ", x.sizes(), " and residual ", residual.sizes(),
              " must have the same shape");
  TORCH_CHECK(x.scalar_type() == residual.scalar_type(), "add_rms_norm: x is ", x.scalar_type(),
              " but residual is ", residual.scalar_type());
  // The residual stream stays in the model dtype (as in HF), the norm runs in fp32.
  at::Tensor r = x.add(residual);
  return {rms_norm(r, weight, eps), r};
}

void check_moe_gate_args(const at::Tensor& logits, const at::Tensor& bias,
                         const MoeGateOptions& opt) {
  TORCH_CHECK(logits.defined() && logits.dim() == 2 && is_float_like(logits),
              "moe_gate: logits must be a float tensor [N, E], got ", logits.sizes());
  const int64_t e = logits.size(1);
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == e),
              "moe_gate: bias must be [E] with E = ", e, ", got ", bias.sizes());
  TORCH_CHECK(!bias.defined() || bias.device() == logits.device(), "moe_gate: bias on ",
              bias.device(), " but logits on ", logits.device());
  TORCH_CHECK(opt.n_group >= 1 && e % opt.n_group == 0, "moe_gate: n_group ", opt.n_group,
              " must divide the number of experts ", e);
  TORCH_CHECK(opt.topk_group >= 1 && opt.topk_group <= opt.n_group, "moe_gate: topk_group ",
              opt.topk_group, " must be in [1, n_group = ", opt.n_group, "]");
  TORCH_CHECK(opt.top_k >= 1 && opt.top_k <= opt.topk_group * (e / opt.n_group),
              "moe_gate: top_k ", opt.top_k, " must be in [1, topk_group * E / n_group = ",
              opt.topk_group * (e / opt.n_group), "]");
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt) {
  check_moe_gate_args(logits, bias, opt);
  const int64_t n = logits.size(0), e = logits.size(1);
  at::Tensor lf = logits.to(at::kFloat);
  at::Tensor scores = opt.sigmoid ? lf.sigmoid() : lf.softmax(-1);
  // Selection only: biased, detached scores (DeepSeek-V3 aux-loss-free balancing).
  at::Tensor choice = scores.detach();
  if (bias.defined()) choice = choice.add(bias.to(at::kFloat));
  if (opt.n_group > 1) {
    const int64_t per = e / opt.n_group;
    at::Tensor g = choice.view({n, opt.n_group, per});
    // V3 (sigmoid): a group's score is the sum of its top-2 biased scores; V2: its max.
    at::Tensor group_score = opt.sigmoid
                                 ? std::get<0>(g.topk(std::min<int64_t>(2, per), -1)).sum(-1)
                                 : std::get<0>(g.max(-1));
    at::Tensor keep = std::get<1>(group_score.topk(opt.topk_group, -1));  // [N, topk_group]
    at::Tensor group_mask = at::zeros({n, opt.n_group}, lf.options().dtype(at::kBool));
    group_mask.scatter_(1, keep, true);
    at::Tensor mask = group_mask.unsqueeze(-1).expand({n, opt.n_group, per}).reshape({n, e});
    choice = choice.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  }
  at::Tensor idx = std::get<1>(choice.topk(opt.top_k, -1, /*largest=*/true, /*sorted=*/true));
  at::Tensor w = scores.gather(1, idx);
  if (opt.norm_topk_prob) w = w.div(w.sum(-1, /*keepdim=*/true).add(1e-20));
  w = w.mul(opt.routed_scaling_factor);
  at::Tensor load = at::zeros({e}, idx.options());
  load.index_add_(0, idx.reshape({-1}), at::ones_like(idx.reshape({-1})));
  return {idx, w, load};
}

at::Tensor moe_gate_backward(const at::Tensor& logits, const at::Tensor& topk_idx,
                             const at::Tensor& grad_weight, const MoeGateOptions& opt) {
  at::Tensor g = grad_weight.to(at::kFloat);
  at::Tensor lf = logits.to(at::kFloat);
  at::Tensor sc = opt.sigmoid ? lf.sigmoid() : lf.softmax(-1);
  at::Tensor s = sc.gather(1, topk_idx);
  at::Tensor ds;
  if (opt.norm_topk_prob) {
    at::Tensor S = s.sum(-1, true).add(1e-20);
    ds = g.div(S).sub(g.mul(s).sum(-1, true).div(S.mul(S))).mul(opt.routed_scaling_factor);
  } else {
    ds = g.mul(opt.routed_scaling_factor);
  }
  at::Tensor gs = at::zeros_like(sc).scatter_add_(1, topk_idx, ds);
  at::Tensor dl = opt.sigmoid ? gs.mul(sc).mul(sc.neg().add(1.0))
                              : sc.mul(gs.sub(gs.mul(sc).sum(-1, true)));
  return dl.to(logits.scalar_type());
}

MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts) {
  TORCH_CHECK(topk_idx.defined() && topk_idx.dim() == 2 && topk_idx.scalar_type() == at::kLong,
              "moe_routing: topk_idx must be int64 [N, K], got ", topk_idx.sizes(), " ",
              topk_idx.scalar_type());
  TORCH_CHECK(num_experts >= 1, "moe_routing: num_experts must be >= 1, got ", num_experts);
  if (topk_idx.numel() > 0) {
    auto [lo, hi] = topk_idx.aminmax();
    const int64_t l = lo.item<int64_t>(), h = hi.item<int64_t>();
    TORCH_CHECK(l >= 0 && h < num_experts, "moe_routing: expert ids must be in [0, ",
                num_experts, "), got range [", l, ", ", h, "]");
  }
  const int64_t k = topk_idx.size(1);
  at::Tensor flat = topk_idx.reshape({-1});
  at::Tensor order = at::argsort(flat, /*stable=*/true);  // pair index n*K+k per permuted row
  MoeRouting r;
  r.num_experts = num_experts;
  r.top_k = k;
  r.token = order.div(k, "floor");
  r.pos = at::empty_like(order);
  r.pos.index_copy_(0, order, at::arange(order.numel(), order.options()));
  r.counts = at::zeros({num_experts}, flat.options());
  r.counts.index_add_(0, flat, at::ones_like(flat));
  return r;
}

static void check_routing(const MoeRouting& r, const char* who) {
  TORCH_CHECK(r.token.defined() && r.pos.defined() && r.counts.defined() && r.top_k >= 1,
              who, ": routing is empty; build it with moe_routing()");
}

at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing) {
  check_routing(routing, "moe_permute");
  TORCH_CHECK(x.defined() && x.dim() == 2 && x.size(0) * routing.top_k == routing.token.numel(),
              "moe_permute: x must be [N, H] with N * K = ", routing.token.numel(), ", got ",
              x.sizes());
  return x.index_select(0, routing.token);
}

at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing) {
  check_routing(routing, "moe_unpermute");
  const int64_t nk = routing.pos.numel(), k = routing.top_k;
  TORCH_CHECK(y.defined() && y.dim() == 2 && y.size(0) == nk,
              "moe_unpermute: y must be [N*K, H] with N*K = ", nk, ", got ", y.sizes());
  TORCH_CHECK(weight.defined() && weight.dim() == 2 && weight.size(0) * k == nk &&
                  weight.size(1) == k,
              "moe_unpermute: weight must be [N, K] = [", nk / k, ", ", k, "], got ",
              weight.sizes());
  const int64_t n = nk / k, h = y.size(1);
  at::Tensor rows = y.index_select(0, routing.pos).to(at::kFloat).view({n, k, h});
  return rows.mul(weight.to(at::kFloat).unsqueeze(-1)).sum(1).to(y.scalar_type());
}

at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts) {
  TORCH_CHECK(x.defined() && x.dim() == 2 && is_float_like(x),
              "grouped_gemm: x must be a float tensor [M, K], got ", x.sizes());
  TORCH_CHECK(w.defined() && w.dim() == 3 && w.size(2) == x.size(1),
              "grouped_gemm: w must be [E, N, K] with K = ", x.size(1), ", got ", w.sizes());
  TORCH_CHECK(w.scalar_type() == x.scalar_type(), "grouped_gemm: w is ", w.scalar_type(),
              " but x is ", x.scalar_type());
  TORCH_CHECK(counts.defined() && counts.dim() == 1 && counts.size(0) == w.size(0),
              "grouped_gemm: counts must be [E] with E = ", w.size(0), ", got ", counts.sizes());
  at::Tensor c = counts.to(at::kCPU).to(at::kLong).contiguous();
  const int64_t* cp = c.data_ptr<int64_t>();
  int64_t total = 0;
  for (int64_t e = 0; e < c.numel(); ++e) {
    TORCH_CHECK(cp[e] >= 0, "grouped_gemm: counts[", e, "] = ", cp[e], " is negative");
    total += cp[e];
  }
  TORCH_CHECK(total == x.size(0), "grouped_gemm: counts sum to ", total, " but x has ",
              x.size(0), " rows");
  std::vector<at::Tensor> parts;
  int64_t row = 0;
  for (int64_t e = 0; e < c.numel(); ++e) {
    if (cp[e] == 0) continue;
    parts.push_back(at::mm(x.narrow(0, row, cp[e]), w.select(0, e).t()));
    row += cp[e];
  }
  if (parts.empty()) return at::empty({0, w.size(1)}, x.options());
  return at::cat(parts, 0);
}

void check_mla_decode_args(const at::Tensor& q_latent, const at::Tensor& q_rope,
                           const at::Tensor& kv_latent, const at::Tensor& k_rope,
                           const at::Tensor& slots, const at::Tensor& lengths,
                           bool check_values) {
  TORCH_CHECK(q_latent.defined() && q_latent.dim() == 3 && is_float_like(q_latent),
              "mla_decode: q_latent must be [B, Hq, Dc] float, got ", q_latent.sizes());
  const int64_t b = q_latent.size(0), hq = q_latent.size(1), dc = q_latent.size(2);
  TORCH_CHECK(q_rope.defined() && q_rope.dim() == 3 && q_rope.size(0) == b && q_rope.size(1) == hq,
              "mla_decode: q_rope must be [B, Hq, Dr] = [", b, ", ", hq, ", Dr], got ",
              q_rope.sizes());
  const int64_t dr = q_rope.size(2);
  TORCH_CHECK(kv_latent.defined() && kv_latent.dim() == 3 && kv_latent.size(2) == dc,
              "mla_decode: kv_latent must be [S, L, Dc] with Dc = ", dc, ", got ",
              kv_latent.sizes());
  TORCH_CHECK(k_rope.defined() && k_rope.dim() == 3 && k_rope.size(0) == kv_latent.size(0) &&
                  k_rope.size(1) == kv_latent.size(1) && k_rope.size(2) == dr,
              "mla_decode: k_rope must be [S, L, Dr] = [", kv_latent.size(0), ", ",
              kv_latent.size(1), ", ", dr, "], got ", k_rope.sizes());
  for (const at::Tensor* t : {&q_rope, &kv_latent, &k_rope}) {
    TORCH_CHECK(t->scalar_type() == q_latent.scalar_type() && t->device() == q_latent.device(),
                "mla_decode: q_rope, kv_latent and k_rope must match q_latent's dtype ",
                q_latent.scalar_type(), " and device ", q_latent.device());
  }
  TORCH_CHECK(slots.defined() && slots.dim() == 1 && slots.size(0) == b &&
                  slots.scalar_type() == at::kLong,
              "mla_decode: slots must be int64 [B] with B = ", b, ", got ", slots.sizes());
  TORCH_CHECK(lengths.defined() && lengths.dim() == 1 && lengths.size(0) == b &&
                  lengths.scalar_type() == at::kLong,
              "mla_decode: lengths must be int64 [B] with B = ", b, ", got ", lengths.sizes());
  if (b > 0 && check_values) {
    auto [slo, shi] = slots.aminmax();
    auto [llo, lhi] = lengths.aminmax();
    TORCH_CHECK(slo.item<int64_t>() >= 0 && shi.item<int64_t>() < kv_latent.size(0),
                "mla_decode: slots must be in [0, S = ", kv_latent.size(0), ")");
    TORCH_CHECK(llo.item<int64_t>() >= 1 && lhi.item<int64_t>() <= kv_latent.size(1),
                "mla_decode: lengths must be in [1, L = ", kv_latent.size(1), "]");
  }
}

std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale) {
  check_mla_decode_args(q_latent, q_rope, kv_latent, k_rope, slots, lengths);
  const int64_t b = q_latent.size(0), hq = q_latent.size(1), dc = q_latent.size(2);
  at::Tensor s_cpu = slots.to(at::kCPU).contiguous(), l_cpu = lengths.to(at::kCPU).contiguous();
  at::Tensor out = at::empty({b, hq, dc}, q_latent.options().dtype(at::kFloat));
  at::Tensor lse = at::empty({b, hq}, q_latent.options().dtype(at::kFloat));
  for (int64_t i = 0; i < b; ++i) {
    const int64_t slot = s_cpu.data_ptr<int64_t>()[i], len = l_cpu.data_ptr<int64_t>()[i];
    at::Tensor c = kv_latent.select(0, slot).narrow(0, 0, len).to(at::kFloat);  // [len, Dc]
    at::Tensor kr = k_rope.select(0, slot).narrow(0, 0, len).to(at::kFloat);    // [len, Dr]
    at::Tensor s = at::mm(q_latent.select(0, i).to(at::kFloat), c.t())
                       .add(at::mm(q_rope.select(0, i).to(at::kFloat), kr.t()))
                       .mul(softmax_scale);  // [Hq, len]
    lse.select(0, i).copy_(s.logsumexp({-1}));
    out.select(0, i).copy_(at::mm(s.softmax(-1), c));
  }
  return {out.to(q_latent.scalar_type()), lse};
}

void check_token_logprobs_args(const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, double temperature) {
  TORCH_CHECK(hidden.defined() && hidden.dim() == 2 && is_float_like(hidden),
              "token_logprobs: hidden must be a float tensor [N, H], got ", hidden.sizes());
  TORCH_CHECK(weight.defined() && weight.dim() == 2 && weight.size(1) == hidden.size(1),
              "token_logprobs: weight must be [V, H] with H = ", hidden.size(1), ", got ",
              weight.sizes());
  TORCH_CHECK(weight.scalar_type() == hidden.scalar_type() && weight.device() == hidden.device(),
              "token_logprobs: weight (", weight.scalar_type(), ", ", weight.device(),
              ") must match hidden (", hidden.scalar_type(), ", ", hidden.device(), ")");
  TORCH_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == hidden.size(0) &&
                  targets.scalar_type() == at::kLong,
              "token_logprobs: targets must be int64 [N] with N = ", hidden.size(0), ", got ",
              targets.sizes(), " ", targets.scalar_type());
  TORCH_CHECK(temperature > 0, "token_logprobs: temperature must be > 0, got ", temperature);
  if (targets.numel() > 0) {
    auto [lo, hi] = targets.aminmax();
    const int64_t l = lo.item<int64_t>(), h = hi.item<int64_t>();
    TORCH_CHECK(l >= 0 && h < weight.size(0), "token_logprobs: targets must be in [0, V = ",
                weight.size(0), "), got range [", l, ", ", h, "]");
  }
}

int64_t logprob_chunk_size(int64_t chunk_tokens, int64_t vocab) {
  if (chunk_tokens > 0) return chunk_tokens;
  const int64_t budget = int64_t{256} << 20;  // bytes of fp32 logits per chunk
  return std::max<int64_t>(1, budget / (4 * std::max<int64_t>(1, vocab)));
}

void logprob_chunk_forward(const at::Tensor& logits, const at::Tensor& targets, double inv_t,
                           at::Tensor& logprob, at::Tensor& lse, at::Tensor& entropy) {
  // At most two fp32 [n, V] buffers live at once (z and p), to keep chunks cheap.
  at::Tensor z = logits.to(at::kFloat).mul(inv_t);            // [n, V]
  at::Tensor l = z.logsumexp({-1});                            // [n]
  lse.copy_(l);
  logprob.copy_(z.gather(1, targets.unsqueeze(1)).squeeze(1).sub(l));
  if (entropy.defined()) {
    at::Tensor p = z.sub(l.unsqueeze(1)).exp_();
    entropy.copy_(l.sub(p.mul_(z).sum(-1)));
  }
}

at::Tensor logprob_chunk_backward(const at::Tensor& logits, const at::Tensor& targets,
                                  double inv_t, const at::Tensor& lse, const at::Tensor& entropy,
                                  const at::Tensor& g_logprob, const at::Tensor& g_entropy) {
  // In-place arithmetic: two fp32 [n, V] buffers (z, then dz; and p).
  at::Tensor z = logits.to(at::kFloat).mul(inv_t);
  at::Tensor p = z.sub(lse.unsqueeze(1)).exp_();
  at::Tensor dz;
  if (g_entropy.defined()) {
    at::Tensor mean_z = lse.sub(entropy).unsqueeze(1);  // E_p[z] = lse - H
    dz = z.sub_(mean_z).mul_(p).mul_(g_entropy.unsqueeze(1)).neg_();
  } else {
    dz = z.zero_();
  }
  if (g_logprob.defined()) {
    dz.sub_(p.mul_(g_logprob.unsqueeze(1)));
    dz.scatter_add_(1, targets.unsqueeze(1), g_logprob.unsqueeze(1).to(at::kFloat));
  }
  return dz.mul_(inv_t).to(logits.scalar_type());
}

}  // namespace grpo::kernels::ref
