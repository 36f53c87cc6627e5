// learner/run_options.h: the settings every training loop (GRPO, SFT) shares: where its
// outputs go, how often it logs and saves, its data order, its progress display.
#pragma once
#include <cstdint>
#include <string>

namespace grpo::learner {

struct RunOptions {
  std::string output_dir = "runs/grpo";  // run.output_dir: checkpoints, metrics, config.yaml
  std::string progress = "auto";         // run.progress: auto | bar | lines | off
  std::string config_yaml;               // the effective job config, saved with checkpoints
  uint64_t seed = 42;                    // run.seed: the data order
  bool shuffle = true;                   // data.shuffle
  int64_t logging_steps = 1;             // trainer.logging_steps
  int64_t save_steps = 50;               // trainer.save_steps (0: only at the end)
  int64_t save_total_limit = 3;          // trainer.save_total_limit
};

}  // namespace grpo::learner
