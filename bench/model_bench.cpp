// bench/model_bench.cpp: forward and decode throughput of a grpo model on one device.
// Builds a small DeepSeek-V3-style model (MLA with q_lora_rank, MoE with shared experts
// and group-limited routing, first_k_dense_replace=1) or loads --model DIR, optionally
// saves it (--save DIR, so bench/model_bench.py can run transformers on the very same
// checkpoint), then times
//   forward: B x T full-sequence forward + logits (no grad), tokens/s = B*T / time
//   decode:  prefill B prompts of P tokens, then N steps of 1 token for all B slots,
//            tokens/s = B*N / time of the N steps
// and prints one JSON line per measurement. Usage:
//   model_bench [--model DIR | --save DIR] [--batch 4] [--seq 128] [--prompt 32]
//               [--steps 64] [--threads N] [--iters 3] [--device cpu]
#include <ATen/Parallel.h>
#include <ATen/ops/randint.h>
#include <c10/core/GradMode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "models/causal_lm.h"
#include "models/model_args.h"

using namespace grpo;

namespace {

nlohmann::json small_deepseek() {
  return {{"model_type", "deepseek_v3"},
          {"vocab_size", 8192},
          {"hidden_size", 512},
          {"intermediate_size", 1408},
          {"num_hidden_layers", 4},
          {"num_attention_heads", 8},
          {"num_key_value_heads", 8},
          {"q_lora_rank", 192},
          {"kv_lora_rank", 128},
          {"qk_nope_head_dim", 64},
          {"qk_rope_head_dim", 32},
          {"v_head_dim", 64},
          {"n_routed_experts", 16},
          {"n_shared_experts", 1},
          {"num_experts_per_tok", 4},
          {"moe_intermediate_size", 256},
          {"n_group", 4},
          {"topk_group", 2},
          {"first_k_dense_replace", 1},
          {"routed_scaling_factor", 2.5},
          {"num_nextn_predict_layers", 0},
          {"max_position_embeddings", 4096},
          {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, save_dir, device = "cpu";
  int64_t B = 4, T = 128, P = 32, N = 64, iters = 3, threads = 0;
  for (int i = 1; i < argc; ++i) {
    auto next = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "model_bench: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--model"))
      model_dir = next("--model");
    else if (!std::strcmp(argv[i], "--save"))
      save_dir = next("--save");
    else if (!std::strcmp(argv[i], "--batch"))
      B = std::atol(next("--batch"));
    else if (!std::strcmp(argv[i], "--seq"))
      T = std::atol(next("--seq"));
    else if (!std::strcmp(argv[i], "--prompt"))
      P = std::atol(next("--prompt"));
    else if (!std::strcmp(argv[i], "--steps"))
      N = std::atol(next("--steps"));
    else if (!std::strcmp(argv[i], "--iters"))
      iters = std::atol(next("--iters"));
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atol(next("--threads"));
    else if (!std::strcmp(argv[i], "--device"))
      device = next("--device");
    else {
      std::fprintf(stderr, "model_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  try {
    if (threads > 0) at::set_num_threads(static_cast<int>(threads));
    std::unique_ptr<models::CausalLM> model =
        model_dir.empty() ? models::build_model(small_deepseek(), 0, "float32", device)
                          : models::load_model(model_dir, "float32", device);
    if (!save_dir.empty()) models::save_model(*model, save_dir);
    c10::NoGradGuard ng;
    const int64_t V = model->args().vocab_size;
    at::Tensor ids = at::randint(0, V, {B, T}, at::kLong);
    auto sync = [&](const at::Tensor& t) { (void)t.sum().item<double>(); };
    // forward
    sync(model->logits(model->forward(ids, {}, {}).hidden));  // warm-up
    double best = 1e30;
    for (int64_t it = 0; it < iters; ++it) {
      double t0 = now();
      sync(model->logits(model->forward(ids, {}, {}).hidden));
      best = std::min(best, now() - t0);
    }
    nlohmann::json j = {{"impl", "grpo"},
                        {"phase", "forward"},
                        {"batch", B},
                        {"seq", T},
                        {"threads", at::get_num_threads()},
                        {"seconds", best},
                        {"tokens_per_s", B * T / best}};
    std::printf("%s\n", j.dump().c_str());
    // decode
    std::vector<int64_t> slots(B);
    for (int64_t b = 0; b < B; ++b) slots[b] = b;
    best = 1e30;
    for (int64_t it = 0; it < iters; ++it) {
      auto cache = model->make_cache(B, P + N);
      at::Tensor logits = model->decode(*cache, slots, ids.narrow(1, 0, P));
      double t0 = now();
      for (int64_t s = 0; s < N; ++s) {
        at::Tensor next = logits.argmax(-1, true);  // greedy, [B, 1]
        logits = model->decode(*cache, slots, next);
      }
      sync(logits);
      best = std::min(best, now() - t0);
    }
    j = {{"impl", "grpo"},  {"phase", "decode"},
         {"batch", B},      {"prompt", P},
         {"steps", N},      {"threads", at::get_num_threads()},
         {"seconds", best}, {"tokens_per_s", B * N / best}};
    std::printf("%s\n", j.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
