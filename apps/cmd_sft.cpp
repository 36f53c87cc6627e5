// apps/cmd_sft.cpp: `grpo sft --config JOB.yaml [KEY=VALUE ...]`: cold-start supervised
// fine-tuning (learner/sft_trainer.h). Writes <run.output_dir>/final (model, tokenizer,
// grpo.json), metrics.jsonl, tb/ and config.yaml. Multi-process with torchrun-style
// RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables.
#include <iostream>

#include "apps/cli.h"
#include "job/grpo_job.h"

namespace grpo::cmd {
namespace {
void run_sft(const cli::JobArgs& args) {
  JobConfig cfg;
  if (!args.load(cfg)) return;
  auto res = job::run_sft_job(std::move(cfg));
  if (!res.final_dir.empty()) {
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
