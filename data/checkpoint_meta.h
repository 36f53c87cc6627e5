// data/checkpoint_meta.h: what a checkpoint directory carries besides the weights, so
// `grpo eval` / `grpo generate` need only the directory and the data: grpo.json (task,
// prompt template, generation settings) and the tokenizer files (tokenizer.json and, when
// present, tokenizer_config.json) copied beside config.json + model.safetensors.
// Torch-free; files are written atomically.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/template.h"

namespace grpo::data {

struct CheckpointMeta {
  std::string task = "math";
  TemplateOptions prompt_template;
  // {"max_new_tokens", "temperature", "top_p", "top_k", "stop": [...]} as used in training.
  Json generation = Json::object();
};

// Writes <dir>/grpo.json and copies the tokenizer files found at `tokenizer_path` (a
// tokenizer.json or its folder) into `dir` (skipped when they already are there). Throws
// grpo::Error naming the file on I/O failure or a missing tokenizer.json.
void write_checkpoint_meta(const std::string& dir, const CheckpointMeta& meta,
                           const std::string& tokenizer_path);

// Reads <dir>/grpo.json; nullopt when absent. Throws grpo::Error naming the file when it
// is malformed.
std::optional<CheckpointMeta> read_checkpoint_meta(const std::string& dir);

// The folder-or-file tokenizer path resolved to the tokenizer.json file.
std::string tokenizer_json_path(const std::string& path);

}  // namespace grpo::data
