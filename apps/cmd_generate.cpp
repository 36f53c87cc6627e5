// apps/cmd_generate.cpp: `grpo generate --checkpoint DIR --prompt TEXT [...]` samples
// completions from a checkpoint in-process with the rollout engine and prints them, for
// trying a model by hand. The prompt is encoded as given (no chat template).
#include <iostream>

#include "apps/cli.h"
#include "core/error.h"
#include "models/causal_lm.h"
#include "rollout/engine.h"
#include "tokenizer/tokenizer.h"

namespace grpo::cmd {
namespace {
struct GenerateArgs {
  std::string checkpoint, prompt, tokenizer, device = "cpu", dtype;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 0, max_new_tokens = 128, n = 1, batch = 64;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};
}  // namespace

void register_generate(CLI::App& app) {
  auto* sub = app.add_subcommand("generate", "sample completions from a checkpoint");
  auto a = std::make_shared<GenerateArgs>();
  sub->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json + *.safetensors)")->required();
  sub->add_option("--prompt", a->prompt, "prompt text")->required();
  sub->add_option("--tokenizer", a->tokenizer, "tokenizer.json or its folder (default: the checkpoint)");
  sub->add_option("--temperature", a->temperature, "sampling temperature (0: greedy)")->capture_default_str();
  sub->add_option("--top-p", a->top_p, "nucleus mass")->capture_default_str();
  sub->add_option("--top-k", a->top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
  sub->add_option("--max-new-tokens", a->max_new_tokens, "new tokens per completion")->capture_default_str();
  sub->add_option("--n", a->n, "completions to sample")->capture_default_str();
  sub->add_option("--seed", a->seed, "random seed")->capture_default_str();
  sub->add_option("--stop", a->stop, "stop string (repeatable); kept in the completion");
  sub->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  sub->add_option("--dtype", a->dtype, "parameter dtype (default: the checkpoint's)");
  sub->callback([a] {
    auto tok = tok::Tokenizer::from_file(a->tokenizer.empty() ? a->checkpoint : a->tokenizer);
    auto model = models::load_model(a->checkpoint, a->dtype, a->device);
    auto sp = std::make_shared<rollout::SamplingParams>();
    sp->temperature = a->temperature;
    sp->top_p = a->top_p;
    sp->top_k = a->top_k;
    sp->max_new_tokens = a->max_new_tokens;
    sp->seed = a->seed;
    sp->stop = a->stop;
    if (auto e = tok.eos_id()) sp->eos_ids.push_back(*e);
    // Ids the tokenizer lacks (a model vocabulary padded past it) decode to nothing.
    auto decode = [&tok](std::span<const int32_t> ids) {
      std::vector<int32_t> known;
      for (int32_t i : ids)
        if (i >= 0 && i < tok.vocab_size()) known.push_back(i);
      return tok.decode(known);
    };
    rollout::Engine engine(*model, {.max_batch_seqs = std::max<int64_t>(1, std::min(a->n, a->batch)),
                                    .decode = decode});
    rollout::GroupRequest g;
    g.prompt = tok.encode(a->prompt, /*add_special_tokens=*/true);
    GRPO_ENSURE(!g.prompt.empty(), "generate: the prompt encodes to no tokens");
    g.group_size = a->n;
    g.params = sp;
    auto out = engine.generate({g});
    for (const auto& c : out) {
      double lp = 0;
      for (float x : c.logprobs) lp += x;
      std::cout << "=== completion " << c.sample_index << " (" << c.tokens.size() << " tokens, finish "
                << rollout::finish_reason_name(c.finish) << ", logprob " << lp << ")\n"
                << a->prompt << decode(c.tokens) << "\n";
    }
  });
}
}  // namespace grpo::cmd
