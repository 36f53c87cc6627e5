// learner/eval.cpp: generation with rollout::Engine, scoring with the real rewards, and the
// pass@k estimator (see eval.h).
#include "learner/eval.h"

#include <c10/core/GradMode.h>
#include <torch/nn/module.h>

#include <chrono>

#include "core/error.h"
#include "core/progress.h"
#include "models/causal_lm.h"
#include "rewards/reward.h"
#include "rollout/engine.h"

namespace grpo::learner {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  GRPO_ENSURE(n >= 1 && k >= 1 && k <= n && c >= 0 && c <= n, "pass_at_k: need 1 <= k <= n and 0 <= c <= n, got n=",
              n, " c=", c, " k=", k);
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k / i)  (numerically stable form of the ratio)
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - prod;
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j{{"accuracy", accuracy},
                   {"format_rate", format_rate},
                   {"mean_completion_length", mean_completion_length},
                   {"n", n},
                   {"samples", samples},
                   {"seconds", seconds}};
  j["pass@" + std::to_string(samples)] = pass_at_k;
  return j;
}

std::map<std::string, double> EvalResult::metrics() const {
  std::map<std::string, double> m{{"accuracy", accuracy},
                                  {"format_rate", format_rate},
                                  {"mean_completion_length", mean_completion_length}};
  if (samples > 1) m["pass@" + std::to_string(samples)] = pass_at_k;
  return m;
}

struct Evaluator::Impl {
  data::Dataset data;
  tok::Tokenizer tok;
  data::PromptTemplate tmpl;
  EvalOptions opt;
  std::unique_ptr<rewards::Reward> format, correct;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prompt_text;
};

Evaluator::Evaluator(data::Dataset data, tok::Tokenizer tok, data::PromptTemplate tmpl,
                     EvalOptions options)
    : impl_(new Impl{std::move(data), std::move(tok), std::move(tmpl), std::move(options), nullptr, nullptr, {}, {}}) {
  auto& I = *impl_;
  GRPO_ENSURE(I.opt.samples >= 1, "eval: samples must be >= 1, got ", I.opt.samples);
  GRPO_ENSURE(I.opt.samples == 1 || I.opt.temperature > 0,
              "eval: samples=", I.opt.samples, " needs temperature > 0 (greedy samples are all equal)");
  int64_t n = static_cast<int64_t>(I.data.size());
  if (I.opt.limit > 0) n = std::min(n, I.opt.limit);
  for (int64_t i = 0; i < n; ++i) {
    std::string p = I.tmpl.render(I.data.row(i));
    I.prompts.push_back(I.tok.encode(p, true));
    I.prompt_text.push_back(std::move(p));
  }
  bool think_in_prompt = !I.prompt_text.empty() && I.prompt_text[0].size() >= 7 &&
                         I.prompt_text[0].compare(I.prompt_text[0].size() - 7, 7, "<think>") == 0;
  I.format = rewards::make_reward("format", nlohmann::json{{"think_in_prompt", think_in_prompt}});
  I.correct = rewards::make_reward(I.data.task() == data::Task::kMath ? "accuracy" : "countdown");
}

Evaluator::~Evaluator() = default;

EvalResult Evaluator::run(models::CausalLM& model) {
  auto& I = *impl_;
  auto t0 = std::chrono::steady_clock::now();
  c10::NoGradGuard no_grad;
  bool was_training = model.module().is_training();
  model.module().eval();
  rollout::EngineOptions eo;
  eo.max_batch_seqs = I.opt.max_batch_seqs;
  const tok::Tokenizer& tok = I.tok;
  eo.decode = [&tok](std::span<const int32_t> ids) { return tok.decode(ids, false); };
  rollout::Engine engine(model, eo);
  auto params = std::make_shared<rollout::SamplingParams>();
  params->temperature = I.opt.temperature;
  params->top_p = I.opt.top_p;
  params->max_new_tokens = I.opt.max_new_tokens;
  params->stop = I.opt.stop;
  params->seed = I.opt.seed;
  if (auto eos = tok.eos_id()) params->eos_ids = {*eos};
  const int64_t n = static_cast<int64_t>(I.prompts.size()), K = I.opt.samples;

  Progress progress("eval", n, "rows", Progress::parse_mode(I.opt.progress));
  EvalResult r;
  r.n = n;
  r.samples = K;
  int64_t fmt_ok = 0, total_len = 0;
  double acc_sum = 0, pk_sum = 0;
  bool shown_right = false, shown_wrong = false;
  // Chunks of rows keep the progress display moving and memory bounded.
  const int64_t chunk = std::max<int64_t>(1, I.opt.max_batch_seqs / K * 2);
  for (int64_t start = 0; start < n; start += chunk) {
    int64_t end = std::min(n, start + chunk);
    std::vector<rollout::GroupRequest> groups;
    for (int64_t i = start; i < end; ++i) groups.push_back({I.prompts[i], i, K, params});
    auto comps = engine.generate(std::move(groups));
    std::vector<int64_t> correct(end - start, 0);
    for (const auto& c : comps) {
      std::string text = tok.decode(c.tokens, true);
      const auto& row = I.data.row(c.prompt_index);
      rewards::Sample s{I.prompt_text[c.prompt_index], text, data::ground_truth(I.data.task(), row)};
      bool f = I.format->score(s).score >= 1.0;
      bool ok = I.correct->score(s).score >= 1.0;
      fmt_ok += f;
      total_len += static_cast<int64_t>(c.tokens.size());
      correct[c.prompt_index - start] += ok;
      if ((ok && !shown_right) || (!ok && !shown_wrong)) {
        (ok ? shown_right : shown_wrong) = true;
        r.examples.push_back({{"prompt", row.value("prompt", row.dump())}, {"completion", text}, {"correct", ok}});
      }
    }
    for (int64_t c : correct) {
      acc_sum += pass_at_k(K, c, 1);
      pk_sum += pass_at_k(K, c, K);
    }
    progress.update(end - start, static_cast<double>(end - start),
                    str("acc ", std::to_string(acc_sum / static_cast<double>(end)).substr(0, 5)));
  }
  progress.finish();
  if (was_training) model.module().train();
  const double nn = std::max<int64_t>(n, 1), ns = std::max<int64_t>(n * K, 1);
  r.accuracy = acc_sum / nn;
  r.pass_at_k = pk_sum / nn;
  r.format_rate = static_cast<double>(fmt_ok) / ns;
  r.mean_completion_length = static_cast<double>(total_len) / ns;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace grpo::learner
