// apps/cmd_sft.cpp: `grpo sft` (cold-start supervised fine-tuning). Placeholder until issue 7 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_sft(CLI::App& app) {
  cli::register_not_built(app, "sft", "cold-start supervised fine-tuning", "issue 7");
}
}  // namespace grpo::cmd
