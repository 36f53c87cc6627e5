// tests/data/sft_loss_test.cpp: the SFT loss puts loss on completion tokens only (checked
// against log-probs read off the model's own logits by hand), packing matches separate
// sequences (positions restart, no attention across examples), and the pass@k estimator
// matches hand-computed values.
#include <gtest/gtest.h>

#include <ATen/ops/from_blob.h>
#include <ATen/ops/log_softmax.h>
#include <c10/core/GradMode.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/sft.h"
#include "learner/eval.h"
#include "learner/sft_trainer.h"
#include "models/causal_lm.h"

namespace gd = grpo::data;
namespace gl = grpo::learner;

namespace {
nlohmann::json tiny_arch(bool deepseek) {
  if (deepseek) {
    return {{"model_type", "deepseek_v3"}, {"vocab_size", 40}, {"hidden_size", 32}, {"intermediate_size", 48},
            {"moe_intermediate_size", 16}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
            {"num_key_value_heads", 2}, {"n_shared_experts", 1}, {"n_routed_experts", 4},
            {"num_experts_per_tok", 2}, {"n_group", 1}, {"topk_group", 1}, {"first_k_dense_replace", 1},
            {"kv_lora_rank", 16}, {"q_lora_rank", 16}, {"qk_rope_head_dim", 8}, {"qk_nope_head_dim", 8},
            {"v_head_dim", 8}, {"max_position_embeddings", 64}, {"num_nextn_predict_layers", 1},
            {"initializer_range", 0.2}, {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
  }
  return {{"model_type", "qwen3"}, {"vocab_size", 40}, {"hidden_size", 32}, {"intermediate_size", 48},
          {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 16},
          {"max_position_embeddings", 64}, {"initializer_range", 0.2}, {"tie_word_embeddings", true},
          {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
}
}  // namespace

TEST(SftLoss, OnlyCompletionTokensCarryLoss) {
  auto model = grpo::models::build_model(tiny_arch(false), 3);
  gd::SftExample ex{{5, 6, 7}, {8, 9}};
  auto seqs = gd::pack_examples({ex}, 16, false);
  c10::NoGradGuard ng;
  auto l = gl::sft_loss(*model, seqs, 0.0);
  EXPECT_EQ(l.tokens, 2);
  // By hand: positions 2 and 3 (last prompt token, first completion token) predict 8, 9.
  std::vector<int64_t> ids = {5, 6, 7, 8, 9};
  auto in = at::from_blob(ids.data(), {1, 5}, at::kLong).clone();
  auto lp = at::log_softmax(model->logits(model->forward(in, {}, {}).hidden), -1);
  double want = -(lp[0][2][8].item<double>() + lp[0][3][9].item<double>()) / 2;
  EXPECT_NEAR(l.ce, want, 1e-5);
  EXPECT_NEAR(l.loss.item<double>(), want, 1e-5);
  // Changing the prompt changes the conditioning but the loss still counts 2 tokens only.
  auto l2 = gl::sft_loss(*model, gd::pack_examples({{{1, 2, 3, 4, 5, 6, 7}, {8, 9}}}, 16, false), 0.0);
  EXPECT_EQ(l2.tokens, 2);
}

TEST(SftLoss, PackedEqualsSeparateSequences) {
  for (bool deepseek : {false, true}) {
    auto model = grpo::models::build_model(tiny_arch(deepseek), 5);
    std::vector<gd::SftExample> ex = {{{5, 6, 7}, {8, 9, 10}}, {{11, 12}, {13, 14}}};
    c10::NoGradGuard ng;
    auto packed = gl::sft_loss(*model, gd::pack_examples(ex, 32, true), 0.0);
    auto a = gl::sft_loss(*model, gd::pack_examples({ex[0]}, 32, true), 0.0);
    auto b = gl::sft_loss(*model, gd::pack_examples({ex[1]}, 32, true), 0.0);
    ASSERT_EQ(packed.tokens, a.tokens + b.tokens);
    double want = (a.ce * a.tokens + b.ce * b.tokens) / (a.tokens + b.tokens);
    EXPECT_NEAR(packed.ce, want, 1e-4) << (deepseek ? "deepseek_v3" : "qwen3");
  }
}

TEST(SftLoss, MtpModuleAddsItsWeightedLoss) {
  auto model = grpo::models::build_model(tiny_arch(true), 7);
  auto seqs = gd::pack_examples({{{5, 6}, {8, 9, 10, 11}}}, 32, true);
  c10::NoGradGuard ng;
  auto without = gl::sft_loss(*model, seqs, 0.0);
  auto with = gl::sft_loss(*model, seqs, 0.5);
  EXPECT_EQ(without.mtp_ce, 0.0);
  EXPECT_GT(with.mtp_ce, 0.0);
  EXPECT_NEAR(with.ce, without.ce, 1e-6);
  double aux = without.loss.item<double>() - without.ce;  // balance loss, if any
  EXPECT_NEAR(with.loss.item<double>(), with.ce + 0.5 * with.mtp_ce + aux, 1e-5);
}

TEST(PassAtK, MatchesHandValues) {
  EXPECT_DOUBLE_EQ(gl::pass_at_k(5, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(gl::pass_at_k(5, 5, 3), 1.0);
  EXPECT_NEAR(gl::pass_at_k(5, 2, 1), 0.4, 1e-12);
  EXPECT_NEAR(gl::pass_at_k(5, 1, 2), 1.0 - 6.0 / 10.0, 1e-12);   // 1 - C(4,2)/C(5,2)
  EXPECT_NEAR(gl::pass_at_k(4, 2, 4), 1.0, 1e-12);
  EXPECT_THROW(gl::pass_at_k(2, 1, 3), grpo::Error);
}
