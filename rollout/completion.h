// rollout/completion.h: what a rollout produces, one type from the engine to the learner.
//
//   Group g = groups[p];                 // prompt p of a generate() call
//   const TokenIds& prompt = *g.prompt;  // held once, shared by the group's samples
//   for (const Completion& c : g.samples) learn(prompt, c.tokens, c.logprobs);
//
// Design: token ids are int32 everywhere from the tokenizer to the learner's input (the
// learner widens to int64 only when it builds tensors). A group's prompt ids live in one
// shared, immutable vector that the data source, the rollout client and the learner all
// point at, so a group of G answers does not copy its prompt G times. Torch-free: this
// header is included by the learner, the client, the worker and the tests alike.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace grpo::rollout {

using TokenIds = std::vector<int32_t>;
// Immutable shared token ids (a prompt). Thread-safe to read from many threads.
using SharedIds = std::shared_ptr<const TokenIds>;

inline SharedIds share_ids(TokenIds ids) { return std::make_shared<const TokenIds>(std::move(ids)); }

enum class FinishReason { kStop = 1, kLength = 2, kEos = 3 };
const char* finish_reason_name(FinishReason r);  // "stop" | "length" | "eos"

// One sampled answer.
struct Completion {
  int64_t prompt_index = 0;     // the caller's index of its prompt
  int64_t sample_index = 0;     // 0..G-1 within its group
  TokenIds tokens;              // generated ids (stop string / EOS included)
  std::vector<float> logprobs;  // one per token: log_softmax(logits / T)[token] (may be empty)
  FinishReason finish = FinishReason::kLength;
  uint64_t policy_version = 0;  // the weights that produced it (set by the worker)
  std::string text;             // decoded answer, filled by whoever holds the tokenizer

  // Stopped by max_new_tokens rather than by a stop string or EOS.
  bool truncated() const { return finish == FinishReason::kLength; }
};

// A prompt and its G answers, sorted by sample_index.
struct Group {
  SharedIds prompt;
  std::vector<Completion> samples;
};

}  // namespace grpo::rollout
