// tests/rewards/score_cli_main.cpp: a `grpo` with only the score subcommand, so the
// rewards tests exercise apps/cmd_score.cpp without building the torch libraries.
// Same error handling as apps/main.cpp.
#include <iostream>

#include "apps/cli.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"grpo (score only, for tests)", "grpo"};
  app.require_subcommand(1);
  grpo::cmd::register_score(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "grpo: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
