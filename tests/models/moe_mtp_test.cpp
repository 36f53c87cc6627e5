// tests/models/moe_mtp_test.cpp: DeepSeekMoE bookkeeping (expert load counts, the
// aux-loss-free bias update rule, the sequence-wise balance loss), MTP modules (shapes,
// HF names, skipped unless asked, gradients, save/load round trip), and decode == forward
// for the dense families without a transformers fixture (Llama GQA, Qwen2 qkv bias).
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/tensor.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/causal_lm.h"
#include "models/model_args.h"
#include "models/safetensors.h"
#include "test_util.h"

namespace grpo::models {
namespace {

using nlohmann::json;
using testing::max_abs_diff;
using testing::temp_dir;

json deepseek(int mtp = 0, double aux = 0.0) {
  return json{{"model_type", "deepseek_v3"},
              {"vocab_size", 97},
              {"hidden_size", 32},
              {"intermediate_size", 48},
              {"num_hidden_layers", 3},
              {"num_attention_heads", 2},
              {"kv_lora_rank", 16},
              {"q_lora_rank", 12},
              {"qk_nope_head_dim", 8},
              {"qk_rope_head_dim", 4},
              {"v_head_dim", 8},
              {"n_routed_experts", 8},
              {"n_shared_experts", 1},
              {"num_experts_per_tok", 2},
              {"moe_intermediate_size", 8},
              {"n_group", 4},
              {"topk_group", 2},
              {"first_k_dense_replace", 1},
              {"num_nextn_predict_layers", mtp},
              {"aux_loss_alpha", aux},
              {"initializer_range", 0.2}};
}

at::Tensor tensor_named(CausalLM& m, const std::string& name) {
  for (auto& [n, t] : m.state())
    if (n == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

TEST(Moe, ExpertLoadCountsEveryRealTokenTopKTimes) {
  auto m = build_model(deepseek(), 7);
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, 97, {2, 9}, at::kLong);
  auto out = m->forward(ids, {}, {});
  ASSERT_TRUE(out.expert_load.defined());
  EXPECT_EQ(out.expert_load.sizes(), (std::vector<int64_t>{2, 8}));  // 2 MoE layers, 8 experts
  EXPECT_EQ(out.expert_load.scalar_type(), at::kLong);
  for (int64_t l = 0; l < 2; ++l) EXPECT_EQ(out.expert_load[l].sum().item<int64_t>(), 2 * 9 * 2);
  at::Tensor mask = at::ones({2, 9}, at::kLong);
  mask[1].narrow(0, 5, 4).fill_(0);
  auto padded = m->forward(ids, {}, mask);
  for (int64_t l = 0; l < 2; ++l)
    EXPECT_EQ(padded.expert_load[l].sum().item<int64_t>(), (9 + 5) * 2);
}

TEST(Moe, BiasUpdateMovesTowardsTheMeanLoad) {
  auto m = build_model(deepseek(), 7);
  at::Tensor load = at::tensor(std::vector<int64_t>{5, 1, 3, 3, 0, 9, 2, 1,  //
                                                    3, 3, 3, 3, 3, 3, 3, 3},
                               at::kLong)
                        .view({2, 8});
  m->update_expert_bias(load, 0.01);
  at::Tensor b1 = tensor_named(*m, "model.layers.1.mlp.gate.e_score_correction_bias");
  at::Tensor b2 = tensor_named(*m, "model.layers.2.mlp.gate.e_score_correction_bias");
  // mean load of layer 1 is 3: above -> -gamma, below -> +gamma, equal -> 0.
  std::vector<float> want = {-0.01f, 0.01f, 0.f, 0.f, 0.01f, -0.01f, 0.01f, 0.01f};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(b1[i].item<float>(), want[i]) << i;
  EXPECT_EQ(b2.abs().sum().item<float>(), 0.f);
  EXPECT_THROW(m->update_expert_bias(load.narrow(0, 0, 1), 0.01), Error);
}

TEST(Moe, BiasChangesSelectionButNotTheWeights) {
  // A large bias on expert 3 forces it into every token's top-k (selection), while the
  // output stays finite and the load shows expert 3 chosen by every token.
  auto m = build_model(deepseek(), 11);
  c10::NoGradGuard ng;
  for (const char* l : {"model.layers.1", "model.layers.2"}) {
    at::Tensor b = tensor_named(*m, std::string(l) + ".mlp.gate.e_score_correction_bias");
    b[3].fill_(10.0);
  }
  at::Tensor ids = at::randint(0, 97, {1, 6}, at::kLong);
  auto out = m->forward(ids, {}, {});
  EXPECT_EQ(out.expert_load[0][3].item<int64_t>(), 6);
  EXPECT_EQ(out.expert_load[1][3].item<int64_t>(), 6);
}

TEST(Moe, BalanceLossScalesWithAlphaAndHasGradients) {
  at::Tensor ids = at::randint(0, 97, {2, 7}, at::kLong);
  auto m1 = build_model(deepseek(0, 0.001), 5);
  auto m2 = build_model(deepseek(0, 0.002), 5);
  auto o1 = m1->forward(ids, {}, {});
  auto o2 = m2->forward(ids, {}, {});
  ASSERT_TRUE(o1.aux_loss.defined());
  double l1 = o1.aux_loss.item<double>(), l2 = o2.aux_loss.item<double>();
  EXPECT_GT(l1, 0.0);
  EXPECT_NEAR(l2, 2 * l1, 1e-9);
  // For any routing, sum_i f_i P_i >= ... is bounded by E/K * max P <= E/K; here a sanity band.
  EXPECT_LT(l1, 0.001 * 2 * 8 / 2.0);
  o1.aux_loss.backward();
  at::Tensor g = tensor_named(*m1, "model.layers.1.mlp.gate.weight").grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(build_model(deepseek(), 5)->forward(ids, {}, {}).aux_loss.defined());
}

TEST(Moe, GradientsReachEveryRoutedExpertThatWasUsed) {
  auto m = build_model(deepseek(), 3);
  at::Tensor ids = at::randint(0, 97, {2, 8}, at::kLong);
  auto out = m->forward(ids, {}, {});
  m->logits(out.hidden).pow(2).mean().backward();
  for (auto& p : m->module().named_parameters()) {
    if (p.key().find(".mlp.experts.gate_proj") == std::string::npos) continue;
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    at::Tensor per_expert = p.value().grad().abs().sum({1, 2});
    int64_t layer = p.key().find("layers.1.") != std::string::npos ? 0 : 1;
    for (int64_t e = 0; e < 8; ++e)
      EXPECT_EQ(per_expert[e].item<double>() > 0, out.expert_load[layer][e].item<int64_t>() > 0)
          << p.key() << " expert " << e;
  }
}

TEST(Mtp, ModulesRunOnlyWhenAskedAndUseDeepSeekNames) {
  auto m = build_model(deepseek(2), 9);
  bool found = false;
  for (auto& [n, t] : m->state()) {
    if (n == "model.layers.3.eh_proj.weight") {
      found = true;
      EXPECT_EQ(t.sizes(), (std::vector<int64_t>{32, 64}));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(tensor_named(*m, "model.layers.4.shared_head.norm.weight").defined());
  EXPECT_TRUE(tensor_named(*m, "model.layers.4.mlp.experts.7.down_proj.weight").defined());
  at::Tensor ids = at::randint(0, 97, {2, 6}, at::kLong);
  auto plain = m->forward(ids, {}, {});
  EXPECT_FALSE(plain.mtp_hidden.defined());
  auto with = m->forward(ids, {}, {}, /*with_mtp=*/true);
  ASSERT_TRUE(with.mtp_hidden.defined());
  EXPECT_EQ(with.mtp_hidden.sizes(), (std::vector<int64_t>{2, 2, 6, 32}));
  EXPECT_LE(max_abs_diff(with.hidden, plain.hidden), 0.0);
  // MTP depth 1 reads token t+1: changing only the last token changes depth-1 hidden at
  // position T-2 but not the main hidden there.
  at::Tensor ids2 = ids.clone();
  ids2[0][5] = (ids[0][5].item<int64_t>() + 1) % 97;
  auto with2 = m->forward(ids2, {}, {}, true);
  // (1e-5: the expert batches differ, so GEMM rounding may too)
  EXPECT_LE(max_abs_diff(with2.hidden[0][4], with.hidden[0][4]), 1e-5);
  EXPECT_GT(max_abs_diff(with2.mtp_hidden[0][0][4], with.mtp_hidden[0][0][4]), 1e-6);
  // Gradients reach the MTP projection through an MTP loss.
  m->logits(with.mtp_hidden).pow(2).mean().backward();
  EXPECT_GT(tensor_named(*m, "model.layers.3.eh_proj.weight").grad().abs().sum().item<double>(), 0);
}

TEST(Checkpoint, SaveThenLoadReproducesLogitsAndMtpExactly) {
  auto m = build_model(deepseek(1), 21, "bfloat16");
  m->update_expert_bias(at::tensor(std::vector<int64_t>{9, 0, 0, 0, 0, 0, 0, 0,  //
                                                        0, 9, 0, 0, 0, 0, 0, 0},
                                   at::kLong)
                            .view({2, 8}),
                        0.5);
  std::string dir = temp_dir("save_load_mtp");
  save_model(*m, dir);
  auto back = load_model(dir);
  EXPECT_EQ(back->lm_head_weight().scalar_type(), at::kBFloat16);
  auto s1 = m->state(), s2 = back->state();
  ASSERT_EQ(s1.size(), s2.size());
  for (size_t i = 0; i < s1.size(); ++i) {
    EXPECT_EQ(s1[i].first, s2[i].first);
    EXPECT_TRUE(s1[i].second.equal(s2[i].second)) << s1[i].first;
  }
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, 97, {1, 5}, at::kLong);
  auto a = m->forward(ids, {}, {}, true), b = back->forward(ids, {}, {}, true);
  EXPECT_TRUE(a.hidden.equal(b.hidden));
  EXPECT_TRUE(a.mtp_hidden.equal(b.mtp_hidden));
  // The gate stays fp32 in a bf16 model (as transformers keeps it).
  SafetensorsFile f(dir + "/model.safetensors");
  EXPECT_EQ(f.entry("model.layers.1.mlp.gate.weight").dtype, "F32");
  EXPECT_EQ(f.entry("model.layers.1.mlp.experts.0.up_proj.weight").dtype, "BF16");
}

void expect_decode_matches_forward(const json& cfg) {
  auto m = build_model(cfg, 17);
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, cfg["vocab_size"].get<int64_t>(), {2, 7}, at::kLong);
  at::Tensor want = m->logits(m->forward(ids, {}, {}).hidden);
  auto cache = m->make_cache(2, 7);
  m->decode(*cache, {0, 1}, ids.narrow(1, 0, 3));
  for (int64_t t = 3; t < 7; ++t) {
    at::Tensor got = m->decode(*cache, {1, 0}, ids.narrow(1, t, 1).flip(0));
    EXPECT_LE(max_abs_diff(got.flip(0), want.select(1, t)), 1e-4) << cfg["model_type"] << " " << t;
  }
}

TEST(Dense, LlamaWithGqaDecodesLikeItsForward) {
  expect_decode_matches_forward(
      json{{"model_type", "llama"},
           {"vocab_size", 50},
           {"hidden_size", 32},
           {"intermediate_size", 40},
           {"num_hidden_layers", 2},
           {"num_attention_heads", 4},
           {"num_key_value_heads", 1},
           {"initializer_range", 0.2},
           {"rope_scaling",
            {{"rope_type", "llama3"}, {"factor", 8.0}, {"original_max_position_embeddings", 16}}}});
}

TEST(Dense, Qwen2WithQkvBiasAndTiedEmbeddingsDecodesLikeItsForward) {
  json cfg{{"model_type", "qwen2"},    {"vocab_size", 50},
           {"hidden_size", 32},        {"intermediate_size", 40},
           {"num_hidden_layers", 2},   {"num_attention_heads", 4},
           {"num_key_value_heads", 2}, {"tie_word_embeddings", true},
           {"initializer_range", 0.2}};
  expect_decode_matches_forward(cfg);
  auto m = build_model(cfg, 1);
  bool has_bias = false, has_head = false;
  for (auto& [n, t] : m->state()) {
    has_bias |= n == "model.layers.0.self_attn.q_proj.bias";
    has_head |= n == "lm_head.weight";
  }
  EXPECT_TRUE(has_bias);
  EXPECT_FALSE(has_head);  // tied: saved once, as transformers does
}

TEST(Mla, LongPrefillExpandsLatentsAndStillMatchesTheForward) {
  // 24 new tokens take the expanded-latent prefill path (see attn_decode), the following
  // steps the absorbed one; both must agree with the training forward.
  auto m = build_model(deepseek(), 23);
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, 97, {2, 28}, at::kLong);
  at::Tensor want = m->logits(m->forward(ids, {}, {}).hidden);
  auto cache = m->make_cache(3, 28);
  at::Tensor first = m->decode(*cache, {2, 0}, ids.narrow(1, 0, 24));
  EXPECT_LE(max_abs_diff(first, want.select(1, 23)), 1e-4);
  // A second long chunk on top of a non-empty slot (different lengths: slot 1 is empty).
  m->decode(*cache, {1}, ids.narrow(0, 0, 1).narrow(1, 0, 2));
  at::Tensor next = m->decode(*cache, {1}, ids.narrow(0, 0, 1).narrow(1, 2, 24));
  EXPECT_LE(max_abs_diff(next[0], want[0][25]), 1e-4);
  for (int64_t t = 24; t < 28; ++t) {
    at::Tensor got = m->decode(*cache, {2, 0}, ids.narrow(1, t, 1));
    EXPECT_LE(max_abs_diff(got, want.select(1, t)), 1e-4) << t;
  }
}

TEST(Precision, Bf16ModelDecodesLikeItsForwardAndCloseToFp32) {
  // bf16 through both attention paths (multi-token gather path and the single-token
  // kernels::mla_decode path); tolerances are bf16-sized, the fp32 tests are 1e-4.
  // Without routed experts: a bf16 rounding difference can flip a discrete expert choice,
  // which says nothing about the attention paths compared here.
  json cfg = deepseek();
  cfg["n_routed_experts"] = 0;
  auto m32 = build_model(cfg, 13, "float32");
  auto m16 = build_model(cfg, 13, "bfloat16");
  c10::NoGradGuard ng;
  at::Tensor ids = at::randint(0, 97, {2, 6}, at::kLong);
  at::Tensor full16 = m16->logits(m16->forward(ids, {}, {}).hidden).to(at::kFloat);
  at::Tensor full32 = m32->logits(m32->forward(ids, {}, {}).hidden);
  EXPECT_EQ(m16->lm_head_weight().scalar_type(), at::kBFloat16);
  double scale = full32.abs().max().item<double>();
  EXPECT_LE(max_abs_diff(full16, full32), 0.1 * scale);
  auto cache = m16->make_cache(2, 6);
  m16->decode(*cache, {0, 1}, ids.narrow(1, 0, 3));
  for (int64_t t = 3; t < 6; ++t) {
    at::Tensor got = m16->decode(*cache, {0, 1}, ids.narrow(1, t, 1));
    EXPECT_LE(max_abs_diff(got, full16.select(1, t)), 0.05 * scale) << t;
  }
}

TEST(Build, SameSeedSameWeightsAndBadDtypeIsAnError) {
  auto a = build_model(deepseek(), 4), b = build_model(deepseek(), 4),
       c = build_model(deepseek(), 5);
  EXPECT_TRUE(a->lm_head_weight().equal(b->lm_head_weight()));
  EXPECT_FALSE(a->lm_head_weight().equal(c->lm_head_weight()));
  EXPECT_THROW(build_model(deepseek(), 1, "int4"), Error);
  EXPECT_THROW(build_model(json{{"model_type", "gpt2"}}, 1), Error);
}

}  // namespace
}  // namespace grpo::models
