// core/sections/model.h: `model:` which network to train, from a checkpoint directory or
// an inline architecture (Hugging Face config.json keys, parsed by models/).
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct ModelConfig {
  std::string path;             // Hugging Face-layout checkpoint directory
  Json arch = Json::object();   // inline architecture (config.json keys) when path is empty
  std::string dtype = "float32";
  bool use_kernels = true;      // fused kernels (CUDA on a GPU, CPU loops for inference)
  void visit(Visitor& v) {
    v.field("path", path, {.doc = "checkpoint directory (config.json + *.safetensors); empty: build from model.arch"});
    v.field("arch", arch, {.doc = "architecture keys as in a Hugging Face config.json (model_type, hidden_size, ...)"});
    v.field("dtype", dtype, {.doc = "parameter dtype", .one_of = {"float32", "bfloat16", "float16"}});
    v.field("use_kernels", use_kernels, {.doc = "use the fused kernels: CUDA on a GPU, fused CPU loops for inference on a CPU (false: LibTorch references everywhere)"});
  }
};

struct TokenizerConfig {
  std::string path;  // tokenizer.json or its folder; empty: the model checkpoint's
  void visit(Visitor& v) {
    v.field("path", path, {.doc = "tokenizer.json or the folder holding it; empty: model.path"});
  }
};
}  // namespace grpo::cfg
