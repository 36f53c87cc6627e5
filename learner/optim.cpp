// learner/optim.cpp: AdamW (torch::optim), the warm-up schedules and gradient clipping.
// Schedule formulas follow transformers.optimization get_{constant,cosine,linear}_schedule_
// with_warmup (num_cycles 0.5), so a run here and a TRL run see the same learning rates.
#include "learner/optim.h"

#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "core/error.h"

namespace grpo::learner {

double lr_multiplier(const OptimOptions& o, int64_t step) {
  GRPO_ENSURE(o.scheduler == "constant" || o.scheduler == "cosine" || o.scheduler == "linear",
              "trainer.lr_scheduler_type: unknown schedule '", o.scheduler,
              "' (expected constant, cosine or linear)");
  if (step < o.warmup_steps) {
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, o.warmup_steps));
  }
  double p = static_cast<double>(step - o.warmup_steps) /
             static_cast<double>(std::max<int64_t>(1, o.total_steps - o.warmup_steps));
  if (o.scheduler == "constant") return 1.0;
  if (o.scheduler == "cosine") return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * p)));
  return std::max(0.0, 1.0 - p);  // linear
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  std::vector<at::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().to(at::kFloat).norm());
  }
  if (norms.empty()) return 0.0;
  double total = at::stack(norms).norm().item<double>();
  if (max_norm > 0 && std::isfinite(total)) {
    double coef = max_norm / (total + 1e-6);  // torch.nn.utils.clip_grad_norm_
    if (coef < 1.0) {
      for (const auto& p : params) {
        if (p.grad().defined()) p.grad().detach().mul_(coef);
      }
    }
  }
  return total;
}

Optimizer::Optimizer(std::vector<at::Tensor> params, const OptimOptions& opts)
    : params_(std::move(params)), opts_(opts) {
  lr_multiplier(opts_, 0);  // validates the schedule name
  torch::optim::AdamWOptions ao(opts_.learning_rate);
  ao.betas({opts_.beta1, opts_.beta2}).eps(opts_.eps).weight_decay(opts_.weight_decay);
  adam_ = std::make_unique<torch::optim::AdamW>(params_, ao);
}

Optimizer::~Optimizer() = default;

double Optimizer::next_lr() const { return opts_.learning_rate * lr_multiplier(opts_, step_); }

void Optimizer::zero_grad() { adam_->zero_grad(/*set_to_none=*/true); }

double Optimizer::step() {
  double norm = clip_grad_norm(params_, opts_.max_grad_norm);
  if (std::isfinite(norm)) {
    double lr = next_lr();
    for (auto& g : adam_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    }
    adam_->step();
  }
  zero_grad();
  ++step_;
  return norm;
}

void Optimizer::save(const std::string& path) const {
  try {
    torch::serialize::OutputArchive ar;
    adam_->save(ar);
    ar.write("grpo_step", at::scalar_tensor(static_cast<int64_t>(step_), at::kLong));
    ar.save_to(path);
  } catch (const c10::Error& e) {
    throw Error(str("could not write optimizer state ", path, ": ", e.what_without_backtrace()));
  }
}

void Optimizer::load(const std::string& path) {
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    adam_->load(ar);
    at::Tensor s;
    ar.read("grpo_step", s);
    step_ = s.item<int64_t>();
  } catch (const c10::Error& e) {
    throw Error(str("could not read optimizer state ", path, ": ", e.what_without_backtrace()));
  }
  // The moments must match our parameters' shapes.
  for (auto& g : adam_->param_groups()) {
    for (auto& p : g.params()) {
      auto it = adam_->state().find(p.unsafeGetTensorImpl());
      if (it == adam_->state().end()) continue;
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      GRPO_ENSURE(st.exp_avg().sizes() == p.sizes(), "optimizer state ", path,
                  " does not match the model: moment of shape ", st.exp_avg().sizes(),
                  " for a parameter of shape ", p.sizes());
    }
  }
}

std::vector<at::Tensor> trainable_parameters(torch::nn::Module& model,
                                             const std::vector<std::string>& freeze) {
  std::vector<std::regex> res;
  for (const auto& f : freeze) {
    try {
      res.emplace_back(f, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw ConfigError(str("trainer.freeze: '", f, "' is not a valid regex: ", e.what()));
    }
  }
  std::vector<bool> used(res.size(), false);
  std::vector<at::Tensor> out;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    at::Tensor p = item.value();
    if (!p.requires_grad()) continue;
    bool frozen = false;
    for (size_t i = 0; i < res.size(); ++i) {
      if (std::regex_search(item.key(), res[i])) used[i] = frozen = true;
    }
    if (frozen) {
      p.requires_grad_(false);
    } else {
      out.push_back(p);
    }
  }
  for (size_t i = 0; i < res.size(); ++i) {
    if (!used[i])
      throw ConfigError(str("trainer.freeze: '", freeze[i], "' matches no trainable parameter ",
                            "(names look like model.layers.0.mlp.gate.weight)"));
  }
  if (out.empty()) throw ConfigError("trainer.freeze leaves no parameter to train");
  return out;
}

}  // namespace grpo::learner
