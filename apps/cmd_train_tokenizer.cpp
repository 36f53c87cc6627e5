// apps/cmd_train_tokenizer.cpp: `grpo train-tokenizer` (learn a byte-level BPE tokenizer.json from text files). Placeholder until issue 3 lands.
#include "apps/cli.h"

namespace grpo::cmd {
void register_train_tokenizer(CLI::App& app) {
  cli::register_not_built(app, "train-tokenizer", "learn a byte-level BPE tokenizer.json from text files", "issue 3");
}
}  // namespace grpo::cmd
