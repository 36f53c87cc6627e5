// tests/learner/policy_update_test.cpp: the update around the loss: packing offsets,
// MoE bias upkeep and load metrics on a tiny DeepSeek-V3, masked truncated answers, a
// zero-signal batch leaving the policy unchanged, minibatches grouped by length giving the
// same update, and the rank-sharded prompt sampler.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "learner/distributed.h"
#include "learner/grpo_trainer.h"
#include "learner/optim.h"
#include "learner/policy_update.h"
#include "models/causal_lm.h"
#include "test_batch.h"

using namespace grpo;

namespace {
nlohmann::json tiny_v3() {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 40}, {"hidden_size", 16},
          {"intermediate_size", 32}, {"moe_intermediate_size", 8}, {"num_hidden_layers", 2},
          {"num_attention_heads", 2}, {"num_key_value_heads", 2}, {"n_shared_experts", 1},
          {"n_routed_experts", 4}, {"num_experts_per_tok", 2}, {"n_group", 1}, {"topk_group", 1},
          {"first_k_dense_replace", 1}, {"kv_lora_rank", 8}, {"q_lora_rank", 8},
          {"qk_rope_head_dim", 4}, {"qk_nope_head_dim", 4}, {"v_head_dim", 4},
          {"max_position_embeddings", 64}, {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
}
test::TestBatch batch(int n, double adv_scale) {
  test::TestBatch cs;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> answer;
    for (int j = 0; j <= i % 4; ++j) answer.push_back(5 + (i * 3 + j) % 30);
    cs.add({1, 2 + i % 5, 3}, answer, adv_scale * ((i % 2) ? 1.0 : -1.0));
  }
  return cs;
}
// One update of a fresh tiny dense model (seed 3): the stats and the weights after it.
struct UpdateRun {
  learner::UpdateStats stats;
  std::vector<at::Tensor> weights;
};
UpdateRun run_update(const test::TestBatch& cs, const learner::UpdateOptions& uo,
                     const learner::OptimOptions& oo) {
  nlohmann::json cfg = {{"model_type", "qwen3"}, {"vocab_size", 40}, {"hidden_size", 16},
                        {"intermediate_size", 32}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                        {"num_key_value_heads", 1}, {"head_dim", 8}};
  auto m = models::build_model(cfg, 3);
  std::vector<at::Tensor> params;
  for (auto& p : m->module().parameters()) params.push_back(p);
  learner::Optimizer opt(params, oo);
  auto dist = learner::Distributed::single();
  UpdateRun r;
  r.stats = learner::update_policy(*m, nullptr, opt, *dist, cs.view(), uo);
  for (auto& p : params) r.weights.push_back(p.detach().clone());
  return r;
}
// ||a - b|| / ||a|| over all weights.
double relative_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]).pow(2).sum().item<double>();
    norm += a[i].pow(2).sum().item<double>();
  }
  return std::sqrt(diff / norm);
}
at::Tensor find(models::CausalLM& m, const std::string& name) {
  for (auto& [n, t] : m.state()) if (n == name) return t;
  return {};
}
}  // namespace

