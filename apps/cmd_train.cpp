// apps/cmd_train.cpp: `grpo train --config JOB.yaml [--resume | --resume-from DIR] [KEY=VALUE ...]`:
// GRPO training as job/grpo_job.h assembles it (the SFT stage first when sft.enabled).
// Multi-process with torchrun-style RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT variables.
#include <cstdio>
#include <optional>

#include "apps/cli.h"
#include "job/grpo_job.h"

namespace grpo::cmd {
namespace {

void run_train(const cli::JobArgs& args, const std::optional<std::string>& resume) {
  JobConfig cfg;
  if (!args.load(cfg)) return;
  if (resume) cfg.trainer.resume = resume->empty() ? "auto" : *resume;
  auto res = job::run_grpo_job(std::move(cfg));
  if (!res.final_dir.empty()) {
    std::printf("grpo train: %lld steps (from %lld); last checkpoint %s; final %s\n",
                static_cast<long long>(res.steps_done), static_cast<long long>(res.start_step),
                res.last_checkpoint.c_str(), res.final_dir.c_str());
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
