// tests/models/model_args_test.cpp: config.json parsing — HF defaults, explicit errors for
// unsupported values naming the key, unknown keys listed, YaRN softmax scale by hand.
#include "models/model_args.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace grpo::models {
namespace {

using nlohmann::json;

json llama() {
  return json{{"model_type", "llama"},    {"vocab_size", 100},      {"hidden_size", 32},
              {"intermediate_size", 64},  {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"num_key_value_heads", 2}, {"rope_theta", 500000.0}};
}

json deepseek() {
  return json{{"model_type", "deepseek_v3"},
              {"vocab_size", 100},
              {"hidden_size", 32},
              {"intermediate_size", 64},
              {"num_hidden_layers", 3},
              {"num_attention_heads", 4},
              {"kv_lora_rank", 16},
              {"q_lora_rank", nullptr},
              {"qk_nope_head_dim", 8},
              {"qk_rope_head_dim", 4},
              {"v_head_dim", 8},
              {"n_routed_experts", 8},
              {"num_experts_per_tok", 2},
              {"moe_intermediate_size", 8},
              {"n_group", 2},
              {"topk_group", 1},
              {"first_k_dense_replace", 1}};
}

std::string error_of(const json& j) {
  try {
    parse_model_args(j, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelArgs, LlamaDerivesHeadDimAndKeepsGqa) {
  ModelArgs a = parse_model_args(llama());
  EXPECT_EQ(a.head_dim, 8);
  EXPECT_EQ(a.num_key_value_heads, 2);
  EXPECT_DOUBLE_EQ(a.rope.theta, 500000.0);
  EXPECT_FALSE(a.is_mla());
  EXPECT_DOUBLE_EQ(attention_softmax_scale(a), 1.0 / std::sqrt(8.0));
}

TEST(ModelArgs, Qwen2AlwaysHasQkvBiasAndQwen3HasQkNorm) {
  json q2 = llama();
  q2["model_type"] = "qwen2";
  EXPECT_TRUE(parse_model_args(q2).attention_bias);
  EXPECT_FALSE(parse_model_args(q2).o_bias);
  json q3 = llama();
  q3["model_type"] = "qwen3";
  q3["head_dim"] = 16;
  ModelArgs a = parse_model_args(q3);
  EXPECT_TRUE(a.qk_norm);
  EXPECT_EQ(a.head_dim, 16);
}

TEST(ModelArgs, DeepSeekMoeLayersStartAfterTheDenseOnes) {
  ModelArgs a = parse_model_args(deepseek());
  EXPECT_TRUE(a.is_mla());
  EXPECT_EQ(a.q_lora_rank, 0);
  EXPECT_FALSE(a.is_moe_layer(0));
  EXPECT_TRUE(a.is_moe_layer(1));
  EXPECT_EQ(a.num_moe_layers(), 2);
  EXPECT_EQ(a.scoring_func, "sigmoid");
  EXPECT_DOUBLE_EQ(a.routed_scaling_factor, 2.5);  // the HF DeepseekV3Config default
  EXPECT_EQ(a.rope_dim(), 4);
}

TEST(ModelArgs, YarnMscaleAllDimScalesTheSoftmax) {
  json j = deepseek();
  j["rope_scaling"] = {
      {"type", "yarn"}, {"factor", 40.0},        {"original_max_position_embeddings", 4096},
      {"mscale", 1.0},  {"mscale_all_dim", 1.0}, {"beta_fast", 32},
      {"beta_slow", 1}};
  ModelArgs a = parse_model_args(j);
  EXPECT_EQ(a.rope.type, "yarn");
  double m = 0.1 * std::log(40.0) + 1.0;  // DeepSeek-V3 inference/model.py
  EXPECT_NEAR(attention_softmax_scale(a), m * m / std::sqrt(12.0), 1e-12);
}

TEST(ModelArgs, UnsupportedValuesAreErrorsNamingTheKey) {
  json j = llama();
  j["hidden_act"] = "gelu";
  EXPECT_NE(error_of(j).find("hidden_act"), std::string::npos);
  j = llama();
  j["model_type"] = "mistral";
  EXPECT_NE(error_of(j).find("mistral"), std::string::npos);
  j = llama();
  j["use_sliding_window"] = true;
  EXPECT_NE(error_of(j).find("use_sliding_window"), std::string::npos);
  j = llama();
  j["rope_scaling"] = {{"rope_type", "longrope"}};
  EXPECT_NE(error_of(j).find("longrope"), std::string::npos);
  j = llama();
  j["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(j).find("num_key_value_heads"), std::string::npos);
  j = llama();
  j.erase("hidden_size");
  EXPECT_NE(error_of(j).find("'hidden_size'"), std::string::npos);
  j = llama();
  j["vocab_size"] = "many";
  EXPECT_NE(error_of(j).find("vocab_size"), std::string::npos);
  j = deepseek();
  j["n_group"] = 3;
  EXPECT_NE(error_of(j).find("n_group"), std::string::npos);
  j = deepseek();
  j["scoring_func"] = "relu";
  EXPECT_NE(error_of(j).find("scoring_func"), std::string::npos);
  j = deepseek();
  j["quantization_config"] = {{"quant_method", "fp8"}};
  EXPECT_NE(error_of(j).find("quantization_config"), std::string::npos);
}

TEST(ModelArgs, UnknownKeysAreListedNotFatal) {
  json j = llama();
  j["my_custom_knob"] = 3;
  j["architectures"] = {"LlamaForCausalLM"};  // bookkeeping: accepted silently
  ModelArgs a = parse_model_args(j);
  ASSERT_EQ(a.unknown_keys.size(), 1u);
  EXPECT_EQ(a.unknown_keys[0], "my_custom_knob");
}

TEST(ModelArgs, HfConfigRoundTripKeepsEveryValue) {
  json j = deepseek();
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0},
                          {"factor", 4.0},       {"original_max_position_embeddings", 64},
                          {"mscale", 0.7},       {"mscale_all_dim", 0.9}};
  ModelArgs a = parse_model_args(j);
  ModelArgs b = parse_model_args(to_hf_config(a));
  EXPECT_EQ(b.n_group, a.n_group);
  EXPECT_EQ(b.first_k_dense_replace, a.first_k_dense_replace);
  EXPECT_EQ(b.q_lora_rank, 0);
  EXPECT_DOUBLE_EQ(b.rope.mscale_all_dim, 0.9);
  EXPECT_DOUBLE_EQ(attention_softmax_scale(b), attention_softmax_scale(a));
  EXPECT_TRUE(to_hf_config(a)["q_lora_rank"].is_null());
}

}  // namespace
}  // namespace grpo::models
