// kernels/cuda_moe.cpp: tensor adapters of the MoE kernels (kernels/cuda/moe.cuh): the fused
// gate, and permute / unpermute, each a custom autograd Function. The gate's backward
// (gradient of the selected weights w.r.t. the logits, N x E) is the closed form
// ref::moe_gate_backward in a few ATen ops: tiny next to the expert GEMMs, not worth a kernel.
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cuda/moe.cuh"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"
#include "kernels/reference.h"

namespace grpo::kernels::cuda {
namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct MoeGateFunction : public torch::autograd::Function<MoeGateFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits,
                               const at::Tensor& bias, const MoeGateOptions& opt) {
    c10::cuda::CUDAGuard guard(logits.device());
    at::Tensor l = logits.contiguous();
    at::Tensor b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
    const int64_t n = l.size(0), e = l.size(1);
    at::Tensor idx = at::empty({n, opt.top_k}, l.options().dtype(at::kLong));
    at::Tensor w = at::empty({n, opt.top_k}, l.options().dtype(at::kFloat));
    at::Tensor load = at::zeros({e}, l.options().dtype(at::kLong));
    MoeGateParams p;
    p.logits = l.data_ptr();
    p.bias = b.defined() ? b.data_ptr<float>() : nullptr;
    p.topk_idx = idx.data_ptr<int64_t>();
    p.topk_weight = w.data_ptr<float>();
    p.load = load.data_ptr<int64_t>();
    p.tokens = n;
    p.experts = static_cast<int>(e);
    p.top_k = static_cast<int>(opt.top_k);
    p.n_group = static_cast<int>(opt.n_group);
    p.topk_group = static_cast<int>(opt.topk_group);
    p.sigmoid = opt.sigmoid;
    p.norm_topk_prob = opt.norm_topk_prob;
    p.routed_scaling_factor = static_cast<float>(opt.routed_scaling_factor);
    p.dtype = dtype_of(l, "moe_gate");
    p.stream = stream_of(l);
    moe_gate_forward(p);
    ctx->save_for_backward({l, idx});
    ctx->saved_data["sigmoid"] = opt.sigmoid;
    ctx->saved_data["norm"] = opt.norm_topk_prob;
    ctx->saved_data["scale"] = opt.routed_scaling_factor;
    ctx->mark_non_differentiable({idx, load});
    return {idx, w, load};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &idx = saved[1];
    MoeGateOptions opt;
    opt.sigmoid = ctx->saved_data["sigmoid"].toBool();
    opt.norm_topk_prob = ctx->saved_data["norm"].toBool();
    opt.routed_scaling_factor = ctx->saved_data["scale"].toDouble();
    if (!grads[1].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    at::Tensor dl = ref::moe_gate_backward(logits, idx, grads[1], opt);
    return {dl, at::Tensor(), at::Tensor()};
  }
};

at::Tensor unpermute_forward(const at::Tensor& y, const at::Tensor& w32, const at::Tensor& pos,
                             int64_t top_k) {
  const int64_t n = pos.numel() / top_k, h = y.size(1);
  at::Tensor out = at::empty({n, h}, y.options());
  MoeUnpermuteParams p;
  p.y = y.data_ptr();
  p.w = w32.defined() ? w32.data_ptr<float>() : nullptr;
  p.pos = pos.data_ptr<int64_t>();
  p.out = out.data_ptr();
  p.tokens = n;
  p.cols = h;
  p.top_k = static_cast<int>(top_k);
  p.dtype = dtype_of(y, "moe_unpermute");
  p.stream = stream_of(y);
  moe_unpermute_forward(p);
  return out;
}

at::Tensor permute_forward(const at::Tensor& x, const at::Tensor& token) {
  at::Tensor out = at::empty({token.numel(), x.size(1)}, x.options());
  MoePermuteParams p;
  p.x = x.data_ptr();
  p.src = token.data_ptr<int64_t>();
  p.out = out.data_ptr();
  p.rows_out = token.numel();
  p.row_bytes = x.size(1) * x.element_size();
  p.stream = stream_of(x);
  moe_permute_forward(p);
  return out;
}

