// apps/cmd_sft.cpp: `grpo sft --config JOB.yaml [KEY=VALUE ...]`: cold-start supervised
// fine-tuning (learner/sft_trainer.h). Writes <run.output_dir>/final (model, tokenizer,
// grpo.json), metrics.jsonl, tb/ and config.yaml. Multi-process with torchrun-style
// RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables.
#include <iostream>

#include <ATen/Parallel.h>

#include "apps/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "learner/distributed.h"
#include "learner/sft_trainer.h"
#include "models/causal_lm.h"
#include "tokenizer/tokenizer.h"

namespace grpo::cmd {
namespace {
void run_sft(const cli::JobArgs& args) {
  JobConfig cfg;
  if (!args.load(cfg)) return;
  if (cfg.run.num_threads > 0) at::set_num_threads(static_cast<int>(cfg.run.num_threads));
  auto env = learner::DistEnv::from_env();
  std::string device = learner::rank_device(learner::resolve_device(cfg.run.device), env.local_rank, env.world_size);
  cfg.run.device = device;
  auto dist = env.world_size > 1 ? learner::Distributed::create(env, device) : learner::Distributed::single();
  tok::Tokenizer tok = tok::Tokenizer::from_file(learner::tokenizer_path_of(cfg));
  auto model = learner::make_policy(cfg, tok.vocab_size());
  std::unique_ptr<Metrics> metrics;
  if (dist->is_main()) {
    cfg.write_effective(cfg.run.output_dir);
    metrics = std::make_unique<Metrics>(Metrics::for_run(cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard));
  }
  auto res = learner::train_sft(cfg, *model, tok, *dist, metrics.get());
  if (dist->is_main()) {
    std::cout << nlohmann::json{{"steps", res.steps}, {"loss", res.last_loss}, {"final", res.final_dir}}.dump()
              << std::endl;
  }
}
}  // namespace

void register_sft(CLI::App& app) {
  auto args = std::make_shared<cli::JobArgs>();
  auto* sub = app.add_subcommand("sft", "supervised fine-tuning (cold start) from a job config");
  args->add_to(sub);
  sub->callback([args] { run_sft(*args); });
}
}  // namespace grpo::cmd
