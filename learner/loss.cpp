// learner/loss.cpp: see loss.h. Term-by-term the formulas of TRL 0.2x-1.x
// GRPOTrainer._compute_loss (trl/trainer/grpo_trainer.py): ratio exp(logp - logp_old),
// clip to [1 - eps_low, 1 + eps_high], optional cap of the unclipped ratio at delta,
// -min(r A, clip(r) A), + beta * (exp(ref - logp) - (ref - logp) - 1), then aggregation.
#include "learner/loss.h"

#include <ATen/ops/clamp.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/minimum.h>

#include "core/error.h"

namespace grpo::learner {
namespace {

void check_2d(const at::Tensor& t, const char* name, const at::Tensor& like) {
  GRPO_ENSURE(t.defined(), "grpo_loss: ", name, " is undefined");
  GRPO_ENSURE(t.dim() == 2 && t.sizes() == like.sizes(), "grpo_loss: ", name, " has shape ",
              t.sizes(), ", expected ", like.sizes(), " like logp [N, T]");
}

double masked_mean(const at::Tensor& x, const at::Tensor& mask) {
  if (x.size(1) == 1) return x.mean().item<double>();  // sequence level: one per sequence
  double n = mask.sum().item<double>();
  return n > 0 ? (x * mask).sum().item<double>() / n : 0.0;
}

}  // namespace

at::Tensor truncated_is_weight(const at::Tensor& logp_learner, const at::Tensor& logp_rollout,
                               double cap) {
  return at::clamp_max(at::exp(logp_learner.detach() - logp_rollout), cap);
}

LossOutput grpo_loss(const at::Tensor& logp, const at::Tensor& logp_old, const at::Tensor& logp_ref,
                     const at::Tensor& advantages, const at::Tensor& mask_in,
                     const at::Tensor& is_weight, const LossOptions& opt) {
  GRPO_ENSURE(logp.defined() && logp.dim() == 2, "grpo_loss: logp must be [N, T], got ",
              logp.defined() ? logp.sizes() : at::IntArrayRef{});
  check_2d(logp_old, "logp_old", logp);
  check_2d(mask_in, "mask", logp);
  GRPO_ENSURE(advantages.defined() && advantages.dim() == 1 && advantages.size(0) == logp.size(0),
              "grpo_loss: advantages must be [N] with N = ", logp.size(0));
  if (opt.beta != 0.0) check_2d(logp_ref, "logp_ref (needed when beta != 0)", logp);
  if (is_weight.defined()) check_2d(is_weight, "is_weight", logp);
  const bool seq = opt.importance_sampling_level == "sequence";
  GRPO_ENSURE(seq || opt.importance_sampling_level == "token",
              "trainer.importance_sampling_level: unknown value '", opt.importance_sampling_level,
              "' (expected token or sequence)");
  const std::string& lt = opt.loss_type;
  GRPO_ENSURE(lt == "grpo" || lt == "bnpo" || lt == "dapo" || lt == "dr_grpo",
              "trainer.loss_type: unknown value '", lt, "' (expected grpo, bnpo, dapo or dr_grpo)");

  at::Tensor mask = mask_in.to(logp.scalar_type());
  at::Tensor adv = advantages.to(logp.scalar_type()).unsqueeze(1);  // [N, 1]
  at::Tensor log_ratio = logp - logp_old;
  at::Tensor log_w = log_ratio;
  if (seq) {
    log_w = ((log_ratio * mask).sum(-1) / at::clamp(mask.sum(-1), 1.0)).unsqueeze(-1);  // [N, 1]
  }
  at::Tensor coef1 = at::exp(log_w);
  at::Tensor kl;
  if (opt.beta != 0.0) {
    at::Tensor d = logp_ref - logp;
    kl = at::exp(d) - d - 1;
  }
  at::Tensor coef2 = at::clamp(coef1, 1 - opt.epsilon_low, 1 + opt.epsilon_high);
  at::Tensor coef1c = opt.delta > 0 ? at::clamp_max(coef1, opt.delta) : coef1;
  at::Tensor per_token = -at::minimum(coef1c * adv, coef2 * adv);
  if (is_weight.defined()) per_token = per_token * is_weight;
  if (opt.beta != 0.0) per_token = per_token + opt.beta * kl;

  LossOutput out;
  at::Tensor masked = per_token * mask;  // broadcasts [N, 1] to [N, T] at sequence level
  at::Tensor loss;
  const bool window = opt.sequence_divisor > 0;
  const double n_seq = static_cast<double>(per_token.size(0));
  if (lt == "grpo") {
    loss = (masked.sum(-1) / at::clamp(mask.sum(-1), 1.0)).sum() /
           (window ? opt.sequence_divisor / opt.accumulation_divisor : n_seq);
    out.policy_loss = loss.item<double>();
    loss = loss / opt.accumulation_divisor;
  } else if (lt == "bnpo") {
    loss = masked.sum() / at::clamp(mask.sum(), 1.0);
    out.policy_loss = loss.item<double>();
    loss = loss / opt.accumulation_divisor;
  } else if (lt == "dr_grpo") {
    loss = masked.sum() / ((window ? opt.sequence_divisor / opt.accumulation_divisor : n_seq) *
                           static_cast<double>(opt.max_completion_length));
    out.policy_loss = loss.item<double>();
    loss = loss / opt.accumulation_divisor;
  } else {  // dapo
    double norm = opt.dapo_normalizer > 0 ? opt.dapo_normalizer
                                          : std::max(1.0, mask.sum().item<double>());
    loss = masked.sum() / norm;
    out.policy_loss = loss.item<double>();
  }
  out.loss = loss;
  out.tokens = mask.sum().item<double>();

  at::NoGradGuard ng;
  if (kl.defined()) out.kl = masked_mean(kl.detach(), mask);
  at::Tensor c = coef1.detach();
  at::Tensor lo = ((c < 1 - opt.epsilon_low) & (adv < 0)).to(at::kFloat);
  at::Tensor hi = ((c > 1 + opt.epsilon_high) & (adv > 0)).to(at::kFloat);
  at::Tensor fmask = mask.to(at::kFloat);
  out.clip_low = masked_mean(lo, fmask);
  out.clip_high = masked_mean(hi, fmask);
  out.clip_region = masked_mean((lo + hi).clamp_max(1.0), fmask);
  return out;
}

}  // namespace grpo::learner
