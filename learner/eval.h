// learner/eval.h: evaluation of a policy on a held-out task file (`grpo eval`, and the
// periodic evaluation inside training through TrainerDeps::eval_hook).
// Design: generation runs in-process on rollout::Engine (batched decode over the slot
// cache, shared prefill for the K samples of a row); completions are scored with the
// real `format` reward and the task's correctness reward (`accuracy` for math,
// `countdown` for countdown). Greedy (temperature 0, K = 1) gives pass@1; with K samples
// pass@1 and pass@K use the unbiased estimator of Chen et al. 2021 (Codex paper, eq. 1):
// pass@k = E_rows[1 - C(n - c, k) / C(n, k)] for n samples of which c are correct.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/template.h"
#include "tokenizer/tokenizer.h"

namespace grpo::models {
class CausalLM;
}

namespace grpo::learner {

struct EvalOptions {
  int64_t samples = 1;           // K completions per row
  double temperature = 0.0;      // 0: greedy
  double top_p = 1.0;
  int64_t max_new_tokens = 256;
  int64_t limit = 0;             // first N rows (0: all)
  std::vector<std::string> stop = {"</answer>"};
  uint64_t seed = 0;
  int64_t max_batch_seqs = 64;   // sequences decoded at once
  std::string progress = "auto"; // auto | bar | lines | off
};

struct EvalResult {
  int64_t n = 0;                  // rows evaluated
  int64_t samples = 1;            // K
  double accuracy = 0;            // pass@1 (greedy accuracy when K = 1)
  double pass_at_k = 0;           // pass@K (equals accuracy when K = 1)
  double format_rate = 0;         // fraction of completions the format reward accepts
  double mean_completion_length = 0;  // tokens
  double seconds = 0;
  // One example completion per outcome, for eyeballing ({"prompt", "completion", "correct"}).
  std::vector<nlohmann::json> examples;
  // {"accuracy", "pass@K", "format_rate", "mean_completion_length", "n", "samples", "seconds"}
  nlohmann::json to_json() const;
  // Scalars for metrics ("accuracy", "format_rate", ...).
  std::map<std::string, double> metrics() const;
};

// Unbiased pass@k for n samples with c correct (k <= n). Throws grpo::Error otherwise.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// Holds the data, tokenizer, template and rewards; run() may be called many times (e.g.
// every eval_steps). Not thread-safe; run() uses the model exclusively while it runs.
class Evaluator {
 public:
  // The template's text decides the format reward's think_in_prompt (a prompt ending in
  // "<think>"). Throws grpo::Error for bad options.
  Evaluator(data::Dataset data, tok::Tokenizer tok, data::PromptTemplate tmpl, EvalOptions options);
  ~Evaluator();
  // Generates and scores. Gradients are off inside. Throws grpo::Error on a failed
  // generation (e.g. a prompt with ids outside the model's vocabulary).
  EvalResult run(models::CausalLM& model);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpo::learner
