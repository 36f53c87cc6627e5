// apps/cmd_train.cpp: `grpo train --config JOB.yaml [--resume | --resume-from DIR] [KEY=VALUE ...]`: GRPO
// training (learner/grpo_trainer.h) wired to the real pieces: JSONL task rows rendered by
// the data template and tokenised; completions from rollout workers (remote ones listed in
// rollout.workers, else local workers started here); the configured RewardSet; metrics to
// JSONL/TensorBoard; periodic evaluation on data.eval_file (learner/eval.h).
// Multi-process with torchrun-style RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables.
#include <cstdio>
#include <optional>

#include <ATen/Parallel.h>

#include "apps/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "data/dataset.h"
#include "data/template.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/eval.h"
#include "learner/grpo_trainer.h"
#include "learner/sft_trainer.h"
#include "models/causal_lm.h"
#include "rewards/reward.h"
#include "rollout/client.h"
#include "tokenizer/tokenizer.h"

namespace grpo::cmd {
namespace {

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
    p.ids.assign(ids.begin(), ids.end());
    p.ground_truth = data::ground_truth(ds_.task(), r);
    return p;
  }

 private:
  data::Dataset ds_;
  data::PromptTemplate tmpl_;
  const tok::Tokenizer& tok_;
  int64_t max_len_;
};

// Completions from rollout workers; pushes each new policy version to them.
class WorkerRollout : public learner::CompletionSource {
 public:
  WorkerRollout(const JobConfig& cfg, const tok::Tokenizer& tok, std::vector<std::string> addresses,
                bool owns_workers, int rank)
      : cfg_(cfg), tok_(tok), owns_(owns_workers), rank_(rank),
        client_(rollout::client_options_from(cfg, std::move(addresses))) {}
  std::vector<std::vector<learner::GeneratedCompletion>> generate(
      const std::vector<learner::PromptItem>& prompts, int64_t g, int64_t step) override {
    std::vector<std::vector<int32_t>> ids;
    for (const auto& p : prompts) ids.emplace_back(p.ids.begin(), p.ids.end());
    rollout::SamplingParams sp;
    sp.temperature = cfg_.rollout.temperature;
    sp.top_p = cfg_.rollout.top_p;
    sp.top_k = cfg_.rollout.top_k;
    sp.max_new_tokens = cfg_.rollout.max_completion_length;
    sp.stop = cfg_.rollout.stop;
    if (auto e = tok_.eos_id()) sp.eos_ids.push_back(*e);
    // Streams are seeded by (seed, prompt index, sample index): fold in step and rank.
    uint64_t z = static_cast<uint64_t>(cfg_.run.seed) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(step + 1) +
                 0xBF58476D1CE4E5B9ull * static_cast<uint64_t>(rank_ + 1);
    z = (z ^ (z >> 31)) * 0x94D049BB133111EBull;
    sp.seed = z ^ (z >> 29);
    auto groups = client_.generate(ids, g, sp, version_);
    std::vector<std::vector<learner::GeneratedCompletion>> out;
    for (auto& grp : groups) {
      std::vector<learner::GeneratedCompletion> o;
      for (auto& c : grp) {
        learner::GeneratedCompletion gc;
        gc.ids.assign(c.tokens.begin(), c.tokens.end());
        gc.logps = c.logprobs;
        gc.truncated = c.finish == rollout::FinishReason::kLength;
        gc.text = tok_.decode(c.tokens, /*skip_special_tokens=*/true);
        if (gc.ids.empty()) {  // a zero-length answer still needs one token to learn from
          gc.ids.push_back(tok_.eos_id().value_or(0));
          gc.logps.clear();
        }
        o.push_back(std::move(gc));
      }
      out.push_back(std::move(o));
    }
    return out;
  }
  void publish(models::CausalLM& policy, int64_t version, bool is_main) override {
    // Local workers belong to this rank; remote ones are fed by rank 0.
    if (owns_ || is_main) client_.push_weights(policy.state(), static_cast<uint64_t>(version));
    version_ = static_cast<uint64_t>(version);
  }

