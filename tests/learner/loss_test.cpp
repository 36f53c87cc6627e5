// tests/learner/loss_test.cpp: the GRPO-family loss against hand-computed values: clipping,
// dual clip, KL k3, each aggregation, sequence-level ratios and the truncated IS weight.
// (Parity with TRL's own code is in trl_parity_test.cpp.)
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/log.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <cmath>

#include "core/error.h"
#include "learner/loss.h"

using grpo::learner::grpo_loss;
using grpo::learner::LossOptions;

namespace {
at::Tensor t2(std::vector<float> v, int64_t n, int64_t t) {
  return at::tensor(v, at::kFloat).view({n, t});
}
// One sequence, two tokens: ratios 1.5 and 0.5 against logp_old = 0.
at::Tensor logp_two() {
  return t2({std::log(1.5f), std::log(0.5f)}, 1, 2).set_requires_grad(true);
}
}  // namespace

TEST(GrpoLoss, PositiveAdvantageClipsTheHighRatioAndKeepsTheLowOne) {
  at::Tensor lp = logp_two();
  auto out = grpo_loss(lp, at::zeros({1, 2}), {}, at::ones({1}), at::ones({1, 2}), {}, LossOptions{});
  // token 1: -min(1.5, 1.2) = -1.2; token 2: -min(0.5, 0.8) = -0.5; mean over the sequence.
  EXPECT_NEAR(out.loss.item<double>(), -0.85, 1e-6);
  out.loss.backward();
  // Clipped token: no gradient. Unclipped: d(-r/2)/dlogp = -r/2 = -0.25.
  EXPECT_NEAR(lp.grad()[0][0].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(lp.grad()[0][1].item<double>(), -0.25, 1e-6);
  EXPECT_NEAR(out.clip_high, 0.5, 1e-9);
  EXPECT_NEAR(out.clip_low, 0.0, 1e-9);
}

TEST(GrpoLoss, NegativeAdvantageAndTheDualClip) {
  at::Tensor lp = logp_two();
  auto out = grpo_loss(lp, at::zeros({1, 2}), {}, -at::ones({1}), at::ones({1, 2}), {}, LossOptions{});
  // token 1: -min(-1.5, -1.2) = 1.5; token 2: -min(-0.5, -0.8) = 0.8.
  EXPECT_NEAR(out.loss.item<double>(), 1.15, 1e-6);
  EXPECT_NEAR(out.clip_low, 0.5, 1e-9);
  LossOptions o;
  o.delta = 1.3;  // the unbounded 1.5 term is capped at 1.3
  auto dual = grpo_loss(logp_two(), at::zeros({1, 2}), {}, -at::ones({1}), at::ones({1, 2}), {}, o);
  EXPECT_NEAR(dual.loss.item<double>(), (1.3 + 0.8) / 2, 1e-6);
}

TEST(GrpoLoss, KlIsTheK3EstimateTimesBeta) {
  at::Tensor lp = at::zeros({1, 2}).set_requires_grad(true);
  at::Tensor ref = t2({0.3f, -0.2f}, 1, 2);
  LossOptions o;
  o.beta = 0.5;
  // Zero advantage: the policy term vanishes, only beta * k3 remains.
  auto out = grpo_loss(lp, at::zeros({1, 2}), ref, at::zeros({1}), at::ones({1, 2}), {}, o);
  auto k3 = [](double d) { return std::exp(d) - d - 1; };
  EXPECT_NEAR(out.kl, (k3(0.3) + k3(-0.2)) / 2, 1e-6);
  EXPECT_NEAR(out.loss.item<double>(), 0.5 * (k3(0.3) + k3(-0.2)) / 2, 1e-6);
  out.loss.backward();
  // d k3 / d logp = -(e^d - 1); times beta / 2 tokens.
  EXPECT_NEAR(lp.grad()[0][0].item<double>(), -0.5 * (std::exp(0.3) - 1) / 2, 1e-6);
}

TEST(GrpoLoss, AggregationsWeighTokensAsEachLossTypeSays) {
  // Two sequences: lengths 2 and 1; ratio 1 everywhere so per-token loss = -A.
  at::Tensor lp = at::zeros({2, 2});
  at::Tensor mask = t2({1, 1, 1, 0}, 2, 2);
  at::Tensor adv = at::tensor(std::vector<float>{1.0f, -2.0f});
  LossOptions o;
  auto run = [&](const std::string& lt, double dapo_norm = 0, double accum = 1) {
    o.loss_type = lt;
    o.max_completion_length = 4;
    o.dapo_normalizer = dapo_norm;
    o.accumulation_divisor = accum;
    return grpo_loss(lp, at::zeros({2, 2}), {}, adv, mask, {}, o).loss.item<double>();
  };
  EXPECT_NEAR(run("grpo"), ((-1 - 1) / 2.0 + 2.0) / 2, 1e-6);  // mean of sequence means
  EXPECT_NEAR(run("bnpo"), (-1 - 1 + 2) / 3.0, 1e-6);          // mean over tokens
  EXPECT_NEAR(run("dr_grpo"), (-1 - 1 + 2) / (2.0 * 4), 1e-6);  // sum / (B * max_len)
  EXPECT_NEAR(run("dapo"), (-1 - 1 + 2) / 3.0, 1e-6);          // own token count by default
  EXPECT_NEAR(run("dapo", 10.0), 0.0 / 10.0, 1e-6);
  EXPECT_NEAR(run("grpo", 0, 4), 0.5 / 4, 1e-6);                // accumulation divisor
  at::Tensor adv2 = at::tensor(std::vector<float>{1.0f, 1.0f});
  o.loss_type = "dapo";
  o.dapo_normalizer = 6.0;  // e.g. 12 global tokens over 2 ranks
  EXPECT_NEAR(grpo_loss(lp, at::zeros({2, 2}), {}, adv2, mask, {}, o).loss.item<double>(), -3.0 / 6, 1e-6);
}

TEST(GrpoLoss, SequenceLevelRatioIsTheMeanLogRatioOfTheSequence) {
  at::Tensor lp = t2({0.1f, 0.3f, 7.0f}, 1, 3).set_requires_grad(true);  // last token is padding
  at::Tensor mask = t2({1, 1, 0}, 1, 3);
  LossOptions o;
  o.importance_sampling_level = "sequence";
  o.epsilon_high = 10;
  auto out = grpo_loss(lp, at::zeros({1, 3}), {}, at::ones({1}), mask, {}, o);
  EXPECT_NEAR(out.loss.item<double>(), -std::exp(0.2), 1e-6);
  out.loss.backward();
  EXPECT_NEAR(lp.grad()[0][0].item<double>(), -std::exp(0.2) / 2, 1e-6);
  EXPECT_NEAR(lp.grad()[0][2].item<double>(), 0.0, 1e-9);
}

TEST(GrpoLoss, TruncatedImportanceWeightScalesThePolicyTerm) {
  at::Tensor w = grpo::learner::truncated_is_weight(t2({0.0f, 0.0f}, 1, 2), t2({-0.1f, -2.0f}, 1, 2), 2.0);
  EXPECT_NEAR(w[0][0].item<double>(), std::exp(0.1), 1e-6);
  EXPECT_NEAR(w[0][1].item<double>(), 2.0, 1e-6);  // e^2 capped at 2
  auto out = grpo_loss(at::zeros({1, 2}), at::zeros({1, 2}), {}, at::ones({1}), at::ones({1, 2}), w, LossOptions{});
  EXPECT_NEAR(out.loss.item<double>(), -(std::exp(0.1) + 2.0) / 2, 1e-6);
}

TEST(GrpoLoss, MismatchedShapesAndUnknownNamesAreErrors) {
  EXPECT_THROW(grpo_loss(at::zeros({2, 3}), at::zeros({2, 2}), {}, at::ones({2}), at::ones({2, 3}), {}, LossOptions{}),
               grpo::Error);
  LossOptions o;
  o.beta = 0.1;  // needs a reference
  EXPECT_THROW(grpo_loss(at::zeros({1, 2}), at::zeros({1, 2}), {}, at::ones({1}), at::ones({1, 2}), {}, o), grpo::Error);
  o = LossOptions{};
  o.loss_type = "ppo";
  EXPECT_THROW(grpo_loss(at::zeros({1, 2}), at::zeros({1, 2}), {}, at::ones({1}), at::ones({1, 2}), {}, o), grpo::Error);
}
