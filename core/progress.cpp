// core/progress.cpp: see progress.h.
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace grpo {

Progress::Progress(std::string label, int64_t total, std::string unit, Mode mode, double every_s)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), mode_(mode), every_s_(every_s) {
  if (mode_ == Mode::kAuto) mode_ = ::isatty(STDERR_FILENO) ? Mode::kBar : Mode::kLines;
  start_ = last_print_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_ && done_ > 0) finish();
}

Progress::Mode Progress::parse_mode(const std::string& s) {
  if (s == "bar") return Mode::kBar;
  if (s == "lines") return Mode::kLines;
  if (s == "off") return Mode::kOff;
  return Mode::kAuto;
}

std::string Progress::format_duration(double s) {
  if (s < 0 || s != s) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", (long)(t / 3600), (long)(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", (long)(t / 60), (long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%lds", (long)t);
  return buf;
}

void Progress::update(int64_t steps, double work, const std::string& extra) {
  done_ += steps;
  work_ += work >= 0 ? work : static_cast<double>(steps);
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  if (mode_ == Mode::kBar && since >= 0.1) render(false, extra);
  else if (mode_ == Mode::kLines && since >= every_s_) render(false, extra);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  render(true, extra);
}

void Progress::render(bool final, const std::string& extra) {
  if (mode_ == Mode::kOff) return;
  auto now = std::chrono::steady_clock::now();
  last_print_ = now;
  double el = std::chrono::duration<double>(now - start_).count();
  double rate = el > 0 ? work_ / el : 0;
  double eta = (total_ > 0 && done_ > 0) ? el * static_cast<double>(total_ - done_) / done_ : -1;
  std::ostringstream os;
  os << label_ << " " << done_;
  if (total_ > 0) os << "/" << total_;
  char r[64];
  std::snprintf(r, sizeof r, " | %.1f %s/s", rate, unit_.c_str());
  os << r << " | elapsed " << format_duration(el);
  if (!final && eta >= 0) os << " | ETA " << format_duration(eta);
  if (!extra.empty()) os << " | " << extra;
  if (mode_ == Mode::kBar) {
    std::string bar;
    if (total_ > 0) {
      int w = 24, fill = static_cast<int>(w * std::min<double>(1.0, double(done_) / total_));
      bar = "[" + std::string(fill, '#') + std::string(w - fill, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[2K%s%s%s", bar.c_str(), os.str().c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", os.str().c_str());
  }
  std::fflush(stderr);
}

}  // namespace grpo
