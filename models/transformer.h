// models/transformer.h: internal to models/ — constructs the one CausalLM implementation
// (models/transformer.cpp) that covers every supported family. checkpoint.cpp uses it to
// build an empty model and fill it from safetensors. Not for use outside models/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "models/causal_lm.h"
#include "models/model_args.h"

namespace grpo::models {

struct BuildOptions {
  uint64_t seed = 0;
  bool random_init = true;  // false: uninitialised storage, to be filled from a checkpoint
  std::string dtype = "float32";
  std::string device = "cpu";
};

// Builds the network for `args`. Throws grpo::Error on a bad dtype or device string.
std::unique_ptr<CausalLM> make_transformer(const ModelArgs& args, const BuildOptions& opt);

}  // namespace grpo::models
