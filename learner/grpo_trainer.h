// learner/grpo_trainer.h: the GRPO training loop: prompts -> rollout -> rewards ->
// advantages -> update -> weight publication -> metrics -> checkpoints -> evaluation.
// Design: the loop owns the schedule and the bookkeeping (data position, steps, versions,
// checkpoints, metrics); where completions come from, how they are scored and where the
// prompts live are small interfaces, so `grpo train` plugs in the rollout client and the
// RewardSet while tests plug in deterministic in-process stand-ins and still run this
// exact loop (distributed and resumed). Generation is seeded from (run.seed, step, prompt
// row), so a resumed or re-sharded run draws the same completions.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "learner/optim.h"
#include "learner/policy_update.h"
#include "learner/run_options.h"
#include "rollout/completion.h"

namespace grpo {
class Metrics;
}
namespace grpo::models {
class CausalLM;
}

namespace grpo::learner {

class Distributed;

// One prompt of the training set, rendered and tokenised.
struct PromptItem {
  int64_t row = 0;                   // index in the data source
  std::string text;                  // rendered prompt
  rollout::SharedIds ids;            // its tokens (shared with the group's answers)
  nlohmann::json ground_truth = nlohmann::json::object();
};

// Training rows. Implementations must be deterministic: get(i) returns the same item on
// every call and every rank. Thread-safety: called from the training thread only.
class PromptSource {
 public:
  virtual ~PromptSource() = default;
  virtual int64_t size() const = 0;
  // Throws grpo::Error naming the row when it cannot be rendered.
  virtual PromptItem get(int64_t row) const = 0;
};

// Produces G completions per prompt with the current policy.
class CompletionSource {
 public:
  virtual ~CompletionSource() = default;
  // Returns prompts.size() groups of exactly `group_size` completions, in prompt order,
  // each holding its prompt's ids (prompts[i].ids) and its answers with their decoded text
  // and at least one token each. Sampling must be seeded from (run seed, step, prompt row)
  // so equal inputs give equal completions (reproducible and resumable runs). Throws
  // grpo::Error when generation fails.
  virtual std::vector<rollout::Group> generate(const std::vector<PromptItem>& prompts,
                                               int64_t group_size, int64_t step) = 0;
  // Called on every rank after each update with the new policy and its version; rank 0
  // pushes to remote workers (others may ignore it). Collective callers barrier after.
  virtual void publish(models::CausalLM& policy, int64_t version, bool is_main) {}
};

// Scores completions (prompt-major order: group i is completions [i*G, (i+1)*G)).
class CompletionScorer {
 public:
  virtual ~CompletionScorer() = default;
  // Returns one total reward per completion and adds per-reward metrics (means over
  // this batch, TRL names such as "rewards/accuracy/mean") to `metrics`.
  virtual std::vector<double> score(const std::vector<PromptItem>& prompts,
                                    const std::vector<rollout::Group>& groups,
                                    std::map<std::string, double>& metrics) = 0;
};

// The data cursor: an epoch-wise seeded permutation of the rows, consumed a global batch
// at a time; each rank takes its contiguous slice of each global batch. The position is
// (epoch, offset) and is saved per rank in checkpoints.
class PromptSampler {
 public:
  PromptSampler(int64_t num_rows, uint64_t seed, bool shuffle, int rank, int world_size);
  // Rows of this rank's slice of the next global batch of `global_batch` rows (a batch
  // may span an epoch boundary). global_batch must be a multiple of world_size.
  std::vector<int64_t> next(int64_t global_batch);
  int64_t epoch() const { return epoch_; }
  int64_t offset() const { return offset_; }
  nlohmann::json state() const;
  // Throws grpo::Error when the state was written for another row count or world size.
  void load_state(const nlohmann::json& s);

 private:
  const std::vector<int64_t>& order();
  int64_t n_;
  uint64_t seed_;
  bool shuffle_;
  int rank_, world_;
  int64_t epoch_ = 0, offset_ = 0;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
};

// The loop's settings (job/ builds them from the trainer, rollout, run and data sections;
// names in comments are the config keys).
struct GrpoOptions {
  int64_t max_steps = 100;             // trainer.max_steps
  int64_t prompts_per_step = 8;        // trainer.prompts_per_step, across all ranks
  int64_t group_size = 8;              // rollout.num_generations (G)
  std::string scale_rewards = "group"; // trainer.scale_rewards: group | batch | none
  bool dynamic_sampling = false;       // trainer.dynamic_sampling (DAPO)
  int64_t max_resample_rounds = 4;     // trainer.max_resample_rounds
  UpdateOptions update;                // one update's settings (device: the policy's)
  OptimOptions optim;                  // AdamW and schedule (total_steps: set by the loop)
  std::vector<std::string> freeze;     // trainer.freeze
  int64_t eval_steps = 0;              // trainer.eval_steps (0: no periodic evaluation)
  std::string resume;                  // checkpoint directory, "auto" or empty (fresh)
  RunOptions run;                      // outputs, logging, saving, data order
};

// Checks the settings the loop needs that clash with each other (batch not divisible by
// ranks or minibatches, dual clip inside the clip range, ...). Throws grpo::ConfigError
// listing every clash with its numbers (named by their config keys).
void validate_training(const GrpoOptions& o, int world_size);

struct TrainerDeps {
  models::CausalLM* policy = nullptr;  // trained in place
  models::CausalLM* ref = nullptr;     // frozen reference; needed when trainer.beta > 0
  PromptSource* data = nullptr;
  CompletionSource* rollout = nullptr;
  CompletionScorer* scorer = nullptr;
  Distributed* dist = nullptr;
  Metrics* metrics = nullptr;          // rank 0's sinks; may be null
  // Periodic evaluation (trainer.eval_steps), called on every rank with the step; rank 0's
  // returned scalars are logged with an "eval/" prefix. May be empty.
  std::function<std::map<std::string, double>(models::CausalLM& policy, int64_t step)> eval_hook;
  // Called on rank 0 after each step's metrics are computed (tests, custom logging).
  std::function<void(int64_t step, const std::map<std::string, double>&)> on_step;
  // Called on rank 0 with each checkpoint's directory before it is renamed into place, to
  // add the tokenizer, template and generation settings (grpo train does). May be empty.
  std::function<void(const std::string& dir)> checkpoint_files;
};

struct TrainResult {
  int64_t start_step = 0;  // steps already done when this run started (resume)
  int64_t steps_done = 0;  // steps completed at the end
  std::string last_checkpoint;
};

// Runs `max_steps` steps (resuming from `resume` when set: a checkpoint directory, or
// "auto" for the latest under output_dir). `stop_after` > 0 stops after that step (saving
// a checkpoint), as a crash would, for resume tests. Collective on all ranks. Throws
// grpo::Error / ConfigError with a clear message on bad settings or a failed step;
// checkpoints already written stay valid.
TrainResult train_grpo(const GrpoOptions& o, const TrainerDeps& deps, int64_t stop_after = -1);

}  // namespace grpo::learner
