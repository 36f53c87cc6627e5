// tests/learner/ddp_worker.cpp: a small but complete `train_grpo` run for the distributed
// and resume tests: a tiny seeded Qwen3, synthetic prompt rows, an in-process sampler
// seeded from (run.seed, step, row, j) and a deterministic reward. Launched as 1 or more
// processes (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT) by ddp_test.cpp.
// Usage: learner_ddp_worker [--stop-after K] KEY=VALUE...
#include <ATen/ops/multinomial.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/tensor.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/job_config.h"
#include "core/metrics.h"
#include "job/options.h"
#include "learner/distributed.h"
#include "learner/grpo_trainer.h"
#include "models/causal_lm.h"

using namespace grpo;

namespace {

nlohmann::json tiny_qwen3() {
  return {{"model_type", "qwen3"}, {"vocab_size", 32}, {"hidden_size", 16}, {"intermediate_size", 32},
          {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"num_key_value_heads", 1},
          {"head_dim", 8}, {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0}, {"tie_word_embeddings", false}};
}

class Rows : public learner::PromptSource {
 public:
  explicit Rows(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  learner::PromptItem get(int64_t row) const override {
    learner::PromptItem p;
    p.row = row;
    p.text = "row " + std::to_string(row);
    p.ids = rollout::share_ids({static_cast<int32_t>(2 + row % 11), static_cast<int32_t>(3 + (row * 7) % 13), 5});
    return p;
  }

 private:
  int64_t n_;
};

// Samples from the policy itself, token by token (full forward; tiny model), with an
// engine seeded per (seed, step, row): reproducible on any rank layout and after resume.
class Sampler : public learner::CompletionSource {
 public:
  Sampler(models::CausalLM& m, uint64_t seed, int64_t max_len, double temp)
      : m_(m), seed_(seed), max_len_(max_len), temp_(temp) {}
  std::vector<rollout::Group> generate(const std::vector<learner::PromptItem>& prompts, int64_t g,
                                       int64_t step) override {
    c10::NoGradGuard ng;
    std::vector<rollout::Group> out;
    for (const auto& p : prompts) {
      std::mt19937_64 rng(seed_ * 1000003ull + static_cast<uint64_t>(step) * 7919ull + static_cast<uint64_t>(p.row));
      std::vector<rollout::Completion> group(static_cast<size_t>(g));
      std::vector<std::vector<int64_t>> seqs(static_cast<size_t>(g), std::vector<int64_t>(p.ids->begin(), p.ids->end()));
      std::vector<bool> done(static_cast<size_t>(g), false);
      for (int64_t t = 0; t < max_len_; ++t) {
        std::vector<int64_t> flat;
        for (auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
        at::Tensor ids = at::tensor(flat, at::kLong).view({g, static_cast<int64_t>(seqs[0].size())});
        auto fw = m_.forward(ids, at::Tensor(), at::Tensor(), false);
        at::Tensor last = fw.hidden.select(1, ids.size(1) - 1);
        at::Tensor probs = at::softmax(m_.logits(last).to(at::kDouble).div(temp_), -1);
        for (int64_t j = 0; j < g; ++j) {
          double u = std::uniform_real_distribution<double>(0, 1)(rng);
          at::Tensor pr = probs[j].contiguous();
          const double* pp = pr.data_ptr<double>();
          int64_t tok = 0;
          double acc = 0;
          for (; tok < pr.numel() - 1; ++tok) {
            acc += pp[tok];
            if (u < acc) break;
          }
          seqs[static_cast<size_t>(j)].push_back(tok);
          auto& c = group[static_cast<size_t>(j)];
          if (!done[static_cast<size_t>(j)]) {
            c.tokens.push_back(static_cast<int32_t>(tok));
            c.logprobs.push_back(static_cast<float>(std::log(pp[tok])));
            if (tok == 1) done[static_cast<size_t>(j)] = true;  // token 1 ends an answer
          }
        }
        if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
      }
      for (size_t j = 0; j < group.size(); ++j) {
        group[j].sample_index = static_cast<int64_t>(j);
        group[j].finish = done[j] ? rollout::FinishReason::kEos : rollout::FinishReason::kLength;
      }
      out.push_back({p.ids, std::move(group)});
    }
    return out;
  }

 private:
  models::CausalLM& m_;
  uint64_t seed_;
  int64_t max_len_;
  double temp_;
};

// Reward: share of even tokens in the answer (a signal the policy can learn).
class EvenTokens : public learner::CompletionScorer {
 public:
  std::vector<double> score(const std::vector<learner::PromptItem>&,
                            const std::vector<rollout::Group>& groups,
                            std::map<std::string, double>& metrics) override {
    std::vector<double> r;
    for (const auto& g : groups) {
      for (const auto& c : g.samples) {
        double even = 0;
        for (int32_t t : c.tokens) even += (t % 2 == 0) ? 1 : 0;
        r.push_back(c.tokens.empty() ? 0.0 : std::round(4 * even / static_cast<double>(c.tokens.size())) / 4);
      }
    }
    double s = 0;
    for (double x : r) s += x;
    metrics["rewards/even/mean"] = r.empty() ? 0 : s / static_cast<double>(r.size());
    return r;
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t stop_after = -1;
    int64_t rows = 8;
    std::vector<std::string> overrides;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--stop-after" && i + 1 < argc) stop_after = std::stoll(argv[++i]);
      else if (a == "--rows" && i + 1 < argc) rows = std::stoll(argv[++i]);
      else overrides.push_back(a);
    }
    JobConfig cfg = JobConfig::load("", overrides);
    auto dist = learner::Distributed::create(learner::DistEnv::from_env(), "cpu", 60);
    auto policy = models::build_model(tiny_qwen3(), 7);
    std::unique_ptr<models::CausalLM> ref;
    if (cfg.trainer.beta > 0) ref = models::build_model(tiny_qwen3(), 7);
    Rows data(rows);
    Sampler sampler(*policy, static_cast<uint64_t>(cfg.run.seed), cfg.rollout.max_completion_length,
                    cfg.rollout.temperature);
    EvenTokens scorer;
    std::unique_ptr<Metrics> metrics;
    if (dist->is_main()) metrics = std::make_unique<Metrics>(Metrics::for_run(cfg.run.output_dir, true, true));
    learner::TrainerDeps deps;
    deps.policy = policy.get();
    deps.ref = ref.get();
    deps.data = &data;
    deps.rollout = &sampler;
    deps.scorer = &scorer;
    deps.dist = dist.get();
    deps.metrics = metrics.get();
    auto res = learner::train_grpo(job::grpo_options(cfg), deps, stop_after);
    std::printf("rank %d: steps %lld -> %lld, checkpoint %s\n", dist->rank(),
                static_cast<long long>(res.start_step), static_cast<long long>(res.steps_done),
                res.last_checkpoint.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "learner_ddp_worker: error: %s\n", e.what());
    return 1;
  }
}
