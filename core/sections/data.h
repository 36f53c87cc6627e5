// core/sections/data.h: `data:` the task rows and how each is rendered into a prompt.
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct DataConfig {
  std::string task = "math";          // math: {prompt, answer}; countdown: {nums, target}
  std::string train_file;             // JSONL rows
  std::string eval_file;              // held-out JSONL rows for periodic evaluation
  std::string template_name = "r1_zero";  // r1_zero | plain | chat | custom
  std::string prompt_template;        // used when template is custom: "{prompt}" fields
  std::string system_prompt;          // chat template only
  bool shuffle = true;
  int64_t max_prompt_length = 512;
  void visit(Visitor& v) {
    v.field("task", task, {.doc = "task kind", .one_of = {"math", "countdown"}});
    v.field("train_file", train_file, {.doc = "JSONL file of training rows"});
    v.field("eval_file", eval_file, {.doc = "JSONL file of held-out rows for evaluation"});
    v.field("template", template_name, {.doc = "prompt template", .one_of = {"r1_zero", "plain", "chat", "custom"}});
    v.field("prompt_template", prompt_template, {.doc = "custom template text with {field} placeholders"});
    v.field("system_prompt", system_prompt, {.doc = "system message for the chat template"});
    v.field("shuffle", shuffle, {.doc = "shuffle rows each epoch (seeded)"});
    v.field("max_prompt_length", max_prompt_length, {.doc = "prompts longer than this (tokens) are truncated from the left", .range = Range{1, 1e9}});
  }
};
}  // namespace grpo::cfg
