// learner/optim.h: AdamW with a warm-up + constant/cosine/linear learning-rate schedule and
// global-norm gradient clipping, shared by the GRPO and SFT trainers.
// Design: the schedule is a pure function of the optimiser step (the Hugging Face
// get_*_schedule_with_warmup lambdas), so resuming needs only the step count and the
// AdamW moments; no scheduler object carries hidden state.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace torch::optim {
class AdamW;
}
namespace torch::nn {
class Module;
}

namespace grpo::learner {

struct OptimOptions {
  double learning_rate = 1e-6;
  double beta1 = 0.9, beta2 = 0.99, eps = 1e-8;
  double weight_decay = 0.0;
  std::string scheduler = "constant";  // constant | cosine | linear (after warm-up)
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;  // optimiser steps of the whole run (cosine/linear reach 0 there)
  double max_grad_norm = 1.0;  // 0: no clipping
};

// Learning-rate multiplier for optimiser step `step` (0-based: the first update uses
// step 0). Warm-up: step / warmup_steps; then constant 1, cosine 0.5 (1 + cos(pi p)) or
// linear 1 - p with p = (step - warmup) / (total - warmup), clamped to [0, 1]. Throws
// grpo::Error for an unknown scheduler name.
double lr_multiplier(const OptimOptions& o, int64_t step);

// The parameters to train: every parameter of `model` that requires a gradient, except
// those whose dotted (Hugging Face) name matches one of the `freeze` regexes (ECMAScript,
// searched anywhere in the name); those are set to requires_grad = false. Throws
// ConfigError (naming trainer.freeze) for a bad regex, one that matches no parameter, or
// when nothing is left to train.
std::vector<at::Tensor> trainable_parameters(torch::nn::Module& model,
                                             const std::vector<std::string>& freeze);

// Scales all gradients so that their global L2 norm is at most max_norm (no-op when
// max_norm <= 0) and returns the norm before clipping (computed in fp32). Parameters
// without a gradient are skipped.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// AdamW over a fixed parameter list, with the schedule applied before each update.
// Not thread-safe. Owns its moments; the parameters belong to the caller's model.
class Optimizer {
 public:
  Optimizer(std::vector<at::Tensor> params, const OptimOptions& opts);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Clips the gradients (max_grad_norm), sets the learning rate of the current step,
  // applies AdamW, zeroes the gradients and advances the step. Returns the gradient norm
  // before clipping. A non-finite norm skips the update (gradients are zeroed, the step
  // still advances) and is reported by returning that norm.
  double step();
  void zero_grad();
  // Optimiser steps taken so far.
  int64_t steps_done() const { return step_; }
  // Learning rate the next step() will use.
  double next_lr() const;
  const std::vector<at::Tensor>& params() const { return params_; }
  const OptimOptions& options() const { return opts_; }

  // Moments and step count to/from a file (torch serialization archive). load() requires
  // the same parameter shapes; throws grpo::Error naming the file otherwise.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::vector<at::Tensor> params_;
  OptimOptions opts_;
  std::unique_ptr<torch::optim::AdamW> adam_;
  int64_t step_ = 0;
};

}  // namespace grpo::learner
