// kernels/dispatch.cpp: the ops.h entry points. Each routes to the CUDA implementation
// (kernels/cuda_ops.h) when the build has GRPO_CUDA, its main input is a CUDA tensor of a
// dtype the kernel handles and the process-wide switch is on; to the fast CPU
// implementation (kernels/cpu_ops.h) when its inputs are CPU float32 tensors, no gradient
// is needed and the switch is on; otherwise to the reference (kernels/reference.h). The
// switch is an atomic, so toggling it is thread-safe.
#include <c10/core/GradMode.h>

#include <atomic>
#include <initializer_list>

#include "kernels/cpu_ops.h"
#include "kernels/ops.h"
#include "kernels/reference.h"
#ifdef GRPO_CUDA
#include "kernels/cuda_ops.h"
#endif

namespace grpo::kernels {
namespace detail {
std::tuple<at::Tensor, at::Tensor> token_logprobs_cuda(const at::Tensor& hidden,
                                                       const at::Tensor& weight,
                                                       const at::Tensor& targets,
                                                       double temperature, int64_t chunk_tokens,
                                                       bool with_entropy);
}  // namespace detail

namespace {
std::atomic<bool> g_use_kernels{true};

// Whether `t` should take the CUDA path.
bool route(const at::Tensor& t) {
#ifdef GRPO_CUDA
  if (!t.defined() || !t.is_cuda() || !g_use_kernels.load(std::memory_order_relaxed))
    return false;
  auto s = t.scalar_type();
  return s == at::kFloat || s == at::kBFloat16 || s == at::kHalf;
#else
  (void)t;
  return false;
#endif
}
// Whether the fast CPU path takes an op whose inputs are `ts` (the first is the main one):
// all defined ones CPU float32, and none needs a gradient.
bool route_cpu(std::initializer_list<const at::Tensor*> ts) {
  if (!g_use_kernels.load(std::memory_order_relaxed)) return false;
  const bool grad = at::GradMode::is_enabled();
  bool first = true;
  for (const at::Tensor* t : ts) {
    if (!t->defined()) {
      if (first) return false;
      continue;
    }
    if (!cpu::handles(*t) || (grad && t->requires_grad())) return false;
    first = false;
  }
  return true;
}
}  // namespace

bool cuda_available() {
#ifdef GRPO_CUDA
  return cuda::device_present();
#else
  return false;
#endif
}

void set_use_kernels(bool on) { g_use_kernels.store(on); }
bool use_kernels() { return g_use_kernels.load(); }

#ifdef GRPO_CUDA
#define GRPO_ROUTE(t, call) \
  if (route(t)) return cuda::call
#else
#define GRPO_ROUTE(t, call) (void)0
#endif

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  GRPO_ROUTE(x, rms_norm(x, weight, eps));
  if (route_cpu({&x, &weight})) return cpu::rms_norm(x, weight, eps);
  return ref::rms_norm(x, weight, eps);
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps) {
  GRPO_ROUTE(x, add_rms_norm(x, residual, weight, eps));
  if (route_cpu({&x, &residual, &weight})) return cpu::add_rms_norm(x, residual, weight, eps);
  return ref::add_rms_norm(x, residual, weight, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt) {
  GRPO_ROUTE(logits, moe_gate(logits, bias, opt));
  if (route_cpu({&logits, &bias})) return cpu::moe_gate(logits, bias, opt);
  return ref::moe_gate(logits, bias, opt);
}

MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts) {
  // A stable sort and a histogram: ATen's own kernels on a GPU, a counting sort on the CPU.
  if (g_use_kernels.load(std::memory_order_relaxed) && topk_idx.defined() &&
      topk_idx.device().is_cpu())
    return cpu::moe_routing(topk_idx, num_experts);
  return ref::moe_routing(topk_idx, num_experts);
}

at::Tensor moe_permute(const at::Tensor& x, const MoeRouting& routing) {
  GRPO_ROUTE(x, moe_permute(x, routing));
  return ref::moe_permute(x, routing);
}

at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing) {
  GRPO_ROUTE(y, moe_unpermute(y, weight, routing));
  if (route_cpu({&y, &weight})) return cpu::moe_unpermute(y, weight, routing);
  return ref::moe_unpermute(y, weight, routing);
}

at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts) {
  GRPO_ROUTE(x, grouped_gemm(x, w, counts));
  if (route_cpu({&x, &w})) return cpu::grouped_gemm(x, w, counts);
  return ref::grouped_gemm(x, w, counts);
}

std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale) {
  GRPO_ROUTE(q_latent, mla_decode(q_latent, q_rope, kv_latent, k_rope, slots, lengths, softmax_scale));
  if (route_cpu({&q_latent, &q_rope, &kv_latent, &k_rope}))
    return cpu::mla_decode(q_latent, q_rope, kv_latent, k_rope, slots, lengths, softmax_scale);
  return ref::mla_decode(q_latent, q_rope, kv_latent, k_rope, slots, lengths, softmax_scale);
}

std::tuple<at::Tensor, at::Tensor> token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                  const at::Tensor& targets, double temperature,
                                                  int64_t chunk_tokens, bool with_entropy) {
  if (route(hidden)) {
    return detail::token_logprobs_cuda(hidden, weight, targets, temperature, chunk_tokens,
                                       with_entropy);
  }
  return ref::token_logprobs(hidden, weight, targets, temperature, chunk_tokens, with_entropy);
}

}  // namespace grpo::kernels
