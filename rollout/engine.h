// rollout/engine.h: the generation engine: batched decoding of many sequences over the
// model's slot KV cache, with prompt sharing for groups and continuous batching.
// Design: work arrives as groups (one prompt, G samples). Admission prefills a prompt once
// (B = 1) and copy_slot()s it into the other samples' slots (a group larger than the free
// slots keeps its prefix in one extra staging slot until its last sample is admitted, so
// it is still prefilled once); every step then decodes one
// token for all running sequences at once ([B, 1] -> [B, V]) and samples per row with the
// sequence's own random stream (rollout/sampler.h), so completions do not depend on which
// sequences share a batch. Finished sequences leave at once and waiting ones take their
// slots (continuous batching); with `continuous = false` a new batch is admitted only when
// the previous one has drained (static batching, for comparison).
// Threading: submit/cancel/counters are thread-safe; step() is called by one driver thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "rollout/completion.h"
#include "rollout/sampler.h"

namespace grpo::models {
class CausalLM;
class KVCache;
}  // namespace grpo::models

namespace grpo::rollout {

// Text of generated ids, used only for stop strings (e.g. a Tokenizer::decode wrapper).
// Must be thread-compatible with the engine's driver thread.
using DecodeFn = std::function<std::string(std::span<const int32_t>)>;

struct EngineOptions {
  int64_t max_batch_seqs = 64;  // KV-cache slots = sequences decoded at once
  bool continuous = true;       // false: static batches (admit only into an empty batch)
  DecodeFn decode;              // required when a request has stop strings
};

// One prompt and its G samples. `params` is shared by the groups of one call.
struct GroupRequest {
  std::vector<int32_t> prompt;  // token ids, non-empty, each in [0, vocab)
  int64_t prompt_index = 0;     // echoed in the completions
  int64_t group_size = 1;       // G
  std::shared_ptr<const SamplingParams> params;
};

class Engine {
 public:
  // Called on the driver thread for each finished completion of a submission.
  using Sink = std::function<void(Completion&&)>;
  // Called on the driver thread if the submission fails (model error); no more completions.
  using ErrorSink = std::function<void(const std::string&)>;

  // `model` must outlive the engine; the engine is its only user while step() runs.
  Engine(models::CausalLM& model, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks and queues `groups` (grpo::Error for an empty prompt, ids outside the vocabulary,
  // bad sampling settings, stop strings without a decode function). Returns a ticket.
  // Thread-safe.
  uint64_t submit(std::vector<GroupRequest> groups, Sink sink, ErrorSink on_error = {});
  // Drops the ticket's waiting and running sequences; its sink is not called again.
  // Thread-safe (takes effect at the next step).
  void cancel(uint64_t ticket);
  // While paused no new sequences start; running ones go on. Thread-safe.
  void set_admission_paused(bool paused);

  // Admits waiting work into free slots, then decodes one token for every running
  // sequence. Returns false when there was nothing to do. Exceptions from the model go
  // to the ErrorSink of every affected submission (and those sequences are dropped).
  // Driver thread only.
  bool step();

  int64_t num_running() const;   // thread-safe
  int64_t num_waiting() const;   // sequences not yet admitted; thread-safe
  int64_t capacity() const { return options_.max_batch_seqs; }
  int64_t vocab_size() const { return vocab_; }

  // Convenience for one caller: submits and steps until done; completions sorted by
  // (prompt_index, sample_index). Throws grpo::Error on failure. Not for use while another
  // thread drives step().
  std::vector<Completion> generate(std::vector<GroupRequest> groups);

 private:
  struct Seq;
  struct Ticket;
  struct Waiting;
  bool admit();  // true if any sequence started
  void finish(Seq& s, FinishReason r);
  bool check_stop(Seq& s, int64_t token);
  void fail_all(const std::string& msg);
  void ensure_cache(int64_t need_len);
  void drop_staged();  // driver thread

  models::CausalLM& model_;
  EngineOptions options_;
  int64_t vocab_ = 0;
  std::unique_ptr<models::KVCache> cache_;
  int64_t cache_len_ = 0;

  mutable std::mutex mu_;  // guards waiting_, tickets_, cancelled_, paused_
  std::deque<Waiting> waiting_;
  std::vector<std::shared_ptr<Ticket>> tickets_;
  std::vector<uint64_t> cancelled_;
  bool paused_ = false;
  uint64_t next_ticket_ = 1;

  bool drop_staged_ = false;  // guarded by mu_: set by a pause, applied by the driver

  // Driver-thread state.
  std::vector<std::unique_ptr<Seq>> running_;  // index = slot (nullptr: free)
  // The front waiting group when only some of its samples are running: its prefilled
  // prompt sits in cache slot max_batch_seqs and its first-token logits here.
  std::shared_ptr<const GroupRequest> staged_group_;
  at::Tensor staged_logits_;  // [1, V]
  std::atomic<int64_t> n_running_{0};
};

}  // namespace grpo::rollout
