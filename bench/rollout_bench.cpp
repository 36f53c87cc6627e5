// bench/rollout_bench.cpp: decode throughput of the rollout engine for G answers per
// prompt (shared prefill, continuous batching, per-sequence sampling) on a small
// DeepSeek-V3-style model on CPU. Prints one JSON line per measurement; the driver
// bench/rollout_bench.py runs transformers generate() on the same checkpoint and settings
// in the same run and prints the ratio.
//   rollout_bench --save DIR            write the benchmark model (HF layout) and exit
//   rollout_bench --checkpoint DIR [--prompts 8 --group 8 --prompt-len 32 --max-new 64
//                 --threads 4 --iters 2 --batch 64 --end-tokens 0 --profile TRACE.json]
// --end-tokens K (> 0): ids 2 .. K+1 end a sequence (EOS list), so answer lengths are
// long-tailed as in RL rollouts (geometric, mean about V/K tokens, capped at --max-new);
// tokens counted are the generated ones up to and including the end token.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "models/causal_lm.h"
#include "rollout/engine.h"

using namespace grpo;

// Small DeepSeek-V3: MLA (q/kv LoRA, decoupled rope), DeepSeekMoE 16 routed experts top-4
// with group-limited routing + 1 shared, first layer dense.
static nlohmann::json bench_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
    "vocab_size": 8192, "hidden_size": 256, "intermediate_size": 768,
    "moe_intermediate_size": 128, "num_hidden_layers": 4, "first_k_dense_replace": 1,
    "num_attention_heads": 8, "num_key_value_heads": 8, "q_lora_rank": 128, "kv_lora_rank": 64,
    "head_dim": 16,
    "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32, "n_routed_experts": 16,
    "n_shared_experts": 1, "num_experts_per_tok": 4, "n_group": 4, "topk_group": 2,
    "norm_topk_prob": true, "routed_scaling_factor": 2.5, "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
    "num_nextn_predict_layers": 0, "initializer_range": 0.02, "bos_token_id": 0,
    "eos_token_id": 1})");
}

int main(int argc, char** argv) {
  std::string save, ckpt, profile;
  int64_t P = 8, G = 8, L = 32, N = 64, threads = 4, iters = 2, batch = 64, end_tokens = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--save") save = v;
    else if (k == "--checkpoint") ckpt = v;
    else if (k == "--prompts") P = std::stoll(v);
    else if (k == "--group") G = std::stoll(v);
    else if (k == "--prompt-len") L = std::stoll(v);
    else if (k == "--max-new") N = std::stoll(v);
    else if (k == "--threads") threads = std::stoll(v);
    else if (k == "--iters") iters = std::stoll(v);
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--end-tokens") end_tokens = std::stoll(v);
    else if (k == "--profile") profile = v;
    else {
      std::fprintf(stderr, "rollout_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    if (!save.empty()) {
      auto m = models::build_model(bench_config(), 0);
      models::save_model(*m, save);
      return 0;
    }
    if (ckpt.empty()) {
      std::fprintf(stderr, "rollout_bench: --checkpoint DIR or --save DIR\n");
      return 2;
    }
    at::set_num_threads(static_cast<int>(threads));
    auto model = models::load_model(ckpt, "float32", "cpu");
    const int64_t V = model->lm_head_weight().size(0);
    std::mt19937 rng(0);
    auto sp = std::make_shared<rollout::SamplingParams>();
    sp->temperature = 1.0, sp->top_p = 1.0, sp->top_k = 0, sp->max_new_tokens = N, sp->seed = 1;
    for (int64_t e = 0; e < end_tokens; ++e) sp->eos_ids.push_back(2 + e);
    std::vector<rollout::GroupRequest> groups;
    for (int64_t p = 0; p < P; ++p) {
      rollout::GroupRequest g;
      for (int64_t t = 0; t < L; ++t) g.prompt.push_back(static_cast<int32_t>(rng() % V));
      g.prompt_index = p, g.group_size = G, g.params = sp;
      groups.push_back(g);
    }
    rollout::Engine engine(*model, {.max_batch_seqs = batch});
    engine.generate({groups[0]});  // warm-up (allocates the cache)
    double best = 1e30;
    int64_t tokens = 0;
    for (int64_t it = 0; it < iters; ++it) {
      auto t0 = std::chrono::steady_clock::now();
      auto out = engine.generate(groups);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      tokens = 0;
      for (const auto& c : out) tokens += static_cast<int64_t>(c.tokens.size());
      best = std::min(best, s);
    }
    if (!profile.empty()) {  // one more run under the op profiler (chrome trace JSON)
      torch::autograd::profiler::RecordProfile guard(profile);
      engine.generate(groups);
    }
    std::cout << nlohmann::json{{"impl", "grpo"}, {"prompts", P}, {"group", G}, {"prompt_len", L},
                                {"max_new", N}, {"threads", threads}, {"batch", batch},
                                {"end_tokens", end_tokens}, {"tokens", tokens},
                                {"seconds", best}, {"tokens_per_s", tokens / best}}
                     .dump()
              << std::endl;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rollout_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
