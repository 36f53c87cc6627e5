// core/sections/run.h: `run:` where outputs go, seed, device and metrics sinks.
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct RunConfig {
  std::string name = "grpo";
  std::string output_dir = "runs/grpo";  // checkpoints, metrics.jsonl, tb/, config.yaml
  int64_t seed = 42;
  std::string device = "auto";            // auto picks cuda when present
  bool jsonl = true;                      // metrics.jsonl beside the outputs
  bool tensorboard = true;                // TensorBoard event file under tb/
  std::string progress = "auto";          // bar on a terminal, lines otherwise
  int64_t num_threads = 0;                // CPU intra-op threads of this process (0: LibTorch's default)
  void visit(Visitor& v) {
    v.field("name", name, {.doc = "run name, used in logs and metric files"});
    v.field("output_dir", output_dir, {.doc = "directory for checkpoints, metrics and the effective config"});
    v.field("seed", seed, {.doc = "global random seed", .range = Range{0, 9.2e18}});
    v.field("device", device, {.doc = "compute device", .one_of = {"auto", "cpu", "cuda"}});
    v.field("jsonl", jsonl, {.doc = "write metrics.jsonl"});
    v.field("tensorboard", tensorboard, {.doc = "write TensorBoard event files under tb/"});
    v.field("progress", progress, {.doc = "progress display", .one_of = {"auto", "bar", "lines", "off"}});
    v.field("num_threads", num_threads, {.doc = "CPU intra-op threads of the trainer / eval process (0: LibTorch's default, one per core)", .range = Range{0, 4096}});
  }
};
}  // namespace grpo::cfg
