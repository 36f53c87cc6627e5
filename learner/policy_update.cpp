// learner/policy_update.cpp: see policy_update.h. The order of work per batch follows TRL's
// GRPOTrainer: old (and reference) log-probs once per batch, then num_iterations passes;
// each pass walks the minibatches in order, one optimiser step per accumulation window.
#include "learner/policy_update.h"

#include <ATen/autocast_mode.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"
#include "learner/distributed.h"
#include "learner/optim.h"
#include "models/causal_lm.h"

namespace grpo::learner {
namespace {

// bf16 autocast on CUDA for the scope of one forward/backward.
class AutocastScope {
 public:
  explicit AutocastScope(bool on) : on_(on) {
    if (!on_) return;
    prev_ = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, prev_);
  }

 private:
  bool on_;
  bool prev_ = false;
};

void add(std::map<std::string, double>& m, const std::string& k, double v) { m[k] += v; }

}  // namespace

std::vector<Sample> samples_of(const std::vector<rollout::Group>& groups,
                               const std::vector<double>& advantages) {
  std::vector<Sample> out;
  out.reserve(advantages.size());
  for (const auto& g : groups) {
    GRPO_ENSURE(g.prompt != nullptr, "a rollout group has no prompt");
    for (const auto& c : g.samples) {
      GRPO_ENSURE(out.size() < advantages.size(), "more answers than the ", advantages.size(),
                  " advantages");
      out.push_back({g.prompt.get(), &c, advantages[out.size()]});
    }
  }
  GRPO_ENSURE(out.size() == advantages.size(), advantages.size(), " advantages for ", out.size(),
              " answers");
  return out;
}

PackedBatch pack(const std::vector<Sample>& all, size_t begin, size_t end,
                 const std::string& device, bool mask_truncated) {
  GRPO_CHECK(begin < end && end <= all.size());
  const int64_t b = static_cast<int64_t>(end - begin);
  int64_t t_max = 1, c_max = 1;
  bool have_rollout = true;
  for (size_t i = begin; i < end; ++i) {
    const auto& c = *all[i].completion;
    GRPO_ENSURE(!all[i].prompt->empty(), "completion ", i, " has an empty prompt");
    GRPO_ENSURE(!c.tokens.empty(), "completion ", i, " has no tokens");
    t_max = std::max<int64_t>(t_max, static_cast<int64_t>(all[i].prompt->size() + c.tokens.size()));
    c_max = std::max<int64_t>(c_max, static_cast<int64_t>(c.tokens.size()));
    if (c.logprobs.size() != c.tokens.size()) have_rollout = false;
  }
  at::Tensor ids = at::zeros({b, t_max}, at::kLong);
  at::Tensor am = at::zeros({b, t_max}, at::kLong);
  at::Tensor gi = at::zeros({b, c_max}, at::kLong);
  at::Tensor tg = at::zeros({b, c_max}, at::kLong);
  at::Tensor mk = at::zeros({b, c_max}, at::kFloat);
  at::Tensor rl = have_rollout ? at::zeros({b, c_max}, at::kFloat) : at::Tensor();
  at::Tensor adv = at::zeros({b}, at::kFloat);
  auto* pi = ids.data_ptr<int64_t>();
  auto* pa = am.data_ptr<int64_t>();
  auto* pg = gi.data_ptr<int64_t>();
  auto* pt = tg.data_ptr<int64_t>();
  auto* pm = mk.data_ptr<float>();
  for (int64_t r = 0; r < b; ++r) {
    const Sample& smp = all[begin + static_cast<size_t>(r)];
    const auto& prompt = *smp.prompt;
    const auto& c = *smp.completion;
    const int64_t p = static_cast<int64_t>(prompt.size());
    const int64_t n = static_cast<int64_t>(c.tokens.size());
    for (int64_t j = 0; j < p; ++j) pi[r * t_max + j] = prompt[static_cast<size_t>(j)];
    for (int64_t j = 0; j < n; ++j) pi[r * t_max + p + j] = c.tokens[static_cast<size_t>(j)];
    for (int64_t j = 0; j < p + n; ++j) pa[r * t_max + j] = 1;
    const float m = (mask_truncated && c.truncated()) ? 0.f : 1.f;
    for (int64_t j = 0; j < c_max; ++j) {
      // Token j of the completion sits at p + j and is predicted by the state at p + j - 1.
      pg[r * c_max + j] = std::min(p + j - 1, t_max - 1);
      if (j < n) {
        pt[r * c_max + j] = c.tokens[static_cast<size_t>(j)];
        pm[r * c_max + j] = m;
        if (have_rollout) rl.data_ptr<float>()[r * c_max + j] = c.logprobs[static_cast<size_t>(j)];
      }
    }
    adv.data_ptr<float>()[r] = static_cast<float>(smp.advantage);
  }
  at::Device dev(device);
  PackedBatch out;
  out.input_ids = ids.to(dev);
  out.attention_mask = am.to(dev);
  out.gather_index = gi.to(dev);
  out.targets = tg.to(dev);
  out.mask = mk.to(dev);
  if (have_rollout) out.rollout_logps = rl.to(dev);
  out.advantages = adv.to(dev);
  return out;
}