 private:
  const JobConfig& cfg_;
  const tok::Tokenizer& tok_;
  bool owns_;
  int rank_;
  rollout::RolloutClient client_;
  std::optional<uint64_t> version_;
};

class RewardScorer : public learner::CompletionScorer {
 public:
  explicit RewardScorer(const JobConfig& cfg) : set_(cfg.rewards) {}
  std::vector<double> score(const std::vector<learner::PromptItem>& prompts,
                            const std::vector<std::vector<learner::GeneratedCompletion>>& groups,
                            std::map<std::string, double>& metrics) override {
    std::vector<rewards::Sample> batch;
    for (size_t i = 0; i < groups.size(); ++i) {
      for (const auto& c : groups[i]) batch.push_back({prompts[i].text, c.text, prompts[i].ground_truth});
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

void run_train(const cli::JobArgs& args, const std::optional<std::string>& resume) {
  JobConfig cfg;
  if (!args.load(cfg)) return;
  if (cfg.run.num_threads > 0) at::set_num_threads(static_cast<int>(cfg.run.num_threads));
  if (resume) cfg.trainer.resume = resume->empty() ? "auto" : *resume;
  GRPO_ENSURE(!cfg.data.train_file.empty(), "data.train_file is required for `grpo train`");
  auto env = learner::DistEnv::from_env();
  learner::validate_training(cfg, env.world_size);  // before anything slow starts
  const std::string device = learner::rank_device(learner::resolve_device(cfg.run.device), env.local_rank, env.world_size);
  cfg.run.device = device;
  auto dist = env.world_size > 1 ? learner::Distributed::create(env, device) : learner::Distributed::single();
  // Pipeline: with sft.enabled, cold-start SFT into <output_dir>/sft first; RL then starts
  // from (and takes its reference model from) <output_dir>/sft/final, writing to <output_dir>/rl.
  if (cfg.sft.enabled) {
    if (cfg.trainer.resume.empty()) {
      learner::run_sft_stage(cfg, *dist);
    } else {
      const std::string root = cfg.run.output_dir;
      cfg.model.path = root + "/sft/final";
      if (cfg.tokenizer.path.empty()) cfg.tokenizer.path = cfg.model.path;
      cfg.run.output_dir = root + "/rl";
    }
  }

  tok::Tokenizer tok = tok::Tokenizer::from_file(learner::tokenizer_path_of(cfg));
  auto task = data::parse_task(cfg.data.task);
  data::TemplateOptions to;
  to.name = cfg.data.template_name;
  to.text = cfg.data.prompt_template;
  to.system_prompt = cfg.data.system_prompt;
  data::PromptTemplate tmpl(to, task, &tok);
  TaskRows rows(data::Dataset::load(cfg.data.train_file, task), tmpl, tok, cfg.data.max_prompt_length);

  auto policy = learner::make_policy(cfg, tok.vocab_size());
  std::unique_ptr<models::CausalLM> ref;
  if (cfg.trainer.beta > 0) ref = learner::make_policy(cfg, tok.vocab_size());

  // Rollout workers: the listed ones, or local ones owned by this rank.
  std::unique_ptr<rollout::LocalWorkers> local;
  std::vector<std::string> addresses = cfg.rollout.workers;
  if (addresses.empty()) {
    local = std::make_unique<rollout::LocalWorkers>(cfg, cfg.rollout.num_local_workers, cfg.rollout.local_mode);
    addresses = local->addresses();
    if (cfg.rollout.auth_token.empty()) cfg.rollout.auth_token = local->auth_token();
  }
  WorkerRollout rollout(cfg, tok, addresses, local != nullptr, dist->rank());
  RewardScorer scorer(cfg);

  std::unique_ptr<Metrics> metrics;
  if (dist->is_main()) {
    // Append only when a checkpoint will really be resumed (resume=auto may start fresh).
    const bool resuming = !cfg.trainer.resume.empty() &&
                          (cfg.trainer.resume != "auto" || !learner::latest_checkpoint(cfg.run.output_dir).empty());
    metrics = std::make_unique<Metrics>(Metrics::for_run(cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard, resuming));
  }
  std::unique_ptr<learner::Evaluator> evaluator;
  if (dist->is_main() && cfg.trainer.eval_steps > 0 && !cfg.data.eval_file.empty()) {
    learner::EvalOptions eo;
    eo.samples = cfg.eval.samples;
    eo.temperature = cfg.eval.temperature;
    eo.max_new_tokens = cfg.eval.max_new_tokens;
    eo.limit = cfg.eval.limit;
    eo.stop = cfg.rollout.stop;
    eo.seed = static_cast<uint64_t>(cfg.run.seed);
    eo.progress = "off";
    evaluator = std::make_unique<learner::Evaluator>(data::Dataset::load(cfg.data.eval_file, task), tok, tmpl, eo);
  }

  learner::TrainerDeps deps;
  deps.policy = policy.get();
  deps.ref = ref.get();
  deps.data = &rows;
  deps.rollout = &rollout;
  deps.scorer = &scorer;
  deps.dist = dist.get();
  deps.metrics = metrics.get();
  if (evaluator) {
    deps.eval_hook = [&](models::CausalLM& m, int64_t) { return evaluator->run(m).metrics(); };
  }
  // Workers start from their config's model; make them hold exactly the policy before the
  // first generation.
  struct FirstPush : learner::CompletionSource {
    learner::CompletionSource& inner;
    bool pushed = false;
    learner::Distributed& d;
    FirstPush(learner::CompletionSource& i, learner::Distributed& dd) : inner(i), d(dd) {}
    std::vector<std::vector<learner::GeneratedCompletion>> generate(
        const std::vector<learner::PromptItem>& p, int64_t g, int64_t step) override {
      if (!pushed) {
        // Start-up sync: the workers built their model from their own config (a remote
        // worker's may differ: another seed or path), so they get the learner's weights
        // before the first generation: as version 0 on a fresh run (the one version a
        // worker accepts twice), as the resumed step's version after --resume.
        inner.publish(*policy_, step, d.is_main());
        d.barrier();
      }
      pushed = true;
      return inner.generate(p, g, step);
    }
    void publish(models::CausalLM& m, int64_t v, bool main) override { inner.publish(m, v, main); }
    models::CausalLM* policy_ = nullptr;
  } first(rollout, *dist);
  first.policy_ = policy.get();
  deps.rollout = &first;

  // Every checkpoint carries the tokenizer, template and generation settings, like final/,
  // so `grpo eval --checkpoint DIR/checkpoint-N` works on it.
  deps.checkpoint_files = [&cfg](const std::string& d) { learner::write_run_meta(cfg, d); };
  auto res = learner::train_grpo(cfg, deps);
  if (dist->is_main()) {
    // <output_dir>/final: the trained policy with its tokenizer, template and generation
    // settings, so `grpo eval` and `grpo generate` need nothing else (as after `grpo sft`).
    const std::string final_dir = cfg.run.output_dir + "/final";
    models::save_model(*policy, final_dir);
    learner::write_run_meta(cfg, final_dir);
    std::printf("grpo train: %lld steps (from %lld); last checkpoint %s; final %s\n",
                static_cast<long long>(res.steps_done), static_cast<long long>(res.start_step),
                res.last_checkpoint.c_str(), final_dir.c_str());
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto* sub = app.add_subcommand("train", "train with GRPO (rollout, rewards, update) from a job config");
  auto args = std::make_shared<cli::JobArgs>();
  args->add_to(sub);
  auto resume_latest = std::make_shared<bool>(false);
  auto resume_from = std::make_shared<std::string>();
  sub->add_flag("--resume", *resume_latest,
                "continue from the latest checkpoint under run.output_dir (trainer.resume=auto)");
  sub->add_option("--resume-from", *resume_from, "continue from this checkpoint directory");
  sub->callback([args, resume_latest, resume_from] {
    std::optional<std::string> r;
    if (!resume_from->empty()) r = *resume_from;
    else if (*resume_latest) r = std::string();
    run_train(*args, r);
  });
}

}  // namespace grpo::cmd
