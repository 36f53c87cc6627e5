// apps/cmd_eval.cpp: `grpo eval` (evaluate a checkpoint on a task). Placeholder until issue 7 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_eval(CLI::App& app) {
  cli::register_not_built(app, "eval", "evaluate a checkpoint on a task", "issue 7");
}
}  // namespace grpo::cmd
