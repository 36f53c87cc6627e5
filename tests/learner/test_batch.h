// tests/learner/test_batch.h: answers with prompts of their own, held as rollout groups of
// one (as the learner receives them), for the update and parity tests.
#pragma once
#include <cstdint>
#include <vector>

#include "learner/policy_update.h"
#include "rollout/completion.h"

namespace grpo::test {

struct TestBatch {
  std::vector<rollout::Group> groups;
  std::vector<double> advantages;

  // Adds one answer `tokens` to `prompt` with advantage `adv` (and the worker's log-probs).
  void add(std::vector<int32_t> prompt, std::vector<int32_t> tokens, double adv,
           bool truncated = false, std::vector<float> logps = {}) {
    rollout::Completion c;
    c.tokens = std::move(tokens);
    c.logprobs = std::move(logps);
    c.finish = truncated ? rollout::FinishReason::kLength : rollout::FinishReason::kEos;
    groups.push_back({rollout::share_ids(std::move(prompt)), {std::move(c)}});
    advantages.push_back(adv);
  }
  // The learner's view; valid while this batch lives and is not changed.
  std::vector<learner::Sample> view() const { return learner::samples_of(groups, advantages); }
  size_t size() const { return advantages.size(); }
};

}  // namespace grpo::test
