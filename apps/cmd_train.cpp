// apps/cmd_train.cpp: `grpo train` (train with GRPO (rollout, rewards, update) from a job config). Placeholder until issue 6 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_train(CLI::App& app) {
  cli::register_not_built(app, "train", "train with GRPO (rollout, rewards, update) from a job config", "issue 6");
}
}  // namespace grpo::cmd
