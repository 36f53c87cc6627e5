// apps/cmd_eval.cpp: `grpo eval --checkpoint DIR --task math|countdown --data FILE.jsonl
// [--samples K --temperature T ...]`: greedy pass@1 (or pass@1 / pass@K when sampling),
// format rate and mean completion length. Progress goes to stderr; the last stdout line is
// one JSON object. The checkpoint's grpo.json and tokenizer.json supply the task, prompt
// template and generation settings; options override them.
#include <fstream>
#include <iostream>

#include "apps/cli.h"
#include "job/assembly.h"
#include "core/error.h"
#include "data/checkpoint_meta.h"
#include "learner/eval.h"
#include "models/causal_lm.h"

namespace grpo::cmd {
namespace {
struct EvalArgs {
  std::string checkpoint, task, data, tokenizer, template_name, prompt_template, device = "auto";
  std::string progress = "auto", output;
  int64_t samples = 1, max_new_tokens = 0, limit = 0, max_batch_seqs = 64;
  double temperature = 0.0;
  uint64_t seed = 0;
};

void run_eval(const EvalArgs& a) {
  auto meta = data::read_checkpoint_meta(a.checkpoint).value_or(data::CheckpointMeta{});
  std::string task = a.task.empty() ? meta.task : a.task;
  data::TemplateOptions topt = meta.prompt_template;
  if (!a.template_name.empty()) topt.name = a.template_name;
  if (!a.prompt_template.empty()) topt.text = a.prompt_template;
  tok::Tokenizer tok = tok::Tokenizer::from_file(a.tokenizer.empty() ? a.checkpoint : a.tokenizer);
  data::Task t = data::parse_task(task);
  data::PromptTemplate tmpl(topt, t, &tok);
  learner::EvalOptions o;
  o.samples = a.samples;
  o.temperature = a.temperature;
  o.max_new_tokens = a.max_new_tokens > 0 ? a.max_new_tokens : meta.generation.value("max_new_tokens", 256);
  if (meta.generation.contains("stop")) o.stop = meta.generation["stop"].get<std::vector<std::string>>();
  o.limit = a.limit;
  o.seed = a.seed;
  o.max_batch_seqs = a.max_batch_seqs;
  o.progress = a.progress;
  auto model = models::load_model(a.checkpoint, "", job::resolve_device(a.device));
  learner::Evaluator ev(data::Dataset::load(a.data, t), tok, tmpl, o);
  auto r = ev.run(*model);
  for (const auto& e : r.examples) std::cerr << "example: " << e.dump() << "\n";
  auto j = r.to_json();
  j["checkpoint"] = a.checkpoint;
  j["data"] = a.data;
  if (!a.output.empty()) {
    std::ofstream(a.output) << j.dump() << "\n";
  }
  std::cout << j.dump() << std::endl;
}
}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand("eval", "evaluate a checkpoint on a task file (accuracy, pass@K, format rate)");
  sub->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json, model.safetensors, tokenizer.json, grpo.json)")
      ->required();
  sub->add_option("--data", a->data, "JSONL task rows")->required();
  sub->add_option("--task", a->task, "math or countdown (default: the checkpoint's)")
      ->check(CLI::IsMember({"math", "countdown"}));
  sub->add_option("--samples", a->samples, "samples per row (pass@K); >1 needs --temperature > 0")
      ->check(CLI::PositiveNumber);
  sub->add_option("--temperature", a->temperature, "sampling temperature (0: greedy)");
  sub->add_option("--max-new-tokens", a->max_new_tokens, "answer length limit (default: the checkpoint's)");
  sub->add_option("--limit", a->limit, "evaluate the first N rows only (0: all)");
  sub->add_option("--seed", a->seed, "sampling seed");
  sub->add_option("--batch", a->max_batch_seqs, "sequences decoded at once");
  sub->add_option("--tokenizer", a->tokenizer, "tokenizer.json or folder (default: the checkpoint's)");
  sub->add_option("--template", a->template_name, "prompt template: r1_zero | plain | chat | custom (default: the checkpoint's)");
  sub->add_option("--prompt-template", a->prompt_template, "custom template text");
  sub->add_option("--device", a->device, "auto | cpu | cuda");
  sub->add_option("--progress", a->progress, "auto | bar | lines | off");
  sub->add_option("--output", a->output, "also write the result JSON to this file");
  sub->callback([a] { run_eval(*a); });
}
}  // namespace grpo::cmd
