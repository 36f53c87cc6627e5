// apps/cmd_generate.cpp: `grpo generate` (sample completions from a checkpoint). Placeholder until issue 5 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_generate(CLI::App& app) {
  cli::register_not_built(app, "generate", "sample completions from a checkpoint", "issue 5");
}
}  // namespace grpo::cmd
