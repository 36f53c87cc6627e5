// kernels/cuda_grouped_gemm.cpp: tensor adapter of the grouped expert GEMM
// (kernels/cuda/grouped_gemm.cuh) as a custom autograd Function. Forward: out_e = x_e w_e^T;
// backward: dx_e = dy_e w_e and dw_e = dy_e^T x_e, each again one grouped call. The group
// sizes are read back to the host once per call (cuBLAS takes them as host arrays).
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

#include "kernels/cuda/grouped_gemm.cuh"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"

namespace grpo::kernels::cuda {
namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

enum class Pass { kForward, kGradInput, kGradWeight };

// Runs one pass over all experts. x: [M, K]; w: [E, N, K]; dy: [M, N] (backward passes).
void run_pass(Pass pass, const std::vector<int64_t>& counts, const at::Tensor& x,
              const at::Tensor& w, const at::Tensor& dy, at::Tensor& out) {
  const int64_t e = w.size(0), n = w.size(1), k = w.size(2);
  const int64_t es = x.element_size();
  GroupedGemmParams p;
  p.handle = at::cuda::getCurrentCUDABlasHandle();
  p.stream = stream_of(x);
  p.dtype = dtype_of(x, "grouped_gemm");
  p.allow_tf32 = false;
  at::Tensor scratch = at::empty({3 * e}, x.options().dtype(at::kLong));
  p.device_ptrs = reinterpret_cast<void**>(scratch.data_ptr<int64_t>());
  auto at_row = [es](const at::Tensor& t, int64_t row, int64_t ld) {
    return static_cast<char*>(t.data_ptr()) + row * ld * es;
  };
  int64_t row = 0;
  for (int64_t g = 0; g < e; ++g) {
    const int64_t m = counts[g];
    GemmProblem q;
    const char* wg = static_cast<const char*>(w.data_ptr()) + g * n * k * es;
    if (pass == Pass::kForward) {  // out_g [m, N] = x_g [m, K] @ w_g^T
      q = {at_row(x, row, k), wg, at_row(out, row, n), int(m), int(n), int(k), int(k), int(k),
           int(n), false, true};
    } else if (pass == Pass::kGradInput) {  // dx_g [m, K] = dy_g [m, N] @ w_g [N, K]
      q = {at_row(dy, row, n), wg, at_row(out, row, k), int(m), int(k), int(n), int(n), int(k),
           int(k), false, false};
    } else {  // dw_g [N, K] = dy_g^T [N, m] @ x_g [m, K]
      q = {at_row(dy, row, n), at_row(x, row, k),
           static_cast<char*>(out.data_ptr()) + g * n * k * es, int(n), int(k), int(m), int(n),
           int(k), int(k), true, false};
      if (m == 0) q.m = 0;  // empty expert: dw_g stays zero
    }
    p.problems.push_back(q);
    row += m;
  }
  grouped_gemm_run(p);
  // `scratch` must live until the GEMMs have read it: record it on the stream.
  scratch.record_stream(c10::cuda::getCurrentCUDAStream(x.device().index()));
}

std::vector<int64_t> host_counts(const at::Tensor& counts, int64_t rows) {
  at::Tensor c = counts.to(at::kCPU).to(at::kLong).contiguous();
  std::vector<int64_t> v(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  int64_t total = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    TORCH_CHECK(v[i] >= 0, "grouped_gemm: counts[", i, "] = ", v[i], " is negative");
    total += v[i];
  }
  TORCH_CHECK(total == rows, "grouped_gemm: counts sum to ", total, " but x has ", rows, " rows");
  return v;
}

struct GroupedGemmFunction : public torch::autograd::Function<GroupedGemmFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                               const at::Tensor& counts) {
    c10::cuda::CUDAGuard guard(x.device());
    at::Tensor xc = x.contiguous(), wc = w.contiguous();
    std::vector<int64_t> cnt = host_counts(counts, x.size(0));
    at::Tensor out = at::empty({x.size(0), w.size(1)}, x.options());
    run_pass(Pass::kForward, cnt, xc, wc, at::Tensor(), out);
    ctx->save_for_backward({xc, wc});
    ctx->saved_data["counts"] = cnt;
    return {out};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1];
    c10::cuda::CUDAGuard guard(x.device());
    std::vector<int64_t> cnt = ctx->saved_data["counts"].toIntVector();
    at::Tensor dy = grads[0].to(x.scalar_type()).contiguous();
    at::Tensor dx = at::empty_like(x), dw = at::zeros_like(w);
    run_pass(Pass::kGradInput, cnt, x, w, dy, dx);
    run_pass(Pass::kGradWeight, cnt, x, w, dy, dw);
    return {dx, dw, at::Tensor()};
  }
};
}  // namespace

at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts) {
  TORCH_CHECK(x.defined() && x.dim() == 2, "grouped_gemm: x must be [M, K], got ", x.sizes());
  TORCH_CHECK(w.defined() && w.dim() == 3 && w.size(2) == x.size(1),
              "grouped_gemm: w must be [E, N, K] with K = ", x.size(1), ", got ", w.sizes());
  TORCH_CHECK(w.scalar_type() == x.scalar_type(), "grouped_gemm: w is ", w.scalar_type(),
              " but x is ", x.scalar_type());
  check_on_device(w, x, "grouped_gemm: w");
  TORCH_CHECK(counts.defined() && counts.dim() == 1 && counts.size(0) == w.size(0),
              "grouped_gemm: counts must be [E] with E = ", w.size(0), ", got ", counts.sizes());
  return GroupedGemmFunction::apply(x, w, counts)[0];
}

}  // namespace grpo::kernels::cuda
