// job/grpo_job.cpp: see grpo_job.h. The adapters between the loop's small interfaces
// (PromptSource, CompletionSource, CompletionScorer) and the real data, workers and rewards.
#include "job/grpo_job.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "data/dataset.h"
#include "data/template.h"
#include "job/assembly.h"
#include "job/options.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/eval.h"
#include "learner/grpo_trainer.h"
#include "models/causal_lm.h"
#include "tokenizer/tokenizer.h"
#include "rewards/reward.h"
#include "rollout/client.h"

namespace grpo::job {
namespace {

// Task rows rendered by the template and tokenised (kept from the end when too long).
class TaskRows : public learner::PromptSource {
 public:
  TaskRows(data::Dataset ds, data::PromptTemplate tmpl, const tok::Tokenizer& tok, int64_t max_len)
      : ds_(std::move(ds)), tmpl_(std::move(tmpl)), tok_(tok), max_len_(max_len) {}
  int64_t size() const override { return static_cast<int64_t>(ds_.size()); }
  learner::PromptItem get(int64_t row) const override {
    const auto& r = ds_.row(static_cast<size_t>(row));
    learner::PromptItem p;
    p.row = row;
    p.text = tmpl_.render(data::with_question(ds_.task(), r));
    auto ids = tok_.encode(p.text, /*add_special_tokens=*/true);
    if (static_cast<int64_t>(ids.size()) > max_len_) {  // keep the end (the question's tail)
      ids.erase(ids.begin(), ids.end() - max_len_);
    }
    p.ids = rollout::share_ids(std::move(ids));
    p.ground_truth = data::ground_truth(ds_.task(), r);
    return p;
  }

 private:
  data::Dataset ds_;
  data::PromptTemplate tmpl_;
  const tok::Tokenizer& tok_;
  int64_t max_len_;
};

// Streams are seeded by (seed, prompt index, sample index): fold in step and rank.
uint64_t step_seed(int64_t seed, int64_t step, int rank) {
  uint64_t z = static_cast<uint64_t>(seed) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(step + 1) +
               0xBF58476D1CE4E5B9ull * static_cast<uint64_t>(rank + 1);
  z = (z ^ (z >> 31)) * 0x94D049BB133111EBull;
  return z ^ (z >> 29);
}

// Completions from rollout workers; pushes each new policy version to them. The first
// generate() pushes the learner's weights before anything is sampled: the workers built
// their model from their own config (a remote worker's may differ: another seed or path),
// so they get version 0 on a fresh run (the one version a worker accepts twice), or the
// resumed step's version after --resume.
class WorkerRollout : public learner::CompletionSource {
 public:
  WorkerRollout(const JobConfig& cfg, const tok::Tokenizer& tok, rollout::ClientOptions client,
                bool owns_workers, learner::Distributed& dist, models::CausalLM& policy)
      : tok_(tok), owns_(owns_workers), dist_(dist), policy_(policy),
        seed_(cfg.run.seed), sampling_(sampling_params(cfg, tok.eos_id())),
        client_(std::move(client)) {}

  std::vector<rollout::Group> generate(const std::vector<learner::PromptItem>& prompts, int64_t g,
                                       int64_t step) override {
    if (!synced_) {
      publish(policy_, step, dist_.is_main());
      dist_.barrier();
      synced_ = true;
    }
    std::vector<rollout::SharedIds> ids;
    for (const auto& p : prompts) ids.push_back(p.ids);
    rollout::SamplingParams sp = sampling_;
    sp.seed = step_seed(seed_, step, dist_.rank());
    auto groups = client_.generate(ids, g, sp, version_);
    for (auto& grp : groups) {
      for (auto& c : grp.samples) {
        c.text = tok_.decode(c.tokens, /*skip_special_tokens=*/true);
        if (c.tokens.empty()) {  // a zero-length answer still needs one token to learn from
          c.tokens.push_back(tok_.eos_id().value_or(0));
          c.logprobs.clear();
        }
      }
    }
    return groups;
  }

  void publish(models::CausalLM& policy, int64_t version, bool is_main) override {
    // Local workers belong to this rank; remote ones are fed by rank 0.
    if (owns_ || is_main) client_.push_weights(policy.state(), static_cast<uint64_t>(version));
    version_ = static_cast<uint64_t>(version);
  }

 private:
  const tok::Tokenizer& tok_;
  bool owns_;
  learner::Distributed& dist_;
  models::CausalLM& policy_;
  int64_t seed_;
  rollout::SamplingParams sampling_;
  rollout::RolloutClient client_;
  std::optional<uint64_t> version_;
  bool synced_ = false;
};

// The job's RewardSet over each group's decoded answers.
class RewardScorer : public learner::CompletionScorer {
 public:
  explicit RewardScorer(const JobConfig& cfg) : set_(cfg.rewards) {}
  std::vector<double> score(const std::vector<learner::PromptItem>& prompts,
                            const std::vector<rollout::Group>& groups,
                            std::map<std::string, double>& metrics) override {
    std::vector<rewards::Sample> batch;
    for (size_t i = 0; i < groups.size(); ++i) {
      for (const auto& c : groups[i].samples) batch.push_back({prompts[i].text, c.text, prompts[i].ground_truth});
    }
    auto s = set_.score(std::move(batch));
    for (auto& [k, v] : s.metrics()) {
      if (k.rfind("rewards/", 0) == 0) metrics[k] = v;
    }
    return s.total;
  }

