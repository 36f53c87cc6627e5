// data/checkpoint_meta.cpp: grpo.json + tokenizer files beside a checkpoint (see .h).
#include "data/checkpoint_meta.h"

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"

namespace grpo::data {
namespace sfs = std::filesystem;

std::string tokenizer_json_path(const std::string& path) {
  if (sfs::is_directory(path)) return (sfs::path(path) / "tokenizer.json").string();
  return path;
}

void write_checkpoint_meta(const std::string& dir, const CheckpointMeta& meta,
                           const std::string& tokenizer_path) {
  std::error_code ec;
  sfs::create_directories(dir, ec);
  GRPO_ENSURE(!ec, "cannot create checkpoint directory '", dir, "': ", ec.message());
  Json j{{"task", meta.task}, {"template", meta.prompt_template.to_json()}, {"generation", meta.generation}};
  fs::write_atomic((sfs::path(dir) / "grpo.json").string(), j.dump(2) + "\n");
  std::string tj = tokenizer_json_path(tokenizer_path);
  GRPO_ENSURE(sfs::exists(tj), "tokenizer file '", tj, "' not found (tokenizer.path)");
  sfs::path src_dir = sfs::path(tj).parent_path();
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    sfs::path src = name == std::string("tokenizer.json") ? sfs::path(tj) : src_dir / name;
    sfs::path dst = sfs::path(dir) / name;
    if (!sfs::exists(src)) continue;
    if (sfs::exists(dst) && sfs::equivalent(src, dst)) continue;
    fs::write_atomic(dst.string(), fs::read_file(src.string()));
  }
}

std::optional<CheckpointMeta> read_checkpoint_meta(const std::string& dir) {
  sfs::path p = sfs::path(dir) / "grpo.json";
  if (!sfs::exists(p)) return std::nullopt;
  Json j;
  try {
    j = Json::parse(fs::read_file(p.string()));
  } catch (const Json::parse_error& e) {
    throw Error(str(p.string(), ": malformed JSON: ", e.what()));
  }
  GRPO_ENSURE(j.is_object(), p.string(), ": expected a JSON object");
  CheckpointMeta m;
  m.task = j.value("task", m.task);
  if (j.contains("template")) m.prompt_template = TemplateOptions::from_json(j["template"]);
  if (j.contains("generation") && j["generation"].is_object()) m.generation = j["generation"];
  return m;
}

}  // namespace grpo::data
