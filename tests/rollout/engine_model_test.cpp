// tests/rollout/engine_model_test.cpp: the engine on the real models (tiny DeepSeek-V3 with
// MLA + MoE, tiny Qwen3), seeded weights: batched == one-at-a-time for greedy, continuous
// == static batching, a group's shared prefill == separate prefills, and the reported
// log-probs equal a full forward() recomputation (what the learner computes).
#include <ATen/ops/div.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/log_softmax.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/causal_lm.h"
#include "rollout/engine.h"

namespace grpo::rollout {
namespace {

nlohmann::json tiny_config(const std::string& type) {
  if (type == "deepseek_v3")
    return nlohmann::json::parse(R"({
      "model_type": "deepseek_v3", "vocab_size": 96, "hidden_size": 64, "intermediate_size": 96,
      "moe_intermediate_size": 16, "num_hidden_layers": 2, "first_k_dense_replace": 1,
      "num_attention_heads": 4, "num_key_value_heads": 4, "q_lora_rank": 24, "kv_lora_rank": 32,
      "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_routed_experts": 8,
      "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 4, "topk_group": 2,
      "norm_topk_prob": true, "routed_scaling_factor": 2.5, "max_position_embeddings": 256,
      "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
      "num_nextn_predict_layers": 0, "initializer_range": 0.1})");
  return nlohmann::json::parse(R"({
      "model_type": "qwen3", "vocab_size": 96, "hidden_size": 64, "intermediate_size": 96,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
      "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
      "tie_word_embeddings": true, "initializer_range": 0.1})");
}

std::vector<GroupRequest> groups(int n, int64_t G, std::shared_ptr<SamplingParams> sp) {
  std::vector<GroupRequest> out;
  for (int p = 0; p < n; ++p) {
    GroupRequest g;
    for (int t = 0; t < 4 + (p * 3) % 7; ++t) g.prompt.push_back((p * 13 + t * 7 + 2) % 96);
    g.prompt_index = p;
    g.group_size = G;
    g.params = sp;
    out.push_back(g);
  }
  return out;
}

class EngineOnModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { model_ = models::build_model(tiny_config(GetParam()), 1234); }
  std::vector<Completion> run(int64_t batch, bool continuous, std::vector<GroupRequest> g) {
    Engine e(*model_, {.max_batch_seqs = batch, .continuous = continuous});
    return e.generate(std::move(g));
  }
  std::unique_ptr<models::CausalLM> model_;
};

TEST_P(EngineOnModel, BatchedEqualsOneAtATimeForGreedy) {
  auto sp = std::make_shared<SamplingParams>();
  sp->temperature = 0, sp->max_new_tokens = 10;
  auto a = run(16, true, groups(5, 1, sp));
  auto b = run(1, true, groups(5, 1, sp));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "prompt " << i;
    for (size_t t = 0; t < a[i].logprobs.size(); ++t) EXPECT_NEAR(a[i].logprobs[t], b[i].logprobs[t], 1e-4);
  }
}

TEST_P(EngineOnModel, SharedPrefillEqualsSeparatePrefills) {
  auto sp = std::make_shared<SamplingParams>();
  sp->temperature = 0, sp->max_new_tokens = 8;
  auto shared = run(8, true, groups(1, 4, sp));       // one prefill, 3 copy_slot()s
  auto single = run(8, true, groups(1, 1, sp));
  ASSERT_EQ(shared.size(), 4u);
  for (const auto& c : shared) EXPECT_EQ(c.tokens, single[0].tokens);
}

TEST_P(EngineOnModel, ContinuousEqualsStaticBatching) {
  auto sp = std::make_shared<SamplingParams>();
  sp->seed = 77, sp->max_new_tokens = 12, sp->top_k = 20, sp->temperature = 0.9;
  auto mixed = groups(6, 2, sp);
  auto shortp = std::make_shared<SamplingParams>(*sp);
  shortp->max_new_tokens = 3;
  for (size_t i = 1; i < mixed.size(); i += 2) mixed[i].params = shortp;
  auto a = run(4, true, mixed);
  auto b = run(4, false, mixed);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens) << "completion " << i;
}

TEST_P(EngineOnModel, LogprobsEqualAFullForwardRecomputation) {
  auto sp = std::make_shared<SamplingParams>();
  sp->seed = 5, sp->max_new_tokens = 9, sp->temperature = 0.7, sp->top_p = 0.9;
  auto g = groups(3, 2, sp);
  auto out = run(8, true, g);
  for (const auto& c : out) {
    std::vector<int64_t> ids(g[c.prompt_index].prompt.begin(), g[c.prompt_index].prompt.end());
    const int64_t P = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), c.tokens.begin(), c.tokens.end());
    at::Tensor in = at::from_blob(ids.data(), {1, static_cast<int64_t>(ids.size())},
                                  at::TensorOptions().dtype(at::kLong)).clone();
    auto fo = model_->forward(in, {}, {});
    at::Tensor lp = at::log_softmax(model_->logits(fo.hidden).to(at::kFloat).div(0.7), -1);
    for (size_t t = 0; t < c.tokens.size(); ++t) {
      float want = lp[0][P - 1 + static_cast<int64_t>(t)][c.tokens[t]].item<float>();
      EXPECT_NEAR(c.logprobs[t], want, 2e-4) << "prompt " << c.prompt_index << " token " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EngineOnModel, ::testing::Values("deepseek_v3", "qwen3"));

}  // namespace
}  // namespace grpo::rollout
