// core/metrics.h: per-step scalar metrics fanned out to sinks (JSONL, TensorBoard event
// file, console). One call records every scalar of a step. Thread-safe.
#pragma once
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

namespace grpo {

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // Records the scalars of one step. Implementations flush so a crash loses nothing.
  virtual void write(int64_t step, const std::map<std::string, double>& scalars) = 0;
};

// Appends {"step": s, "time": t, "<name>": value, ...} lines to a file.
std::unique_ptr<MetricsSink> make_jsonl_sink(const std::string& path);
// Writes TensorBoard events to <dir>/events.out.tfevents.<time>.<host>.grpo.
std::unique_ptr<MetricsSink> make_tensorboard_sink(const std::string& dir);

class Metrics {
 public:
  void add_sink(std::unique_ptr<MetricsSink> sink);
  // Sends `scalars` for `step` to every sink. Thread-safe.
  void log(int64_t step, const std::map<std::string, double>& scalars);
  // Standard sinks for a run's output directory: metrics.jsonl and tb/. A resumed run
  // (`append`) adds to them; a fresh run in a used directory first renames the old ones to
  // metrics.<n>.jsonl and tb.<n>/ (n = 1, 2, ...), so two runs never mix in one file or
  // TensorBoard run and nothing already written is lost.
  static Metrics for_run(const std::string& output_dir, bool jsonl, bool tensorboard, bool append = false);

 private:
  std::vector<std::shared_ptr<MetricsSink>> sinks_;
  std::shared_ptr<std::mutex> mu_;
};

}  // namespace grpo
