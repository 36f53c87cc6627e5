// models/checkpoint.cpp: build_model / load_model / save_model — the bridge between
// Hugging Face checkpoint directories (config.json + safetensors, sharded or not) and the
// Transformer. Loading matches tensors by HF name, checks every shape, and casts to the
// requested dtype; tensors the model shares (tied lm_head, the MTP modules' copies of
// embed_tokens and shared_head.head) or that carry no weights (rotary inv_freq) are
// skipped; any other leftover name is reported once as a warning. Saving writes the
// complete config (every architecture key explicit, so transformers never substitutes a
// default of its own) and the weights under HF names, sharded above 5 GB like HF.
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "models/causal_lm.h"
#include "models/file_util.h"
#include "models/safetensors.h"
#include "models/transformer.h"

namespace grpo::models {
namespace {

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      return "float32";
  }
}

std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Names in a checkpoint that the model deliberately does not read.
bool skippable(const ModelArgs& a, const std::string& name) {
  if (a.tie_word_embeddings && name == "lm_head.weight") return true;
  if (name.size() > 9 && name.compare(name.size() - 9, 9, ".inv_freq") == 0) return true;
  for (int64_t i = 0; i < a.num_nextn_predict_layers; ++i) {
    std::string p = str("model.layers.", a.num_hidden_layers + i, ".");
    if (name == p + "embed_tokens.weight" || name == p + "shared_head.head.weight") return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<CausalLM> build_model(const nlohmann::json& config, uint64_t seed,
                                      const std::string& dtype, const std::string& device) {
  ModelArgs args = parse_model_args(config, "model.arch");
  BuildOptions opt;
  opt.seed = seed;
  opt.dtype = dtype;
  opt.device = device;
  return make_transformer(args, opt);
}

std::unique_ptr<CausalLM> load_model(const std::string& dir, const std::string& dtype,
                                     const std::string& device) {
  std::string cfg_path = file::join(dir, "config.json");
  GRPO_ENSURE(file::exists(cfg_path), "load_model: ", dir, " has no config.json");
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(fs::read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str("load_model: ", cfg_path, ": invalid JSON: ", e.what()));
  }
  ModelArgs args = parse_model_args(cfg, cfg_path);
  CheckpointFiles files(dir);

  // Checkpoints written by transformers carry no MTP weights (it does not model them):
  // then the MTP modules are dropped rather than left random.
  if (args.num_nextn_predict_layers > 0 &&
      !files.contains(str("model.layers.", args.num_hidden_layers, ".eh_proj.weight"))) {
    log::once(str("load_model.no_mtp:", dir), log::Level::kWarn,
              str("load_model: ", dir, " has no MTP weights (model.layers.", args.num_hidden_layers,
                  ".eh_proj.weight); loading with num_nextn_predict_layers=0"));
    args.num_nextn_predict_layers = 0;
    args.raw["num_nextn_predict_layers"] = 0;
  }

  BuildOptions opt;
  opt.random_init = false;
  opt.device = device;
  opt.dtype = dtype;
  if (opt.dtype.empty()) {
    opt.dtype = "float32";
    for (const char* k : {"dtype", "torch_dtype"})
      if (cfg.contains(k) && cfg[k].is_string()) {
        std::string d = cfg[k];
        if (d == "bfloat16" || d == "float16" || d == "float32") opt.dtype = d;
        break;
      }
  }
  auto model = make_transformer(args, opt);

  c10::NoGradGuard ng;
  std::set<std::string> used;
  for (auto& [name, t] : model->state()) {
    GRPO_ENSURE(files.contains(name), "load_model: ", dir, ": missing tensor '", name, "' (shape ",
                shape_str(t.sizes()), ")");
    const SafetensorsFile& f = files.file_of(name);
    at::Tensor src = f.get(name);
    GRPO_ENSURE(src.sizes() == t.sizes(), "load_model: ", f.path(), ": tensor '", name,
                "' has shape ", shape_str(src.sizes()), ", the model expects ",
                shape_str(t.sizes()));
    GRPO_ENSURE(src.is_floating_point(), "load_model: ", f.path(), ": tensor '", name,
                "' has non-float dtype ", f.entry(name).dtype);
    t.copy_(src);
    used.insert(name);
  }
  std::string extra;
  int n_extra = 0;
  for (const auto& name : files.names())
    if (!used.count(name) && !skippable(args, name)) {
      if (n_extra++ < 8) extra += (extra.empty() ? "" : ", ") + name;
    }
  if (n_extra)
    log::once(str("load_model.extra:", dir), log::Level::kWarn,
              str("load_model: ", dir, ": ", n_extra, " tensors not used by the model: ", extra,
                  n_extra > 8 ? ", ..." : ""));
  return model;
}

void save_model(CausalLM& model, const std::string& dir) {
  file::make_dirs(dir);
  auto state = model.state();
  GRPO_ENSURE(!state.empty(), "save_model: model has no tensors");
  nlohmann::json cfg = to_hf_config(model.args());
  cfg["torch_dtype"] = dtype_name(model.lm_head_weight().scalar_type());
  cfg.erase("dtype");

  constexpr int64_t kShardBytes = 5ll << 30;
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  int64_t cur = 0, total = 0;
  for (auto& e : state) {
    int64_t nb = e.second.numel() * e.second.element_size();
    if (cur > 0 && cur + nb > kShardBytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(e);
    cur += nb;
    total += nb;
  }
  // Stale files of a previous save would shadow or duplicate the new tensors.
  for (const auto& f : file::list(dir))
    if (file::ends_with(f, ".safetensors") || f == "model.safetensors.index.json")
      file::remove_file(file::join(dir, f));
  if (shards.size() == 1) {
    save_safetensors(file::join(dir, "model.safetensors"), shards[0]);
  } else {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total}};
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    const size_t n = shards.size();
    for (size_t i = 0; i < n; ++i) {
      char fname[64];
      std::snprintf(fname, sizeof fname, "model-%05zu-of-%05zu.safetensors", i + 1, n);
      save_safetensors(file::join(dir, fname), shards[i]);
      for (const auto& e : shards[i]) map[e.first] = fname;
    }
    index["weight_map"] = map;
    fs::write_atomic(file::join(dir, "model.safetensors.index.json"), index.dump(2) + "\n");
  }
  fs::write_atomic(file::join(dir, "config.json"), cfg.dump(2) + "\n");
}

}  // namespace grpo::models
