// apps/cmd_tokenize.cpp: `grpo tokenize` (encode JSON lines {\"text\"} with a tokenizer.json). Placeholder until issue 3 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_tokenize(CLI::App& app) {
  cli::register_not_built(app, "tokenize", "encode JSON lines {\"text\"} with a tokenizer.json", "issue 3");
}
}  // namespace grpo::cmd
