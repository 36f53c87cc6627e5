// core/job_config.h: the whole job configuration, one typed section per top-level key.
// A job YAML looks like configs/*.yaml; `grpo <cmd> --help-config` lists every key.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "core/sections/data.h"
#include "core/sections/model.h"
#include "core/sections/rewards.h"
#include "core/sections/rollout.h"
#include "core/sections/run.h"
#include "core/sections/trainer.h"

namespace grpo {

struct JobConfig {
  cfg::RunConfig run;
  cfg::ModelConfig model;
  cfg::TokenizerConfig tokenizer;
  cfg::DataConfig data;
  cfg::RolloutConfig rollout;
  std::vector<cfg::RewardEntry> rewards = default_rewards();
  cfg::TrainerConfig trainer;
  cfg::SftConfig sft;
  cfg::EvalConfig eval;

  void visit(cfg::Visitor& v) {
    v.section("run", run);
    v.section("model", model);
    v.section("tokenizer", tokenizer);
    v.section("data", data);
    v.section("rollout", rollout);
    v.list("rewards", rewards, {.doc = "weighted rewards: [{name: accuracy, weight: 1.0}, ...]"});
    v.section("trainer", trainer);
    v.section("sft", sft);
    v.section("eval", eval);
  }

  static std::vector<cfg::RewardEntry> default_rewards();

  // Cross-key checks (e.g. a batch not divisible by the group size); throws ConfigError
  // listing every clash with its numbers.
  void validate() const;

  // Loads `path` (empty: defaults only), applies overrides, checks required keys and
  // cross-key rules. Throws ConfigError.
  static JobConfig load(const std::string& path, const std::vector<std::string>& overrides);

  // YAML of every key, as the run used it.
  std::string to_yaml();

  // Writes to_yaml() to <dir>/config.yaml atomically (temp file, then rename).
  void write_effective(const std::string& dir);
};

}  // namespace grpo
