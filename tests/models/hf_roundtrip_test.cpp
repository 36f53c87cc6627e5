// tests/models/hf_roundtrip_test.cpp (e2e): a checkpoint saved by grpo loads in
// transformers (the venv's python, a real separate process) and gives the same logits,
// for a DeepSeek-V3 model (MLA, MoE with a trained correction bias, YaRN) and a Qwen3 one.
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "models/causal_lm.h"
#include "models/model_args.h"
#include "models/safetensors.h"
#include "test_util.h"

namespace grpo::models {
namespace {

using nlohmann::json;

void check_in_transformers(const json& cfg, const std::string& name) {
  if (!file::exists(GRPO_VENV_PYTHON)) GTEST_SKIP() << "no " << GRPO_VENV_PYTHON;
  auto m = build_model(cfg, 99);
  if (m->args().n_routed_experts > 0) {
    // Non-zero correction bias so transformers must read it to route the same way.
    at::Tensor load =
        at::randint(0, 20, {m->args().num_moe_layers(), m->args().n_routed_experts}, at::kLong);
    m->update_expert_bias(load, 0.05);
  }
  {
    // Biases and norm weights start at 0 and 1; make them matter.
    c10::NoGradGuard ng;
    for (auto& [n, t] : m->state()) {
      if (file::ends_with(n, ".bias") || file::ends_with(n, "norm.weight"))
        t.add_(at::randn(t.sizes()).mul_(0.2).to(t.scalar_type()));
    }
  }
  std::string dir = testing::temp_dir("hf_" + name);
  save_model(*m, dir + "/ckpt");
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, cfg["vocab_size"].get<int64_t>(), {2, 9}, at::kLong);
  at::Tensor logits = m->logits(m->forward(ids, {}, {}).hidden).to(at::kFloat);
  save_safetensors(dir + "/ref.safetensors", {{"input_ids", ids}, {"logits", logits}});
  std::string cmd = std::string(GRPO_VENV_PYTHON) + " " + GRPO_SOURCE_DIR +
                    "/tests/models/hf_load_check.py " + dir + "/ckpt " + dir + "/ref.safetensors";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(HfRoundTrip, DeepSeekV3SavedByGrpoLoadsInTransformersWithSameLogits) {
  check_in_transformers(json{{"model_type", "deepseek_v3"},
                             {"vocab_size", 131},
                             {"hidden_size", 48},
                             {"intermediate_size", 64},
                             {"num_hidden_layers", 3},
                             {"num_attention_heads", 3},
                             {"num_key_value_heads", 3},
                             {"kv_lora_rank", 16},
                             {"q_lora_rank", 20},
                             {"qk_nope_head_dim", 8},
                             {"qk_rope_head_dim", 4},
                             {"v_head_dim", 12},
                             {"n_routed_experts", 6},
                             {"n_shared_experts", 2},
                             {"num_experts_per_tok", 3},
                             {"moe_intermediate_size", 8},
                             {"n_group", 3},
                             {"topk_group", 2},
                             {"first_k_dense_replace", 1},
                             {"routed_scaling_factor", 1.5},
                             {"initializer_range", 0.15},
                             {"num_nextn_predict_layers", 0},
                             {"rope_parameters",
                              {{"rope_type", "yarn"},
                               {"rope_theta", 10000.0},
                               {"factor", 2.0},
                               {"original_max_position_embeddings", 32},
                               {"mscale", 0.9},
                               {"mscale_all_dim", 0.7}}}},
                        "deepseek_v3");
}

TEST(HfRoundTrip, DeepSeekV2SoftmaxGroupLimitedGreedyLoadsInTransformersWithSameLogits) {
  check_in_transformers(json{{"model_type", "deepseek_v2"},
                             {"vocab_size", 77},
                             {"hidden_size", 32},
                             {"intermediate_size", 48},
                             {"num_hidden_layers", 2},
                             {"num_attention_heads", 2},
                             {"num_key_value_heads", 2},
                             {"kv_lora_rank", 16},
                             {"q_lora_rank", nullptr},
                             {"qk_nope_head_dim", 8},
                             {"qk_rope_head_dim", 4},
                             {"v_head_dim", 8},
                             {"n_routed_experts", 8},
                             {"n_shared_experts", 1},
                             {"num_experts_per_tok", 2},
                             {"moe_intermediate_size", 8},
                             {"n_group", 4},
                             {"topk_group", 2},
                             {"topk_method", "group_limited_greedy"},
                             {"norm_topk_prob", false},
                             {"routed_scaling_factor", 1.0},
                             {"first_k_dense_replace", 1},
                             {"initializer_range", 0.2}},
                        "deepseek_v2");
}

TEST(HfRoundTrip, LlamaWithLlama3RopeAndGqaLoadsInTransformersWithSameLogits) {
  check_in_transformers(json{{"model_type", "llama"},
                             {"vocab_size", 70},
                             {"hidden_size", 32},
                             {"intermediate_size", 40},
                             {"num_hidden_layers", 2},
                             {"num_attention_heads", 4},
                             {"num_key_value_heads", 2},
                             {"attention_bias", true},
                             {"initializer_range", 0.2},
                             {"max_position_embeddings", 64},
                             {"rope_scaling",
                              {{"rope_type", "llama3"},
                               {"factor", 8.0},
                               {"low_freq_factor", 1.0},
                               {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 8}}},
                             {"rope_theta", 500.0}},
                        "llama");
}

TEST(HfRoundTrip, Qwen2WithQkvBiasLoadsInTransformersWithSameLogits) {
  check_in_transformers(json{{"model_type", "qwen2"},
                             {"vocab_size", 70},
                             {"hidden_size", 32},
                             {"intermediate_size", 40},
                             {"num_hidden_layers", 2},
                             {"num_attention_heads", 4},
                             {"num_key_value_heads", 1},
                             {"tie_word_embeddings", true},
                             {"initializer_range", 0.2}},
                        "qwen2");
}

TEST(HfRoundTrip, Qwen3SavedByGrpoLoadsInTransformersWithSameLogits) {
  check_in_transformers(json{{"model_type", "qwen3"},
                             {"vocab_size", 90},
                             {"hidden_size", 32},
                             {"intermediate_size", 40},
                             {"num_hidden_layers", 2},
                             {"num_attention_heads", 4},
                             {"num_key_value_heads", 2},
                             {"head_dim", 16},
                             {"tie_word_embeddings", true},
                             {"initializer_range", 0.2}},
                        "qwen3");
}

}  // namespace
}  // namespace grpo::models
