// apps/cmd_rollout_worker.cpp: `grpo rollout-worker` (serve the rollout gRPC contract). Placeholder until issue 5 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_rollout_worker(CLI::App& app) {
  cli::register_not_built(app, "rollout-worker", "serve the rollout gRPC contract", "issue 5");
}
}  // namespace grpo::cmd
