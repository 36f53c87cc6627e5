// kernels/cuda_rms_norm.cpp: tensor adapter of the fused residual-add + RMSNorm kernels
// (kernels/cuda/rms_norm.cuh), wrapped in a custom autograd Function whose backward runs
// the fused backward kernel: gradients to x, residual (the same tensor) and weight.
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cuda/rms_norm.cuh"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"
#include "kernels/reference.h"

namespace grpo::kernels::cuda {
namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// x2: [rows, H] contiguous; residual2: same or undefined. Returns (y, sum, inv_rms).
std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_2d(const at::Tensor& x2,
                                                          const at::Tensor& residual2,
                                                          const at::Tensor& w32, double eps) {
  const int64_t rows = x2.size(0), cols = x2.size(1);
  at::Tensor y = at::empty_like(x2);
  at::Tensor sum = residual2.defined() ? at::empty_like(x2) : at::Tensor();
  at::Tensor inv = at::empty({rows}, x2.options().dtype(at::kFloat));
  RmsNormFwdParams p;
  p.x = x2.data_ptr();
  p.residual = residual2.defined() ? residual2.data_ptr() : nullptr;
  p.weight = w32.data_ptr<float>();
  p.y = y.data_ptr();
  p.sum = sum.defined() ? sum.data_ptr() : nullptr;
  p.inv_rms = inv.data_ptr<float>();
  p.rows = rows;
  p.cols = cols;
  p.eps = static_cast<float>(eps);
  p.dtype = dtype_of(x2, "rms_norm");
  p.stream = stream_of(x2);
  rms_norm_forward(p);
  return {y, sum, inv};
}

struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  // Returns {y, sum}; sum is an empty tensor without a residual.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& residual,
                               const at::Tensor& weight, double eps) {
    c10::cuda::CUDAGuard guard(x.device());
    const int64_t cols = x.size(-1);
    at::Tensor x2 = x.contiguous().view({-1, cols});
    at::Tensor r2 = residual.defined() ? residual.contiguous().view({-1, cols}) : at::Tensor();
    at::Tensor w32 = weight.to(at::kFloat).contiguous();
    auto [y, sum, inv] = forward_2d(x2, r2, w32, eps);
    ctx->save_for_backward({residual.defined() ? sum : x2, inv, w32});
    ctx->saved_data["has_residual"] = residual.defined();
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    at::Tensor sum_out = residual.defined() ? sum.view(x.sizes()) : at::empty({0}, x.options());
    return {y.view(x.sizes()), sum_out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &r = saved[0], &inv = saved[1], &w32 = saved[2];
    const bool has_residual = ctx->saved_data["has_residual"].toBool();
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["weight_dtype"].toInt());
    c10::cuda::CUDAGuard guard(r.device());
    const int64_t rows = r.size(0), cols = r.size(1);
    at::Tensor dy = grads[0].defined() ? grads[0].to(r.scalar_type()).contiguous().view({rows, cols})
                                       : at::zeros({rows, cols}, r.options());
    at::Tensor dsum;
    if (has_residual && grads[1].defined() && grads[1].numel() == r.numel())
      dsum = grads[1].to(r.scalar_type()).contiguous().view({rows, cols});
    at::Tensor dx = at::empty_like(r);
    const int64_t blocks = rms_norm_backward_blocks(rows);
    at::Tensor dwp = at::zeros({blocks, cols}, r.options().dtype(at::kFloat));
    RmsNormBwdParams p;
    p.dy = dy.data_ptr();
    p.dsum = dsum.defined() ? dsum.data_ptr() : nullptr;
    p.r = r.data_ptr();
    p.inv_rms = inv.data_ptr<float>();
    p.weight = w32.data_ptr<float>();
    p.dx = dx.data_ptr();
    p.dw_partial = dwp.data_ptr<float>();
    p.blocks = blocks;
    p.rows = rows;
    p.cols = cols;
    p.dtype = dtype_of(r, "rms_norm backward");
    p.stream = stream_of(r);
    rms_norm_backward(p);
    at::Tensor dw = dwp.sum(0).to(wdt);
    at::Tensor shaped = dx.view(ctx->saved_data["shape"].toIntVector());
    return {shaped, has_residual ? shaped : at::Tensor(), dw, at::Tensor()};
  }
};
}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  ref::check_rms_norm_args(x, weight, eps);
  variable_list out = RmsNormFunction::apply(x, at::Tensor(), weight, eps);
  return out[0];
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps) {
  ref::check_rms_norm_args(x, weight, eps);
  TORCH_CHECK(residual.defined() && residual.sizes() == x.sizes() &&
                  residual.scalar_type() == x.scalar_type(),
              "add_rms_norm: residual ", residual.sizes(), " must match x ", x.sizes(),
              " in shape and dtype");
  check_on_device(residual, x, "add_rms_norm: residual");
  variable_list out = RmsNormFunction::apply(x, residual, weight, eps);
  return {out[0], out[1]};
}

}  // namespace grpo::kernels::cuda
