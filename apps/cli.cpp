// apps/cli.cpp: the shared job-config options.
#include "apps/cli.h"

#include <iostream>

namespace grpo::cli {

void JobArgs::add_to(CLI::App* sub) {
  sub->add_option("--config,-c", config_path, "job YAML file (see configs/)");
  sub->add_flag("--help-config", help_config, "list every config key with its type, default and meaning");
  sub->add_option("overrides", overrides, "dotted overrides KEY=VALUE, e.g. trainer.learning_rate=1e-6");
}

bool JobArgs::load(JobConfig& out) const {
  if (help_config) {
    JobConfig defaults;
    std::cout << cfg::describe(defaults);
    return false;
  }
  out = JobConfig::load(config_path, overrides);
  return true;
}

void register_not_built(CLI::App& app, const std::string& name, const std::string& description,
                        const std::string& issue) {
  auto* sub = app.add_subcommand(name, description + " [not built yet]");
  // The job config is still read and checked, so mistakes show before the capability does.
  auto args = std::make_shared<JobArgs>();
  args->add_to(sub);
  sub->callback([name, issue, args] {
    JobConfig c;
    if (!args->load(c)) return;
    throw NotBuilt("'grpo " + name + "' is not built yet in this version (" + issue + ")");
  });
}

}  // namespace grpo::cli
