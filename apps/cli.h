// apps/cli.h: shared pieces of the `grpo` command line. Each subcommand lives in its
// own cmd_<name>.cpp with a register_<name>(CLI::App&) that declares its options and
// callback; main.cpp lists them. A callback throws grpo::Error for expected failures;
// main prints "grpo: error: <message>" and exits 1.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/job_config.h"

namespace grpo::cli {

// --config FILE, trailing KEY=VALUE overrides, --help-config.
struct JobArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  bool help_config = false;
  void add_to(CLI::App* sub);
  // Loads the job config (prints the key list and returns false for --help-config).
  bool load(JobConfig& out) const;
};

// Thrown by subcommands whose capability is not built yet: exit code 2.
struct NotBuilt : std::runtime_error {
  explicit NotBuilt(const std::string& what) : std::runtime_error(what) {}
};

// Marks a subcommand as declared but not implemented in this build.
void register_not_built(CLI::App& app, const std::string& name, const std::string& description,
                        const std::string& issue);

}  // namespace grpo::cli

// Every subcommand's registration; defined in cmd_<name>.cpp.
namespace grpo::cmd {
void register_train(CLI::App& app);
void register_sft(CLI::App& app);
void register_rollout_worker(CLI::App& app);
void register_eval(CLI::App& app);
void register_score(CLI::App& app);
void register_generate(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_train_tokenizer(CLI::App& app);
void register_make_data(CLI::App& app);
void register_version(CLI::App& app);
}  // namespace grpo::cmd
