// apps/cmd_make_data.cpp: `grpo make-data` (generate task datasets (arith, countdown)). Placeholder until issue 7 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_make_data(CLI::App& app) {
  cli::register_not_built(app, "make-data", "generate task datasets (arith, countdown)", "issue 7");
}
}  // namespace grpo::cmd
