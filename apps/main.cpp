// apps/main.cpp: the `grpo` command. Dispatches to subcommands; turns grpo::Error into
// "grpo: error: ..." with exit 1, and a not-built subcommand into exit 2.
#include <iostream>

#include "apps/cli.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"grpo: GRPO post-training of DeepSeek-style LLMs, in C++", "grpo"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");
  grpo::cmd::register_train(app);
  grpo::cmd::register_sft(app);
  grpo::cmd::register_rollout_worker(app);
  grpo::cmd::register_eval(app);
  grpo::cmd::register_score(app);
  grpo::cmd::register_generate(app);
  grpo::cmd::register_tokenize(app);
  grpo::cmd::register_train_tokenizer(app);
  grpo::cmd::register_make_data(app);
  grpo::cmd::register_version(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const grpo::cli::NotBuilt& e) {
    std::cerr << "grpo: " << e.what() << "\n";
    return 2;
  } catch (const grpo::Error& e) {
    std::cerr << "grpo: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "grpo: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
