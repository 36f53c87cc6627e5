// core/progress.h: progress of long work. On a terminal: a one-line bar redrawn in place
// with step, ETA and rate; otherwise (logs, CI) a plain line every `every_s` seconds and
// at the end. Not thread-safe: drive it from one thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace grpo {

class Progress {
 public:
  enum class Mode { kAuto, kBar, kLines, kOff };
  // total: steps expected (0: unknown); unit: what the rate counts ("tok", "rows").
  Progress(std::string label, int64_t total, std::string unit = "it", Mode mode = Mode::kAuto,
           double every_s = 10.0);
  ~Progress();
  // Advances by `steps`; `work` adds to the rate's numerator (e.g. tokens this step).
  void update(int64_t steps = 1, double work = -1, const std::string& extra = "");
  // Prints the final line.
  void finish(const std::string& extra = "");
  static Mode parse_mode(const std::string& s);  // auto|bar|lines|off

  // "1h02m", "3m07s", "12s"
  static std::string format_duration(double seconds);

 private:
  void render(bool final, const std::string& extra);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  double work_ = 0;
  Mode mode_;
  double every_s_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace grpo
