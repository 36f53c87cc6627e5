// apps/cmd_score.cpp: `grpo score` (score completions with rewards). Placeholder until issue 4 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_score(CLI::App& app) {
  cli::register_not_built(app, "score", "score completions with rewards", "issue 4");
}
}  // namespace grpo::cmd
