// core/metrics.cpp: the JSONL and TensorBoard sinks.
#include "core/metrics.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/tfrecord.h"

namespace grpo {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class JsonlSink final : public MetricsSink {
 public:
  explicit JsonlSink(const std::string& path) : path_(path), out_(path, std::ios::app) {
    if (!out_) throw Error(str("cannot open metrics file '", path, "'"));
  }
  void write(int64_t step, const std::map<std::string, double>& scalars) override {
    nlohmann::json j;
    j["step"] = step;
    j["time"] = now_s();
    for (const auto& [k, v] : scalars) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    out_ << j.dump() << "\n";
    out_.flush();
  }

 private:
  std::string path_;
  std::ofstream out_;
};

class TensorBoardSink final : public MetricsSink {
 public:
  explicit TensorBoardSink(const std::string& dir) {
    std::filesystem::create_directories(dir);
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    path_ = str(dir, "/events.out.tfevents.", static_cast<int64_t>(now_s()), ".", host, ".", ::getpid(), ".grpo");
    out_.open(path_, std::ios::binary | std::ios::app);
    if (!out_) throw Error(str("cannot open TensorBoard event file '", path_, "'"));
    out_ << tfrecord::frame(tfrecord::encode_version_event(now_s()));
    out_.flush();
  }
  void write(int64_t step, const std::map<std::string, double>& scalars) override {
    std::vector<std::pair<std::string, float>> v;
    v.reserve(scalars.size());
    for (const auto& [k, x] : scalars) v.emplace_back(k, static_cast<float>(x));
    out_ << tfrecord::frame(tfrecord::encode_scalar_event(now_s(), step, v));
    out_.flush();
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// A fresh run must not mix its metrics with an earlier run's in the same directory, nor
// lose them: an existing non-empty `path` (the JSONL file or the tb/ folder) is renamed to
// <stem>.<n><ext> with the first free n.
void set_aside(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) return;
  if (fs::is_directory(p, ec) ? fs::is_empty(p, ec) : fs::file_size(p, ec) == 0) return;
  for (int n = 1;; ++n) {
    const fs::path to = p.parent_path() / str(p.stem().string(), ".", n, p.extension().string());
    if (fs::exists(to, ec)) continue;
    fs::rename(p, to, ec);
    if (ec) throw Error(str("cannot rename the previous run's '", path, "' to '", to.string(), "': ", ec.message()));
    log::info(str("metrics: the previous run's ", path, " was moved to ", to.string()));
    return;
  }
}

}  // namespace

std::unique_ptr<MetricsSink> make_jsonl_sink(const std::string& path) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  return std::make_unique<JsonlSink>(path);
}

std::unique_ptr<MetricsSink> make_tensorboard_sink(const std::string& dir) {
  return std::make_unique<TensorBoardSink>(dir);
}

void Metrics::add_sink(std::unique_ptr<MetricsSink> sink) {
  if (!mu_) mu_ = std::make_shared<std::mutex>();
  sinks_.push_back(std::move(sink));
}

void Metrics::log(int64_t step, const std::map<std::string, double>& scalars) {
  if (!mu_) return;
  std::lock_guard<std::mutex> lock(*mu_);
  for (auto& s : sinks_) s->write(step, scalars);
}

Metrics Metrics::for_run(const std::string& output_dir, bool jsonl, bool tensorboard, bool append) {
  Metrics m;
  const std::string jsonl_path = output_dir + "/metrics.jsonl", tb_dir = output_dir + "/tb";
  if (!append) {
    if (jsonl) set_aside(jsonl_path);
    if (tensorboard) set_aside(tb_dir);
  }
  if (jsonl) m.add_sink(make_jsonl_sink(jsonl_path));
  if (tensorboard) m.add_sink(make_tensorboard_sink(tb_dir));
  return m;
}

}  // namespace grpo
