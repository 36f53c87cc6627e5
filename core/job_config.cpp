// core/job_config.cpp: loading and cross-key validation of the job configuration.
#include "core/job_config.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"

namespace grpo {

std::vector<cfg::RewardEntry> JobConfig::default_rewards() {
  cfg::RewardEntry acc;
  acc.name = "accuracy";
  acc.weight = 1.0;
  cfg::RewardEntry fmt;
  fmt.name = "format";
  fmt.weight = 0.5;
  return {acc, fmt};
}

void JobConfig::validate() const {
  std::vector<std::string> errs;
  const int64_t G = rollout.num_generations;
  const int64_t completions = trainer.prompts_per_step * G;
  const int64_t per_step = trainer.per_device_train_batch_size * trainer.gradient_accumulation_steps;
  if (completions % trainer.per_device_train_batch_size != 0)
    errs.push_back(str("trainer.prompts_per_step (", trainer.prompts_per_step,
                       ") x rollout.num_generations (", G, ") = ", completions,
                       " completions is not divisible by trainer.per_device_train_batch_size (",
                       trainer.per_device_train_batch_size, ")"));
  (void)per_step;
  if (trainer.scale_rewards == "group" && G < 2)
    errs.push_back(str("rollout.num_generations (", G,
                       ") must be at least 2 when trainer.scale_rewards is 'group' (std of one answer is undefined)"));
  if (trainer.delta != 0.0 && trainer.delta <= 1.0 + trainer.epsilon_high)
    errs.push_back(str("trainer.delta (", trainer.delta, ") must exceed 1 + trainer.epsilon_high (",
                       1.0 + trainer.epsilon_high, ") or be 0"));
  if (rollout.tls && !rollout.workers.empty() && rollout.tls_ca.empty())
    errs.push_back("rollout.tls is on with remote workers but rollout.tls_ca is empty");
  for (size_t i = 0; i < rewards.size(); ++i)
    if (rewards[i].name.empty()) errs.push_back(str("rewards[", i, "].name is empty"));
  if (!errs.empty()) {
    std::string msg = "config settings that cannot work together:";
    for (auto& e : errs) msg += "\n  - " + e;
    throw ConfigError(msg);
  }
}

JobConfig JobConfig::load(const std::string& path, const std::vector<std::string>& overrides) {
  JobConfig c;
  if (!path.empty()) cfg::Loader::load_file(path, c);
  cfg::Loader::apply_overrides(overrides, c);
  cfg::check_required(c, path.empty() ? "config" : path);
  c.validate();
  return c;
}

std::string JobConfig::to_yaml() { return cfg::to_yaml(*this); }

void JobConfig::write_effective(const std::string& dir) {
  std::filesystem::create_directories(dir);
  fs::write_atomic(dir + "/config.yaml", to_yaml());
}

}  // namespace grpo
