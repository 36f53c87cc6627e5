// data/dataset.cpp: JSONL reading/writing, row validation per task, and the seeded
// sampler (see dataset.h for the design).
#include "data/dataset.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace grpo::data {

std::vector<Json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  GRPO_ENSURE(in.good(), "cannot open JSONL file '", path, "'");
  std::vector<Json> rows;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::parse_error& e) {
      throw Error(str(path, ":", lineno, ": malformed JSON: ", e.what()));
    }
    GRPO_ENSURE(j.is_object(), path, ":", lineno, ": expected a JSON object, got ", j.type_name());
    rows.push_back(std::move(j));
  }
  return rows;
}

void write_jsonl(const std::string& path, const std::vector<Json>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += r.dump(-1, ' ', false, Json::error_handler_t::replace);
    out += '\n';
  }
  fs::write_atomic(path, out);
}

Task parse_task(const std::string& name) {
  if (name == "math") return Task::kMath;
  if (name == "countdown") return Task::kCountdown;
  throw Error(str("unknown task '", name, "' (expected math or countdown)"));
}

const char* task_name(Task t) { return t == Task::kMath ? "math" : "countdown"; }

std::string row_problem(Task task, const Json& row) {
  if (!row.is_object()) return "row is not a JSON object";
  if (task == Task::kMath) {
    if (!row.contains("prompt")) return "math row has no \"prompt\"";
    if (!row["prompt"].is_string()) return "math row \"prompt\" is not a string";
    if (!row.contains("answer")) return "math row has no \"answer\"";
    const Json& a = row["answer"];
    if (!a.is_string() && !a.is_number()) return "math row \"answer\" is not a string or number";
    return "";
  }
  if (!row.contains("nums") || !row["nums"].is_array() || row["nums"].empty()) {
    return "countdown row needs \"nums\": a non-empty array of integers";
  }
  for (const auto& n : row["nums"]) {
    if (!n.is_number_integer() || n.get<int64_t>() < 0) {
      return str("countdown \"nums\" holds ", n.dump(), ", not a non-negative integer");
    }
  }
  if (!row.contains("target") || !row["target"].is_number()) {
    return "countdown row needs a numeric \"target\"";
  }
  return "";
}

Json ground_truth(Task task, const Json& row) {
  if (task == Task::kMath) return Json{{"answer", row.at("answer")}};
  return Json{{"nums", row.at("nums")}, {"target", row.at("target")}};
}

Dataset Dataset::load(const std::string& path, Task task) {
  // Re-read line numbers so errors name path:line (blank lines are skipped by read_jsonl).
  std::ifstream in(path);
  GRPO_ENSURE(in.good(), "cannot open dataset '", path, "'");
  Dataset d;
  d.task_ = task;
  d.origin_ = path;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::parse_error& e) {
      throw Error(str(path, ":", lineno, ": malformed JSON: ", e.what()));
    }
    std::string why = row_problem(task, j);
    GRPO_ENSURE(why.empty(), path, ":", lineno, ": ", why, " (task ", task_name(task), ")");
    d.rows_.push_back(std::move(j));
  }
  GRPO_ENSURE(!d.rows_.empty(), "dataset '", path, "' has no rows");
  return d;
}

Dataset Dataset::from_rows(std::vector<Json> rows, Task task, const std::string& origin) {
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string why = row_problem(task, rows[i]);
    GRPO_ENSURE(why.empty(), origin, ": row ", i, ": ", why, " (task ", task_name(task), ")");
  }
  GRPO_ENSURE(!rows.empty(), "dataset '", origin, "' has no rows");
  Dataset d;
  d.rows_ = std::move(rows);
  d.task_ = task;
  d.origin_ = origin;
  return d;
}

namespace {
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<size_t> epoch_permutation(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  uint64_t s = seed * 0x2545F4914F6CDD1Dull + static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = n; i > 1; --i) {
    // Unbiased enough for dataset sizes far below 2^64 (modulo bias < n / 2^64).
    size_t j = static_cast<size_t>(splitmix64(s) % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

Sampler::Sampler(size_t n, uint64_t seed, bool shuffle) : n_(n), seed_(seed), shuffle_(shuffle) {
  GRPO_ENSURE(n > 0, "cannot sample from an empty dataset");
  build_order();
}

void Sampler::build_order() {
  if (shuffle_) {
    order_ = epoch_permutation(n_, seed_, epoch_);
  } else {
    order_.resize(n_);
    for (size_t i = 0; i < n_; ++i) order_[i] = i;
  }
}

std::vector<size_t> Sampler::next(size_t count) {
  std::vector<size_t> out;
  out.reserve(count);
  while (out.size() < count) {
    if (index_ == n_) {
      ++epoch_;
      index_ = 0;
      build_order();
    }
    out.push_back(order_[index_++]);
  }
  return out;
}

Json Sampler::state() const {
  return Json{{"seed", seed_}, {"epoch", epoch_}, {"index", index_}, {"n", n_}, {"shuffle", shuffle_}};
}

void Sampler::restore(const Json& st) {
  for (const char* k : {"seed", "epoch", "index", "n", "shuffle"}) {
    GRPO_ENSURE(st.is_object() && st.contains(k), "data position: missing key '", k, "' in ", st.dump());
  }
  size_t n = st["n"].get<size_t>();
  GRPO_ENSURE(n == n_, "data position was saved over ", n, " rows but the dataset has ", n_);
  size_t index = st["index"].get<size_t>();
  GRPO_ENSURE(index <= n_, "data position index ", index, " exceeds the dataset size ", n_);
  seed_ = st["seed"].get<uint64_t>();
  epoch_ = st["epoch"].get<int64_t>();
  shuffle_ = st["shuffle"].get<bool>();
  index_ = index;
  build_order();
}

}  // namespace grpo::data