struct PermuteFunction : public torch::autograd::Function<PermuteFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& token,
                               const at::Tensor& pos, int64_t top_k) {
    c10::cuda::CUDAGuard guard(x.device());
    ctx->save_for_backward({pos});
    ctx->saved_data["top_k"] = top_k;
    return {permute_forward(x.contiguous(), token)};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor pos = ctx->get_saved_variables()[0];
    c10::cuda::CUDAGuard guard(pos.device());
    // dx[n] = sum_k g[pos[n*K+k]]: an unpermute with unit weights.
    at::Tensor dx = unpermute_forward(grads[0].contiguous(), at::Tensor(), pos,
                                      ctx->saved_data["top_k"].toInt());
    return {dx, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct UnpermuteFunction : public torch::autograd::Function<UnpermuteFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& y, const at::Tensor& weight,
                               const at::Tensor& pos, int64_t top_k) {
    c10::cuda::CUDAGuard guard(y.device());
    at::Tensor yc = y.contiguous(), w32 = weight.to(at::kFloat).contiguous();
    ctx->save_for_backward({yc, w32, pos});
    ctx->saved_data["top_k"] = top_k;
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return {unpermute_forward(yc, w32, pos, top_k)};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &y = saved[0], &w32 = saved[1], &pos = saved[2];
    c10::cuda::CUDAGuard guard(y.device());
    at::Tensor g = grads[0].to(y.scalar_type()).contiguous();
    at::Tensor dy = at::empty_like(y), dw = at::empty_like(w32);
    MoeUnpermuteBwdParams p;
    p.g = g.data_ptr();
    p.y = y.data_ptr();
    p.w = w32.data_ptr<float>();
    p.pos = pos.data_ptr<int64_t>();
    p.dy = dy.data_ptr();
    p.dw = dw.data_ptr<float>();
    p.tokens = w32.size(0);
    p.cols = y.size(1);
    p.top_k = static_cast<int>(ctx->saved_data["top_k"].toInt());
    p.dtype = dtype_of(y, "moe_unpermute backward");
    p.stream = stream_of(y);
    moe_unpermute_backward(p);
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    return {dy, dw.to(wdt), at::Tensor(), at::Tensor()};
  }
};

void check_routing_on(const MoeRouting& r, const at::Tensor& t, const char* who) {
  TORCH_CHECK(r.token.defined() && r.pos.defined() && r.top_k >= 1, who,
              ": routing is empty; build it with moe_routing()");
  check_on_device(r.token, t, who);
  TORCH_CHECK(r.token.is_contiguous() && r.pos.is_contiguous(), who,
              ": routing tensors must be contiguous");
}
}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt) {
  ref::check_moe_gate_args(logits, bias, opt);
  if (logits.size(1) > 1024 || opt.top_k > 32 || opt.n_group > 32) {
    return ref::moe_gate(logits, bias, opt);  // beyond the kernel's limits (moe.cuh)
  }
  variable_list out = MoeGateFunction::apply(logits, bias, opt);
  return {out[0], out[1], out[2]};
}

at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing) {
  check_routing_on(routing, x, "moe_permute");
  TORCH_CHECK(x.dim() == 2 && x.size(0) * routing.top_k == routing.token.numel(),
              "moe_permute: x must be [N, H] with N * K = ", routing.token.numel(), ", got ",
              x.sizes());
  return PermuteFunction::apply(x, routing.token, routing.pos, routing.top_k)[0];
}

at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing) {
  check_routing_on(routing, y, "moe_unpermute");
  const int64_t nk = routing.pos.numel(), k = routing.top_k;
  TORCH_CHECK(y.dim() == 2 && y.size(0) == nk, "moe_unpermute: y must be [N*K, H] with N*K = ",
              nk, ", got ", y.sizes());
  TORCH_CHECK(weight.defined() && weight.dim() == 2 && weight.size(1) == k &&
                  weight.size(0) * k == nk,
              "moe_unpermute: weight must be [N, K] = [", nk / k, ", ", k, "], got ",
              weight.sizes());
  check_on_device(weight, y, "moe_unpermute: weight");
  return UnpermuteFunction::apply(y, weight, routing.pos, k)[0];
}

}  // namespace grpo::kernels::cuda