TokenLogprobs completion_logprobs(models::CausalLM& model, const PackedBatch& b, double temperature,
                                  int64_t chunk_tokens, bool with_entropy) {
  auto fw = model.forward(b.input_ids, at::Tensor(), b.attention_mask, false);
  const int64_t B = b.targets.size(0), C = b.targets.size(1);
  const int64_t H = fw.hidden.size(-1);
  at::Tensor idx = b.gather_index.unsqueeze(-1).expand({B, C, H});
  at::Tensor h = fw.hidden.gather(1, idx).reshape({B * C, H});
  at::Tensor w = model.lm_head_weight();
  if (h.scalar_type() != w.scalar_type()) h = h.to(w.scalar_type());
  auto [lp, ent] = kernels::token_logprobs(h, w, b.targets.reshape({-1}), temperature, chunk_tokens,
                                           with_entropy);
  TokenLogprobs out;
  out.logp = lp.view({B, C}) * b.mask;
  if (ent.defined()) out.entropy = ent.view({B, C}) * b.mask;
  out.expert_load = fw.expert_load;
  return out;
}

namespace {

// The minibatches of one pass, grouped into optimiser steps.
struct MinibatchPlan {
  std::vector<PackedBatch> batches;
  std::vector<size_t> step_begin{0};  // batches [step_begin[s], step_begin[s + 1]) make step s
  std::vector<double> step_tokens;    // completion tokens of each step's window (skipped too)
  int64_t skipped = 0;                // completions left out (zero advantage)
  size_t window = 0;                  // completions per optimiser step
};

bool skips_zero_advantage(const UpdateOptions& o) {
  return o.skip_zero_advantage && o.loss.beta == 0.0 && o.loss.loss_type != "bnpo" &&
         o.moe_bias_update_rate == 0.0;
}

// Packs once. With group_by_length, each optimiser step's window of mb * accum completions
// is ordered by length first: mixed lengths (a 50-token sum next to a 120-token product)
// otherwise pad every minibatch to its longest member. The loss of a window is a sum over
// its minibatches with normalisers that do not depend on the split (grpo: per-sequence
// means over the window's sequences; dr_grpo: a constant; dapo: the window's tokens), so
// the update is the same up to float rounding; bnpo's per-minibatch token mean is not.
//
// With skip_zero_advantage, completions whose advantage is exactly 0 (groups of equal
// rewards) are left out of the minibatches: with beta == 0 their loss term and gradient
// are 0, and the normalisers still count them (sequence_divisor, the window's tokens), so
// the update is again the same up to rounding while the forward/backward work shrinks by
// the share of such groups. A window keeps at least one completion so that its optimiser
// step (Adam's moments, weight decay) happens as it would. Not with beta > 0 (the KL term
// of every token counts), bnpo, or the MoE bias upkeep (it counts the tokens of the
// learner's forward).
MinibatchPlan plan_minibatches(const std::vector<Sample>& local, const UpdateOptions& o) {
  const int64_t mb = o.per_device_train_batch_size, accum = o.gradient_accumulation_steps;
  const bool skip = skips_zero_advantage(o);
  const bool sort = o.group_by_length && o.loss.loss_type != "bnpo" && accum > 1;
  auto len = [&](size_t i) { return local[i].prompt->size() + local[i].completion->tokens.size(); };
  MinibatchPlan plan;
  plan.window = static_cast<size_t>(mb * accum);
  std::vector<Sample> win;
  for (size_t w = 0; w < local.size(); w += plan.window) {
    std::vector<size_t> idx;
    double tokens = 0;
    for (size_t i = w; i < w + plan.window; ++i) {
      const auto& c = *local[i].completion;
      if (!(o.mask_truncated_completions && c.truncated())) tokens += static_cast<double>(c.tokens.size());
      if (!skip || local[i].advantage != 0.0) idx.push_back(i);
    }
    plan.step_tokens.push_back(tokens);
    if (idx.empty()) {  // keep the shortest, a zero term, so the step's gradients exist
      size_t best = w;
      for (size_t i = w + 1; i < w + plan.window; ++i)
        if (len(i) < len(best)) best = i;
      idx.push_back(best);
    }
    plan.skipped += static_cast<int64_t>(plan.window - idx.size());
    if (sort) std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return len(x) < len(y); });
    win.clear();
    for (size_t i : idx) win.push_back(local[i]);
    for (size_t k = 0; k < win.size(); k += static_cast<size_t>(mb)) {
      plan.batches.push_back(pack(win, k, std::min(win.size(), k + static_cast<size_t>(mb)), o.device,
                                  o.mask_truncated_completions));
    }
    plan.step_begin.push_back(plan.batches.size());
  }
  return plan;
}

