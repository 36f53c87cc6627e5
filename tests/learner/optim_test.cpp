// tests/learner/optim_test.cpp: learning-rate schedules (Hugging Face formulas), one AdamW
// step by hand, gradient clipping, and the optimizer state round trip.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/module.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "learner/optim.h"

using grpo::learner::lr_multiplier;
using grpo::learner::OptimOptions;

TEST(Schedule, WarmupThenConstantCosineLinear) {
  OptimOptions o;
  o.warmup_steps = 10;
  o.total_steps = 110;
  for (const char* s : {"constant", "cosine", "linear"}) {
    o.scheduler = s;
    EXPECT_DOUBLE_EQ(lr_multiplier(o, 0), 0.0) << s;
    EXPECT_DOUBLE_EQ(lr_multiplier(o, 5), 0.5) << s;
    EXPECT_DOUBLE_EQ(lr_multiplier(o, 10), 1.0) << s;
  }
  o.scheduler = "constant";
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 100), 1.0);
  o.scheduler = "cosine";
  EXPECT_NEAR(lr_multiplier(o, 60), 0.5, 1e-12);
  EXPECT_NEAR(lr_multiplier(o, 35), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_NEAR(lr_multiplier(o, 110), 0.0, 1e-12);
  o.scheduler = "linear";
  EXPECT_NEAR(lr_multiplier(o, 60), 0.5, 1e-12);
  EXPECT_NEAR(lr_multiplier(o, 200), 0.0, 1e-12);
  o.scheduler = "step";
  EXPECT_THROW(lr_multiplier(o, 1), grpo::Error);
}

TEST(Optimizer, OneAdamWStepMatchesTheFormula) {
  at::Tensor p = at::ones({1}).set_requires_grad(true);
  OptimOptions o;
  o.learning_rate = 0.1;
  o.beta1 = 0.9;
  o.beta2 = 0.99;
  o.eps = 1e-8;
  o.weight_decay = 0.01;
  o.max_grad_norm = 0;
  grpo::learner::Optimizer opt({p}, o);
  p.mutable_grad() = at::full({1}, 0.5);
  double norm = opt.step();
  EXPECT_NEAR(norm, 0.5, 1e-7);
  // decoupled decay: 1 * (1 - 0.1 * 0.01); m_hat = 0.5, v_hat = 0.25: update 0.1 * 0.5 / 0.5.
  EXPECT_NEAR(p.item<double>(), 0.999 - 0.1, 1e-6);
  EXPECT_EQ(opt.steps_done(), 1);
  EXPECT_FALSE(p.grad().defined());  // zeroed (set to none)
}

TEST(Optimizer, ClipsToTheGlobalNorm) {
  at::Tensor a = at::zeros({2}), b = at::zeros({1});
  a.mutable_grad() = at::tensor(std::vector<float>{3.0f, 0.0f});
  b.mutable_grad() = at::tensor(std::vector<float>{4.0f});
  double n = grpo::learner::clip_grad_norm({a, b}, 1.0);
  EXPECT_NEAR(n, 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / 5.0, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 / 5.0, 1e-5);
}

TEST(Optimizer, SavedStateResumesIdentically) {
  OptimOptions o;
  o.learning_rate = 0.05;
  o.warmup_steps = 2;
  o.total_steps = 10;
  o.scheduler = "cosine";
  auto grad_at = [](int k) { return at::tensor(std::vector<float>{0.3f * k, -0.2f, 1.0f / (k + 1)}); };
  at::Tensor p1 = at::tensor(std::vector<float>{1, 2, 3}).set_requires_grad(true);
  grpo::learner::Optimizer a({p1}, o);
  for (int k = 0; k < 3; ++k) { p1.mutable_grad() = grad_at(k); a.step(); }
  auto path = (std::filesystem::temp_directory_path() / "grpo_optim_test.pt").string();
  a.save(path);
  at::Tensor p2 = p1.detach().clone().set_requires_grad(true);
  grpo::learner::Optimizer b({p2}, o);
  b.load(path);
  EXPECT_EQ(b.steps_done(), 3);
  EXPECT_DOUBLE_EQ(b.next_lr(), a.next_lr());
  for (int k = 3; k < 6; ++k) {
    p1.mutable_grad() = grad_at(k);
    a.step();
    p2.mutable_grad() = grad_at(k);
    b.step();
  }
  EXPECT_TRUE(p1.equal(p2));
  // A different shape is refused.
  at::Tensor q = at::ones({4}).set_requires_grad(true);
  grpo::learner::Optimizer c({q}, o);
  EXPECT_THROW(c.load(path), grpo::Error);
  std::filesystem::remove(path);
}

namespace {
// A module tree with Hugging Face-style dotted names.
std::shared_ptr<torch::nn::Module> named_tree() {
  auto root = std::make_shared<torch::nn::Module>();
  auto layers = root->register_module("layers", std::make_shared<torch::nn::Module>());
  auto l0 = layers->register_module("0", std::make_shared<torch::nn::Module>());
  auto mlp = l0->register_module("mlp", std::make_shared<torch::nn::Module>());
  auto gate = mlp->register_module("gate", std::make_shared<torch::nn::Module>());
  gate->register_parameter("weight", at::zeros({4, 2}));
  mlp->register_parameter("up_proj", at::zeros({3, 2}));
  root->register_parameter("embed", at::zeros({5, 2}));
  return root;
}
}  // namespace

TEST(TrainableParameters, FreezeRegexesLeaveMatchingParametersUntrained) {
  auto m = named_tree();
  auto all = grpo::learner::trainable_parameters(*m, {});
  EXPECT_EQ(all.size(), 3u);
  auto some = grpo::learner::trainable_parameters(*m, {"mlp\\.gate\\.weight", "^embed$"});
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].size(0), 3);  // up_proj only
  EXPECT_FALSE(m->named_parameters()["layers.0.mlp.gate.weight"].requires_grad());
  EXPECT_TRUE(m->named_parameters()["layers.0.mlp.up_proj"].requires_grad());
}

TEST(TrainableParameters, BadOrUnmatchedPatternsAreConfigErrorsNamingTheKey) {
  auto m = named_tree();
  for (std::string bad : {"(unclosed", "no_such_param"}) {
    try {
      grpo::learner::trainable_parameters(*m, {bad});
      FAIL() << bad;
    } catch (const grpo::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("trainer.freeze: '" + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(grpo::learner::trainable_parameters(*m, {"."}), grpo::ConfigError);  // nothing left
}