TEST(Pack, PlacesEachCompletionAfterItsPromptWithTheRightPredictingPositions) {
  test::TestBatch cs;
  cs.add({7, 8}, {9, 10, 11}, 0.0);
  cs.add({1, 2, 3, 4}, {5}, 0.0, /*truncated=*/true);
  auto b = learner::pack(cs.view(), 0, 2, "cpu", /*mask_truncated=*/true);
  ASSERT_EQ(b.input_ids.sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_EQ(b.input_ids[0][4].item<int64_t>(), 11);
  EXPECT_EQ(b.attention_mask[1][4].item<int64_t>(), 1);
  EXPECT_EQ(b.attention_mask[0][4].item<int64_t>(), 1);
  EXPECT_EQ(b.gather_index[0][0].item<int64_t>(), 1);  // token 9 at 2 is predicted by 1
  EXPECT_EQ(b.gather_index[1][0].item<int64_t>(), 3);
  EXPECT_EQ(b.targets[0][2].item<int64_t>(), 11);
  EXPECT_EQ(b.mask[0].sum().item<double>(), 3.0);
  EXPECT_EQ(b.mask[1].sum().item<double>(), 0.0);  // truncated and masked
  EXPECT_FALSE(b.rollout_logps.defined());
}

TEST(PolicyUpdate, MoeBiasMovesTowardsBalanceAndLoadIsReported) {
  auto m = models::build_model(tiny_v3(), 11);
  at::Tensor bias = find(*m, "model.layers.1.mlp.gate.e_score_correction_bias");
  ASSERT_TRUE(bias.defined());
  at::Tensor before = bias.clone();
  std::vector<at::Tensor> params;
  for (auto& p : m->module().parameters()) if (p.requires_grad()) params.push_back(p);
  learner::OptimOptions oo;
  oo.learning_rate = 1e-3;
  learner::Optimizer opt(params, oo);
  auto dist = learner::Distributed::single();
  learner::UpdateOptions uo;
  uo.per_device_train_batch_size = 4;
  uo.gradient_accumulation_steps = 2;
  uo.moe_bias_update_rate = 0.01;
  auto st = learner::update_policy(*m, nullptr, opt, *dist, batch(8, 1.0).view(), uo);
  EXPECT_EQ(st.optimizer_steps, 1);
  ASSERT_TRUE(st.scalars.count("moe/load_max"));
  EXPECT_GE(st.scalars["moe/load_max"], 1.0);
  EXPECT_LE(st.scalars["moe/load_min"], 1.0);
  // Each expert's bias moved by exactly +-gamma (or 0 at the mean), overloaded ones down.
  at::Tensor d = bias - before;
  EXPECT_GT(d.abs().max().item<double>(), 0.0);
  EXPECT_LE(d.abs().max().item<double>(), 0.01 + 1e-7);
  EXPECT_NEAR(d.sum().item<double>(), 0.0, 0.02 + 1e-6);
}

TEST(PolicyUpdate, ZeroAdvantagesWithoutKlLeaveThePolicyUnchanged) {
  nlohmann::json cfg = {{"model_type", "qwen3"}, {"vocab_size", 40}, {"hidden_size", 16},
                        {"intermediate_size", 32}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                        {"num_key_value_heads", 1}, {"head_dim", 8}};
  auto m = models::build_model(cfg, 3);
  std::vector<at::Tensor> params;
  for (auto& p : m->module().parameters()) params.push_back(p);
  std::vector<at::Tensor> before;
  for (auto& p : params) before.push_back(p.detach().clone());
  learner::OptimOptions oo;
  oo.learning_rate = 0.1;
  learner::Optimizer opt(params, oo);
  auto dist = learner::Distributed::single();
  learner::UpdateOptions uo;
  uo.per_device_train_batch_size = 4;
  uo.num_iterations = 2;
  auto st = learner::update_policy(*m, nullptr, opt, *dist, batch(4, 0.0).view(), uo);
  EXPECT_EQ(st.optimizer_steps, 2);
  EXPECT_EQ(st.scalars["grad_norm"], 0.0);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(params[i].equal(before[i]));
  // With signal, the same settings move the weights.
  learner::update_policy(*m, nullptr, opt, *dist, batch(4, 1.0).view(), uo);
  bool moved = false;
  for (size_t i = 0; i < params.size(); ++i) moved = moved || !params[i].equal(before[i]);
  EXPECT_TRUE(moved);
  // A batch that does not split into minibatches is refused with the numbers.
  try {
    learner::update_policy(*m, nullptr, opt, *dist, batch(6, 1.0).view(), uo);
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("per_device_train_batch_size=4"), std::string::npos) << e.what();
  }
}

TEST(PolicyUpdate, GroupingByLengthGivesTheSameUpdate) {
  // Minibatches of similar lengths pad less; for every loss type except bnpo the window's
  // loss does not depend on how it is split, so the weights after the update must agree
  // with the unsorted split (one window of 4 minibatches, and two windows of 2).
  for (const char* loss : {"grpo", "dr_grpo", "dapo", "bnpo"}) {
    for (int64_t accum : {4, 2}) {
      std::vector<UpdateRun> runs;
      for (bool group : {false, true}) {
        learner::OptimOptions oo;
        oo.learning_rate = 0.05;
        learner::UpdateOptions uo;
        uo.loss.loss_type = loss;
        uo.loss.max_completion_length = 4;
        uo.per_device_train_batch_size = 2;
        uo.gradient_accumulation_steps = accum;
        uo.group_by_length = group;
        runs.push_back(run_update(batch(8, 1.0), uo, oo));
      }
      EXPECT_LT(relative_diff(runs[0].weights, runs[1].weights), 1e-6) << loss << " accum " << accum;
    }
  }
}

