// rewards/reward.h: the public reward API used by the learner, the pipeline and `grpo score`.
//
// A Reward scores one (prompt, completion, ground truth) sample; rewards are created by
// name from a registry (built-ins, C++ classes registered by users, the `plugin` shared
// library loader and the `remote` gRPC client all go through it). A RewardSet is the
// weighted list from the job config: it scores a whole batch in parallel, each reward on
// its own slots (rewards/deadline_runner.h), and keeps every component for metrics.
//
// Isolation is the main design choice: a reward that throws, overruns its timeout_s or
// returns NaN gives that sample its fallback_score, is counted per kind of failure and
// logged once per (reward, kind); RewardSet::score never throws because of a reward.
// A row whose ground truth a reward cannot use (e.g. `accuracy` with an answer that is
// not a number) is a data error: it scores 0 (never the fallback), is counted and is
// reported for that row.
//
// Torch-free: this library links grpo_core (and gRPC for `remote`) only.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/sections/rewards.h"

namespace grpo::rewards {

using Json = nlohmann::json;

// One item to score. `ground_truth` is the dataset row's ground-truth object, e.g.
// {"answer": "3/4"} or {"nums": [3, 5, 7], "target": 22}; rewards read the keys they need.
struct Sample {
  std::string prompt;
  std::string completion;  // decoded text exactly as scored (bytes; may be invalid UTF-8)
  Json ground_truth = Json::object();
};

// What a reward returns for one sample.
struct RewardResult {
  enum class Status {
    kOk,         // `score` is valid
    kDataError,  // the row's ground truth is unusable for this reward: scores 0, reported
    kThrown,     // per-item failure reported by a batched reward: fallback score
    kTimedOut,   // per-item deadline overrun reported by a batched reward: fallback score
  };
  double score = 0.0;
  Json details;  // optional explanation (null when none); may hold invalid UTF-8 bytes
  Status status = Status::kOk;
  std::string message;  // why, when status != kOk

  static RewardResult data_error(std::string why) {
    RewardResult r;
    r.status = Status::kDataError;
    r.message = std::move(why);
    return r;
  }
};

// A named scoring rule. Implementations must be thread-safe: RewardSet calls score()
// for many samples at once from pool threads. Failures are exceptions (any type); they
// never escape RewardSet::score.
class Reward {
 public:
  virtual ~Reward() = default;

  // Scores one sample. Throws on failure (counted as `thrown`, sample gets the fallback).
  virtual RewardResult score(const Sample& sample) const = 0;

  // True for rewards that prefer whole batches (the remote client). RewardSet then calls
  // score_batch once per batch instead of score() per sample.
  virtual bool batched() const { return false; }

  // Scores many samples; `timeout_s` is the reward's per-call deadline (the remote client
  // uses it as the gRPC deadline of each request). Returns exactly one result per sample,
  // in order; per-item failures go in RewardResult::status. Throws when the whole call
  // failed (every sample then gets the fallback). Default: score() in a loop.
  virtual std::vector<RewardResult> score_batch(std::span<const Sample> samples,
                                                double timeout_s) const;

