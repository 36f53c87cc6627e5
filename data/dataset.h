// data/dataset.h: JSONL task datasets and the seeded sampler that walks them.
// Design: a Dataset is an immutable vector of validated JSON rows (a `math` row has a
// string "prompt" and an "answer"; a `countdown` row has integer "nums" and a numeric
// "target"); every bad row is a grpo::Error naming file:line. The Sampler owns only the
// walk (seed, epoch, index) so its position is a small JSON object the learner saves in
// its checkpoint and restores bit-exactly; the permutation of epoch e is a pure function
// of (seed, e) computed with our own Fisher-Yates over splitmix64 (portable across
// standard libraries, unlike std::shuffle).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace grpo::data {

using Json = nlohmann::json;

// Reads a JSONL file: one JSON object per non-blank line. Throws grpo::Error naming
// path:line for unreadable files, malformed JSON or a value that is not an object.
std::vector<Json> read_jsonl(const std::string& path);
// Writes rows as JSONL (one compact object per line) atomically (temp file + rename).
// Throws grpo::Error naming the path on I/O failure.
void write_jsonl(const std::string& path, const std::vector<Json>& rows);

// Task kinds. math: {"prompt": str, "answer": str|number}; countdown: {"nums": [int],
// "target": number}. Extra keys are kept (templates may use them).
enum class Task { kMath, kCountdown };
// "math" | "countdown" -> Task; throws grpo::Error listing the choices otherwise.
Task parse_task(const std::string& name);
const char* task_name(Task t);

// Checks one row for `task`; returns "" when valid, else what is wrong ("no \"answer\"").
std::string row_problem(Task task, const Json& row);

// The ground-truth object the rewards read: math {"answer"}, countdown {"nums","target"}.
Json ground_truth(Task task, const Json& row);

// An immutable, validated set of rows. Thread-safe to read.
class Dataset {
 public:
  // Loads and validates every row of `path` for `task`. Throws grpo::Error
  // "<path>:<line>: <problem>" for the first bad row, or when the file has no rows.
  static Dataset load(const std::string& path, Task task);
  // From rows already in memory (`origin` names them in errors); validates like load().
  static Dataset from_rows(std::vector<Json> rows, Task task, const std::string& origin = "<rows>");

  size_t size() const { return rows_.size(); }
  const Json& row(size_t i) const { return rows_.at(i); }
  const std::vector<Json>& rows() const { return rows_; }
  Task task() const { return task_; }
  const std::string& origin() const { return origin_; }

 private:
  std::vector<Json> rows_;
  Task task_ = Task::kMath;
  std::string origin_;
};

// Seeded walk over [0, n): epoch after epoch, each a fresh permutation (or the identity
// when shuffle is false). Not thread-safe; one per rank.
class Sampler {
 public:
  // n must be > 0 (grpo::Error otherwise).
  Sampler(size_t n, uint64_t seed, bool shuffle = true);

  // The next `count` indices, crossing epoch boundaries as needed.
  std::vector<size_t> next(size_t count);
  // {"seed", "epoch", "index", "n", "shuffle"}: enough to continue exactly.
  Json state() const;
  // Continues from a state() of a sampler over the same n; throws grpo::Error naming the
  // key when the state is malformed or was taken over a different dataset size.
  void restore(const Json& state);

  int64_t epoch() const { return epoch_; }
  size_t index() const { return index_; }

 private:
  void build_order();
  size_t n_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0;
  size_t index_ = 0;  // position within the current epoch's order
  std::vector<size_t> order_;
};

// The permutation of [0, n) that Sampler uses for (seed, epoch). Pure function.
std::vector<size_t> epoch_permutation(size_t n, uint64_t seed, int64_t epoch);

}  // namespace grpo::data
