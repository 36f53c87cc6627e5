// apps/cmd_version.cpp: `grpo version` prints the version and the build's features.
#include <iostream>

#include "apps/cli.h"
#include "apps/build_info.h"

namespace grpo::cmd {
void register_version(CLI::App& app) {
  auto* sub = app.add_subcommand("version", "print the version and build features");
  sub->callback([] {
    std::cout << "grpo " << GRPO_VERSION << " (torch " << GRPO_TORCH_VERSION << ", cuda kernels "
              << (GRPO_WITH_CUDA ? "on" : "off") << ")\n";
  });
}
}  // namespace grpo::cmd