  // How many calls of this reward RewardSet runs at once; 0 = RewardSetOptions::num_threads.
  // The code reward returns its sandbox's slots (programs run at once).
  virtual size_t slots() const { return 0; }
};

// ---------------------------------------------------------------------------------------
// Registry. Names are unique; built-ins: format, accuracy, code, countdown, length, repetition,
// plugin (shared library, see rewards/plugin_abi.h), remote (gRPC, proto/reward.proto).

// Builds a reward from its `args` object (from the config entry). Throws grpo::Error for
// bad args, naming the reward and the key.
using RewardFactory = std::function<std::unique_ptr<Reward>(const Json& args)>;

// Registers `factory` under `name`. Throws grpo::Error when the name is taken. Thread-safe.
void register_reward(const std::string& name, RewardFactory factory);

// Creates the reward registered as `name`. The caller owns the result. Throws grpo::Error
// for an unknown name (listing the known ones) or bad args. Thread-safe.
std::unique_ptr<Reward> make_reward(const std::string& name, const Json& args = Json::object());

// Every registered name, sorted. Thread-safe.
std::vector<std::string> reward_names();

// Registers a C++ reward class at static-initialisation time (put it in a .cpp that is
// linked into the executable, not into a static library the linker may drop):
//   GRPO_REGISTER_REWARD(my_rule, [](const grpo::rewards::Json& args) {
//     return std::make_unique<MyRule>(args); });
struct RewardRegistrar {
  RewardRegistrar(const char* name, RewardFactory factory) {
    register_reward(name, std::move(factory));
  }
};
#define GRPO_REWARD_CONCAT2(a, b) a##b
#define GRPO_REWARD_CONCAT(a, b) GRPO_REWARD_CONCAT2(a, b)
#define GRPO_REGISTER_REWARD(name, ...)                                                         \
  static ::grpo::rewards::RewardRegistrar GRPO_REWARD_CONCAT(grpo_reward_registrar_, __LINE__)( \
      #name, __VA_ARGS__)

// ---------------------------------------------------------------------------------------
// RewardSet: the weighted list of rewards of a job.

// Failures of one reward over one batch.
struct FailureCounts {
  int64_t thrown = 0;
  int64_t timed_out = 0;
  int64_t nan = 0;
  int64_t data_errors = 0;
  int64_t total() const { return thrown + timed_out + nan + data_errors; }
};

// The scores of one batch of N samples by R rewards.
struct BatchScores {
  std::vector<std::string> names;                // [R] component names (config order)
  std::vector<double> weights;                   // [R]
  std::vector<double> total;                     // [N] sum_r weight_r * components[r][i]
  std::vector<std::vector<double>> components;   // [R][N] score after fallback / data error
  std::vector<std::vector<Json>> details;        // [R][N] each reward's details (or null)
  std::vector<FailureCounts> failures;           // [R]
  std::vector<bool> data_error;                  // [N] some reward found the row unusable
  std::vector<std::vector<std::string>> errors;  // [N] "name: message" for every failure

  // Metrics for one step, TRL-style names: "reward", "reward_std", "rewards/<name>/mean",
  // "rewards/<name>/std", and "rewards/<name>/{thrown,timed_out,nan,data_errors}".
  std::map<std::string, double> metrics() const;
};

struct RewardSetOptions {
  size_t num_threads = 0;     // calls of one reward at once; 0 = hardware concurrency, >= 4
  size_t max_abandoned = 64;  // per reward: timed-out calls still running past which their
                              // slots are no longer replaced (see rewards/deadline_runner.h)
};

class RewardSet {
 public:
  // A reward already built, with its weight and isolation settings.
  struct Component {
    std::string name;  // metric / output name
    std::shared_ptr<const Reward> reward;
    double weight = 1.0;
    double timeout_s = 10.0;
    double fallback_score = 0.0;
  };

  // Builds every entry through the registry. A component is named by args.label when
  // that is a string, else by its reward name; repeated names get "_2", "_3", ...
  // Throws grpo::Error (unknown reward, bad args, empty list) naming the entry index.
  explicit RewardSet(const std::vector<cfg::RewardEntry>& entries, RewardSetOptions options = {});
  explicit RewardSet(std::vector<Component> components, RewardSetOptions options = {});
  // Stops the idle threads; calls abandoned after a timeout that are still running are
  // left to finish on their own (their threads are detached).
  ~RewardSet();
  RewardSet(const RewardSet&) = delete;
  RewardSet& operator=(const RewardSet&) = delete;

  // Scores every sample with every reward, in parallel: each reward has its own slots
  // (Reward::slots() or RewardSetOptions::num_threads), so a slow or stuck reward never
  // delays another. Never throws because of a reward's failure. A call that runs past
  // its timeout_s is abandoned (fallback score, counted as timed_out) and its slot is
  // given to a fresh thread, so one call of a reward takes at most timeout_s and the
  // whole batch at most max over rewards of timeout_s * ceil(calls / slots) (+ ~1 ms),
  // where calls = N (1 for a batched reward, whose limit is 2 * timeout_s + 1). When
  // max_abandoned calls of a reward are stuck for good, its calls are refused at once
  // (timed_out, "not started"). Thread-safe (concurrent calls share the slots).
  BatchScores score(std::vector<Sample> batch) const;

  const std::vector<Component>& components() const { return components_; }

 private:
  struct Shared;
  void init(std::vector<Component> components, RewardSetOptions options);
  std::vector<Component> components_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace grpo::rewards
