// apps/cmd_make_data.cpp: `grpo make-data arith|countdown --n N --seed S --output FILE
// [--with-solutions SFT_FILE]`: writes task rows (and, optionally, SFT rows whose
// completion is a worked <think> trace and the <answer>) as JSONL. Deterministic per seed.
#include <iostream>

#include "apps/cli.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/generators.h"
#include "data/template.h"

namespace grpo::cmd {
namespace {
struct MakeDataArgs {
  std::string kind;
  int64_t n = 1000;
  uint64_t seed = 0;
  std::string output;
  std::string solutions;
};

void run_make_data(const MakeDataArgs& a) {
  std::vector<data::GeneratedRow> rows;
  data::Task task = data::Task::kMath;
  if (a.kind == "arith") {
    rows = data::make_arith(a.n, a.seed);
  } else if (a.kind == "countdown") {
    rows = data::make_countdown(a.n, a.seed);
    task = data::Task::kCountdown;
  } else {
    throw Error(str("make-data: unknown kind '", a.kind, "' (expected arith or countdown)"));
  }
  std::vector<data::Json> task_rows, sft_rows;
  for (const auto& g : rows) {
    task_rows.push_back(g.row);
    if (!a.solutions.empty()) {
      // SFT row: the task row (so any template can render it) with {prompt} and completion.
      data::Json s = data::with_question(task, g.row);
      s["completion"] = g.completion;
      sft_rows.push_back(std::move(s));
    }
  }
  data::write_jsonl(a.output, task_rows);
  std::cerr << "make-data: wrote " << task_rows.size() << " " << a.kind << " rows to " << a.output << "\n";
  if (!a.solutions.empty()) {
    data::write_jsonl(a.solutions, sft_rows);
    std::cerr << "make-data: wrote " << sft_rows.size() << " SFT rows to " << a.solutions << "\n";
  }
}
}  // namespace

void register_make_data(CLI::App& app) {
  auto a = std::make_shared<MakeDataArgs>();
  auto* sub = app.add_subcommand("make-data", "generate task datasets (arith, countdown) as JSONL");
  sub->add_option("kind", a->kind, "arith (math rows: + - of 3-digit, * of 2-digit numbers) or countdown")
      ->required()
      ->check(CLI::IsMember({"arith", "countdown"}));
  sub->add_option("--n", a->n, "number of rows")->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", a->seed, "random seed (the same seed gives the same rows)");
  sub->add_option("--output,-o", a->output, "task rows JSONL file")->required();
  sub->add_option("--with-solutions", a->solutions,
                  "also write SFT rows {prompt, completion} with worked <think> traces to this file");
  sub->callback([a] { run_make_data(*a); });
}
}  // namespace grpo::cmd