 private:
  rewards::RewardSet set_;
};

// Process-wide set-up shared by the jobs: threads, device, process group.
std::unique_ptr<learner::Distributed> start_ranks(JobConfig& cfg) {
  if (cfg.run.num_threads > 0) at::set_num_threads(static_cast<int>(cfg.run.num_threads));
  auto env = learner::DistEnv::from_env();
  cfg.run.device = rank_device(resolve_device(cfg.run.device), env.local_rank, env.world_size);
  return env.world_size > 1 ? learner::Distributed::create(env, cfg.run.device)
                            : learner::Distributed::single();
}

// Whether a checkpoint will really be resumed (resume=auto may start fresh).
bool will_resume(const JobConfig& cfg) {
  return !cfg.trainer.resume.empty() &&
         (cfg.trainer.resume != "auto" || !learner::latest_checkpoint(cfg.run.output_dir).empty());
}

}  // namespace

GrpoJobResult run_grpo_job(JobConfig cfg) {
  GRPO_ENSURE(!cfg.data.train_file.empty(), "data.train_file is required for `grpo train`");
  learner::validate_training(grpo_options(cfg), learner::DistEnv::from_env().world_size);
  auto dist = start_ranks(cfg);
  run_sft_stage(cfg, *dist, /*resuming=*/!cfg.trainer.resume.empty());

  tok::Tokenizer tok = tok::Tokenizer::from_file(tokenizer_path_of(cfg));
  auto task = data::parse_task(cfg.data.task);
  data::PromptTemplate tmpl(template_options(cfg), task, &tok);
  TaskRows rows(data::Dataset::load(cfg.data.train_file, task), tmpl, tok, cfg.data.max_prompt_length);
  auto policy = make_policy(cfg, tok.vocab_size());
  std::unique_ptr<models::CausalLM> ref;
  if (cfg.trainer.beta > 0) ref = make_policy(cfg, tok.vocab_size());

  // Rollout workers: the listed ones, or local ones owned by this rank.
  // (The local workers' token, perhaps a fresh one, stays out of the saved config.)
  std::unique_ptr<rollout::LocalWorkers> local;
  rollout::ClientOptions co = client_options(cfg, cfg.rollout.workers);
  if (cfg.rollout.workers.empty()) {
    local = start_local_workers(cfg);
    co.addresses = local->addresses();
    co.auth_token = local->auth_token();
  }
  WorkerRollout rollout(cfg, tok, std::move(co), local != nullptr, *dist, *policy);
  RewardScorer scorer(cfg);

  std::unique_ptr<Metrics> metrics;
  if (dist->is_main()) {
    metrics = std::make_unique<Metrics>(
        Metrics::for_run(cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard, will_resume(cfg)));
  }
  std::unique_ptr<learner::Evaluator> evaluator;
  if (dist->is_main() && cfg.trainer.eval_steps > 0 && !cfg.data.eval_file.empty()) {
    evaluator = std::make_unique<learner::Evaluator>(data::Dataset::load(cfg.data.eval_file, task),
                                                     tok, tmpl, eval_options(cfg));
  }
  learner::TrainerDeps deps;
  deps.policy = policy.get();
  deps.ref = ref.get();
  deps.data = &rows;
  deps.rollout = &rollout;
  deps.scorer = &scorer;
  deps.dist = dist.get();
  deps.metrics = metrics.get();
  if (evaluator) deps.eval_hook = [&](models::CausalLM& m, int64_t) { return evaluator->run(m).metrics(); };
  // Every checkpoint carries the tokenizer, template and generation settings, like final/,
  // so `grpo eval --checkpoint DIR/checkpoint-N` works on it.
  deps.checkpoint_files = [&cfg](const std::string& d) { write_run_meta(cfg, d); };
  auto res = learner::train_grpo(grpo_options(cfg), deps);

  GrpoJobResult out{res.start_step, res.steps_done, res.last_checkpoint, ""};
  if (dist->is_main()) {
    out.final_dir = cfg.run.output_dir + "/final";
    // final/: the trained policy with its tokenizer, template and generation settings, so
    // `grpo eval` and `grpo generate` need nothing else (as after `grpo sft`).
    models::save_model(*policy, out.final_dir);
    write_run_meta(cfg, out.final_dir);
  }
  return out;
}

learner::SftResult run_sft_job(JobConfig cfg) {
  auto dist = start_ranks(cfg);
  tok::Tokenizer tok = tok::Tokenizer::from_file(tokenizer_path_of(cfg));
  auto model = make_policy(cfg, tok.vocab_size());
  std::unique_ptr<Metrics> metrics;
  if (dist->is_main()) {
    cfg.write_effective(cfg.run.output_dir);
    metrics = std::make_unique<Metrics>(Metrics::for_run(cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard));
  }
  learner::SftOptions so = sft_options(cfg);
  so.checkpoint_files = [&cfg](const std::string& d) { write_run_meta(cfg, d); };
  auto res = learner::train_sft(so, load_sft_examples(cfg, tok), *model, *dist, metrics.get());
  if (!dist->is_main()) res.final_dir.clear();
  return res;
}

}  // namespace grpo::job