// Log-probs of every minibatch under the policy before the update (when needed) and under
// the reference model (when beta > 0), without gradients.
void frozen_logprobs(models::CausalLM& policy, models::CausalLM* ref, const MinibatchPlan& plan,
                     const UpdateOptions& o, bool need_old, bool autocast,
                     std::vector<at::Tensor>& old_lp, std::vector<at::Tensor>& ref_lp) {
  old_lp.assign(plan.batches.size(), at::Tensor());
  ref_lp.assign(plan.batches.size(), at::Tensor());
  c10::NoGradGuard ng;
  AutocastScope ac(autocast);
  for (size_t i = 0; i < plan.batches.size(); ++i) {
    const auto& b = plan.batches[i];
    if (need_old) old_lp[i] = completion_logprobs(policy, b, o.temperature, o.logprob_chunk, false).logp;
    if (o.loss.beta != 0.0) ref_lp[i] = completion_logprobs(*ref, b, o.temperature, o.logprob_chunk, false).logp;
  }
}

// Adds the MoE balance statistics of one optimiser step's expert load and applies the
// aux-loss-free bias upkeep. load: [L_moe, E] int64 summed over this rank's minibatches.
void moe_step_stats(models::CausalLM& policy, Distributed& dist, at::Tensor load,
                    const UpdateOptions& o, std::map<std::string, double>& S) {
  std::vector<at::Tensor> l{load};
  dist.all_reduce_sum(l);
  at::Tensor lf = load.to(at::kDouble);
  at::Tensor mean = lf.mean(-1, true);
  at::Tensor rel = lf / at::clamp(mean, 1e-9);  // per layer: load / mean load
  add(S, "moe/load_max", rel.amax(-1).mean().item<double>());
  add(S, "moe/load_min", rel.amin(-1).mean().item<double>());
  add(S, "moe/experts_idle", (lf == 0).sum().item<double>());
  if (o.moe_bias_update_rate > 0) policy.update_expert_bias(load, o.moe_bias_update_rate);
}

// One update's running state, shared by its optimiser steps.
struct UpdateRun {
  models::CausalLM& policy;
  Optimizer& opt;
  Distributed& dist;
  const UpdateOptions& o;
  const MinibatchPlan& plan;
  std::vector<at::Tensor> old_lp, ref_lp, is_w;
  std::vector<double> global_tokens;  // each step's tokens over all ranks
  bool need_old = false, autocast = false, skip = false;
  double mismatch_sum = 0, mismatch_tok = 0, n_terms = 0;
  UpdateStats st;
};

// Forward, loss and backward of minibatch i in pass `it`; returns its expert load.
at::Tensor learn_minibatch(UpdateRun& r, size_t i, size_t s, int64_t it) {
  const auto& b = r.plan.batches[i];
  LossOptions lo = r.o.loss;
  lo.accumulation_divisor = static_cast<double>(r.o.gradient_accumulation_steps);
  if (r.skip) lo.sequence_divisor = static_cast<double>(r.plan.window);
  lo.dapo_normalizer = std::max(1.0, r.global_tokens[s]) / r.dist.world_size();
  TokenLogprobs cur;
  {
    AutocastScope ac(r.autocast);
    cur = completion_logprobs(r.policy, b, r.o.temperature, r.o.logprob_chunk, true);
  }
  at::Tensor old = r.need_old ? r.old_lp[i] : cur.logp.detach();
  if (it == 0 && b.rollout_logps.defined()) {
    at::Tensor d = at::abs(b.rollout_logps - old) * b.mask;
    r.mismatch_sum += d.sum().item<double>();
    r.mismatch_tok += b.mask.sum().item<double>();
    if (r.o.rollout_is_correction) r.is_w[i] = truncated_is_weight(old, b.rollout_logps, r.o.rollout_is_cap);
  }
  LossOutput out = grpo_loss(cur.logp, old, r.ref_lp[i], b.advantages, b.mask, r.is_w[i], lo);
  out.loss.backward();
  auto& S = r.st.scalars;
  add(S, "loss", out.loss.item<double>());  // summed: the optimiser step's objective
  add(S, "kl", out.kl);
  add(S, "clip_ratio/low_mean", out.clip_low);
  add(S, "clip_ratio/high_mean", out.clip_high);
  add(S, "clip_ratio/region_mean", out.clip_region);
  const double tok = b.mask.sum().item<double>();
  add(S, "entropy", tok > 0 ? cur.entropy.sum().item<double>() / tok : 0.0);
  r.n_terms += 1;
  if (it == 0) r.st.tokens += tok;
  return cur.expert_load;
}