TEST(PolicyUpdate, SkippingZeroAdvantagesGivesTheSameUpdate) {
  // With beta == 0 a completion of advantage 0 has no gradient; leaving it out of the
  // minibatches must not change the loss, the gradient norm or the weights, as long as the
  // normalisers still count it. 16 completions, minibatches of 2: completions 0-3 have
  // advantage 0 (with accum 2 the first window has nothing left to learn from, and still
  // makes its Adam step), and so does every 3rd after that.
  auto cs = batch(16, 1.0);
  int zeros = 0;
  for (int i = 0; i < 16; ++i) {
    if (i < 4 || i % 3 == 0) {
      cs.advantages[static_cast<size_t>(i)] = 0.0;
      ++zeros;
    } else {
      cs.advantages[static_cast<size_t>(i)] *= 0.5 + 0.1 * i;  // unequal weights
    }
  }
  for (const char* loss : {"grpo", "dr_grpo", "dapo"}) {
    for (int64_t accum : {2, 8}) {
      for (int64_t iters : {1, 2}) {
        std::vector<UpdateRun> runs;
        for (bool skip : {false, true}) {
          learner::OptimOptions oo;
          oo.learning_rate = 0.05;
          oo.weight_decay = 0.1;
          oo.max_grad_norm = 0.0;  // no clipping: the norm is compared as it is
          learner::UpdateOptions uo;
          uo.loss.loss_type = loss;
          uo.loss.max_completion_length = 4;
          uo.per_device_train_batch_size = 2;
          uo.gradient_accumulation_steps = accum;
          uo.num_iterations = iters;
          uo.skip_zero_advantage = skip;
          runs.push_back(run_update(cs, uo, oo));
        }
        std::string what = std::string(loss) + " accum " + std::to_string(accum) + " iters " + std::to_string(iters);
        auto& full = runs[0].stats;
        auto& skipped = runs[1].stats;
        EXPECT_LT(relative_diff(runs[0].weights, runs[1].weights), 1e-6) << what;
        EXPECT_EQ(full.optimizer_steps, skipped.optimizer_steps) << what;
        for (const char* key : {"loss", "grad_norm"}) {
          double a = full.scalars[key], b = skipped.scalars[key];
          EXPECT_NEAR(a, b, 1e-5 * std::max(1.0, std::abs(a))) << key << " " << what;
        }
        EXPECT_GT(full.scalars["grad_norm"], 0.0) << what;
        EXPECT_EQ(full.scalars.count("learner/skipped_frac"), 0u) << what;
        // Fewer tokens went through the learner: the zeros are really left out.
        EXPECT_LT(skipped.tokens, full.tokens) << what;
        // All zeros are left out, except one kept for the first window when it has no other.
        double want = (zeros - (accum == 2 ? 1 : 0)) / 16.0;
        EXPECT_DOUBLE_EQ(skipped.scalars["learner/skipped_frac"], want) << what;
      }
    }
  }
}

TEST(PromptSampler, RanksTakeDisjointSlicesAndEpochsCoverEveryRow) {
  learner::PromptSampler r0(10, 5, true, 0, 2), r1(10, 5, true, 1, 2);
  std::multiset<int64_t> seen;
  for (int s = 0; s < 5; ++s) {  // 5 steps x 4 prompts = 2 epochs
    auto a = r0.next(4), b = r1.next(4);
    ASSERT_EQ(a.size(), 2u);
    seen.insert(a.begin(), a.end());
    seen.insert(b.begin(), b.end());
  }
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(seen.count(i), 2u) << i;
  EXPECT_EQ(r0.epoch(), 2);
  EXPECT_EQ(r0.offset(), 0);
  // Restoring a position continues the same sequence.
  learner::PromptSampler a(10, 5, true, 0, 1), b(10, 5, true, 0, 1);
  a.next(7);
  b.load_state(a.state());
  EXPECT_EQ(a.next(6), b.next(6));
  learner::PromptSampler c(11, 5, true, 0, 1);
  EXPECT_THROW(c.load_state(a.state()), grpo::Error);
}

TEST(Validation, ClashingSettingsAreListedWithTheirNumbers) {
  learner::GrpoOptions o;
  o.prompts_per_step = 6;
  o.group_size = 4;
  o.update.per_device_train_batch_size = 5;
  o.update.loss.delta = 1.1;
  try {
    learner::validate_training(o, 4);
    FAIL();
  } catch (const grpo::ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("prompts_per_step=6 is not divisible by the 4 learner ranks"), std::string::npos) << m;
    EXPECT_NE(m.find("delta=1.1"), std::string::npos) << m;
  }
  o.update.loss.delta = 0;
  try {
    learner::validate_training(o, 2);
    FAIL();
  } catch (const grpo::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("= 12 completions, not a multiple of trainer.per_device_train_batch_size=5"),
              std::string::npos) << e.what();
  }
  o.update.per_device_train_batch_size = 4;
  EXPECT_NO_THROW(learner::validate_training(o, 2));
}
