// kernels/token_logprobs.cpp: the chunked token log-prob / entropy op as one custom
// autograd Function shared by the CPU and CUDA paths (in the manner of Liger Kernel's
// fused linear cross-entropy). Forward: per chunk of tokens, logits = hidden_c @ W^T in
// the input dtype, then one per-chunk step reduces them to (logprob, lse, entropy) in fp32.
// Only hidden, W, targets and the [N] statistics are saved; backward recomputes each
// chunk's logits, turns them into dlogits in place, and accumulates
// dhidden_c = dlogits @ W and dW += dlogits^T @ hidden_c (each only when that input
// needs a gradient: a frozen output embedding costs no dW). Peak extra memory is one chunk
// of logits (plus the fp32 dW accumulator for low-precision weights), never [N, V].
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/reference.h"
#ifdef GRPO_CUDA
#include "kernels/cuda_ops.h"
#endif

namespace grpo::kernels {
namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void chunk_forward(bool cuda, const at::Tensor& logits, const at::Tensor& targets, double inv_t,
                   at::Tensor& lp, at::Tensor& lse, at::Tensor& ent) {
#ifdef GRPO_CUDA
  if (cuda) return cuda::logprob_chunk_forward(logits, targets, inv_t, lp, lse, ent);
#endif
  ref::logprob_chunk_forward(logits, targets, inv_t, lp, lse, ent);
}

at::Tensor chunk_backward(bool cuda, at::Tensor& logits, const at::Tensor& targets, double inv_t,
                          const at::Tensor& lse, const at::Tensor& ent, const at::Tensor& g_lp,
                          const at::Tensor& g_ent) {
#ifdef GRPO_CUDA
  if (cuda) {
    cuda::logprob_chunk_backward_(logits, targets, inv_t, lse, ent, g_lp, g_ent);
    return logits;
  }
#endif
  return ref::logprob_chunk_backward(logits, targets, inv_t, lse, ent, g_lp, g_ent);
}

struct TokenLogprobFunction : public torch::autograd::Function<TokenLogprobFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden,
                               const at::Tensor& weight, const at::Tensor& targets,
                               double temperature, int64_t chunk, bool with_entropy, bool cuda) {
    const int64_t n = hidden.size(0);
    const double inv_t = 1.0 / temperature;
    auto f32 = hidden.options().dtype(at::kFloat);
    at::Tensor lp = at::empty({n}, f32), lse = at::empty({n}, f32);
    at::Tensor ent = with_entropy ? at::empty({n}, f32) : at::Tensor();
    at::Tensor wt = weight.t();
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t m = std::min(chunk, n - c0);
      at::Tensor logits = at::mm(hidden.narrow(0, c0, m), wt);  // [m, V] input dtype
      at::Tensor lp_c = lp.narrow(0, c0, m), lse_c = lse.narrow(0, c0, m);
      at::Tensor ent_c = with_entropy ? ent.narrow(0, c0, m) : at::Tensor();
      chunk_forward(cuda, logits, targets.narrow(0, c0, m), inv_t, lp_c, lse_c, ent_c);
    }
    ctx->save_for_backward({hidden, weight, targets, lse, with_entropy ? ent : at::Tensor()});
    ctx->saved_data["inv_t"] = inv_t;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["cuda"] = cuda;
    ctx->saved_data["with_entropy"] = with_entropy;
    if (!with_entropy) ent = at::empty({0}, f32);
    return {lp, ent};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[2], &lse = saved[3];
    const at::Tensor& ent = saved[4];
    const double inv_t = ctx->saved_data["inv_t"].toDouble();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool cuda = ctx->saved_data["cuda"].toBool();
    const bool with_entropy = ctx->saved_data["with_entropy"].toBool();
    at::Tensor g_lp = grads[0].defined() ? grads[0].to(at::kFloat).contiguous() : at::Tensor();
    at::Tensor g_ent = (with_entropy && grads[1].defined() && grads[1].numel() == hidden.size(0))
                           ? grads[1].to(at::kFloat).contiguous()
                           : at::Tensor();
    const int64_t n = hidden.size(0);
    const bool want_h = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    at::Tensor d_hidden = want_h ? at::empty_like(hidden) : at::Tensor();
    // dW accumulates over chunks: in fp32 for low-precision weights, in place otherwise.
    const bool acc_f32 = weight.scalar_type() != at::kFloat && weight.scalar_type() != at::kDouble;
    at::Tensor d_weight;
    if (want_w) {
      d_weight = at::zeros(weight.sizes(),
                           weight.options().dtype(acc_f32 ? at::kFloat : weight.scalar_type()));
    }
    if (!want_h && !want_w) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
                                    at::Tensor(), at::Tensor(), at::Tensor()};
    at::Tensor wt = weight.t();
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t m = std::min(chunk, n - c0);
      at::Tensor h = hidden.narrow(0, c0, m);
      at::Tensor logits = at::mm(h, wt);
      at::Tensor d_logits = chunk_backward(
          cuda, logits, targets.narrow(0, c0, m), inv_t, lse.narrow(0, c0, m),
          with_entropy ? ent.narrow(0, c0, m) : at::Tensor(),
          g_lp.defined() ? g_lp.narrow(0, c0, m) : at::Tensor(),
          g_ent.defined() ? g_ent.narrow(0, c0, m) : at::Tensor());
      if (want_h) {
        at::Tensor dh_c = d_hidden.narrow(0, c0, m);
        at::mm_out(dh_c, d_logits, weight);
      }
      if (want_w && acc_f32) {
        d_weight.add_(at::mm(d_logits.t(), h));
      } else if (want_w) {
        d_weight.addmm_(d_logits.t(), h);
      }
    }
    return {d_hidden,     want_w ? d_weight.to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> run(const at::Tensor& hidden, const at::Tensor& weight,
                                       const at::Tensor& targets, double temperature,
                                       int64_t chunk_tokens, bool with_entropy, bool cuda) {
  ref::check_token_logprobs_args(hidden, weight, targets, temperature);
  const int64_t chunk = ref::logprob_chunk_size(chunk_tokens, weight.size(0));
  variable_list out = TokenLogprobFunction::apply(hidden, weight, targets.contiguous(), temperature,
                                                  chunk, with_entropy, cuda);
  return {out[0], with_entropy ? out[1] : at::Tensor()};
}
}  // namespace

namespace ref {
std::tuple<at::Tensor, at::Tensor> token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                                                  const at::Tensor& targets, double temperature,
                                                  int64_t chunk_tokens, bool with_entropy) {
  return run(hidden, weight, targets, temperature, chunk_tokens, with_entropy, /*cuda=*/false);
}
}  // namespace ref

namespace detail {
// Used by dispatch.cpp: the same Function with the CUDA per-chunk steps.
std::tuple<at::Tensor, at::Tensor> token_logprobs_cuda(const at::Tensor& hidden,
                                                       const at::Tensor& weight,
                                                       const at::Tensor& targets,
                                                       double temperature, int64_t chunk_tokens,
                                                       bool with_entropy) {
  return run(hidden, weight, targets, temperature, chunk_tokens, with_entropy, /*cuda=*/true);
}
}  // namespace detail

}  // namespace grpo::kernels