// Optimiser step s of pass `it`: its minibatches, the gradient all-reduce and AdamW.
void learn_step(UpdateRun& r, size_t s, int64_t it) {
  at::Tensor load;
  for (size_t i = r.plan.step_begin[s]; i < r.plan.step_begin[s + 1]; ++i) {
    at::Tensor l = learn_minibatch(r, i, s, it);
    if (l.defined()) load = load.defined() ? load + l : l.clone();
  }
  r.dist.all_reduce_gradients(r.opt.params());
  add(r.st.scalars, "learning_rate", r.opt.next_lr());
  add(r.st.scalars, "grad_norm", r.opt.step());
  r.st.optimizer_steps += 1;
  if (load.defined()) moe_step_stats(r.policy, r.dist, load, r.o, r.st.scalars);
}

// Turns the sums into the means UpdateStats reports.
void finish_stats(UpdateRun& r, int64_t n) {
  auto& S = r.st.scalars;
  for (auto* k : {"kl", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "entropy"}) {
    S[k] /= std::max(1.0, r.n_terms);
  }
  for (auto* k : {"loss", "learning_rate", "grad_norm", "moe/load_max", "moe/load_min", "moe/experts_idle"}) {
    if (S.count(k)) S[k] /= static_cast<double>(std::max<int64_t>(1, r.st.optimizer_steps));
  }
  if (r.mismatch_tok > 0) S["rollout/logprob_abs_diff"] = r.mismatch_sum / r.mismatch_tok;
  if (r.skip) S["learner/skipped_frac"] = static_cast<double>(r.plan.skipped) / static_cast<double>(n);
  if (r.o.loss.beta == 0.0) S.erase("kl");
}

}  // namespace

UpdateStats update_policy(models::CausalLM& policy, models::CausalLM* ref, Optimizer& opt,
                          Distributed& dist, const std::vector<Sample>& local,
                          const UpdateOptions& o) {
  const int64_t n = static_cast<int64_t>(local.size());
  const int64_t mb = o.per_device_train_batch_size;
  const int64_t accum = o.gradient_accumulation_steps;
  GRPO_ENSURE(n > 0 && n % mb == 0,
              "this rank holds ", n, " completions, not a multiple of trainer.per_device_train_batch_size=", mb);
  const int64_t n_micro = n / mb;
  GRPO_ENSURE(n_micro % accum == 0, "this rank's ", n, " completions make ", n_micro,
              " minibatches of ", mb, ", not a multiple of trainer.gradient_accumulation_steps=", accum);
  GRPO_ENSURE(o.loss.beta == 0.0 || ref != nullptr, "trainer.beta=", o.loss.beta,
              " needs a reference model");
  const int64_t steps_per_pass = n_micro / accum;
  const MinibatchPlan plan = plan_minibatches(local, o);

  UpdateRun r{policy, opt, dist, o, plan};
  r.autocast = o.bf16_autocast && o.device.rfind("cuda", 0) == 0;
  r.skip = skips_zero_advantage(o);
  // Old log-probs are needed when the policy moves within the batch (several optimiser
  // steps or passes) or for the rollout comparison; otherwise they equal the detached
  // current ones (TRL makes the same shortcut).
  r.need_old = o.num_iterations > 1 || steps_per_pass > 1 || o.rollout_is_correction;
  frozen_logprobs(policy, ref, plan, o, r.need_old, r.autocast, r.old_lp, r.ref_lp);
  r.is_w.assign(plan.batches.size(), at::Tensor());
  // DAPO: tokens of each optimiser step across ranks (all completions of the window,
  // skipped or not), divided by world size (gradient averaging multiplies back), so the
  // update is sum(loss) / global tokens.
  r.global_tokens = dist.all_reduce_sum(plan.step_tokens);
  for (int64_t it = 0; it < o.num_iterations; ++it) {
    for (int64_t s = 0; s < steps_per_pass; ++s) learn_step(r, static_cast<size_t>(s), it);
  }
  finish_stats(r, n);
  return r.st;
}

}  // namespace grpo::learner
