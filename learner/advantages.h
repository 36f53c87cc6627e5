// learner/advantages.h: group-relative advantages (GRPO) from per-completion rewards.
// Design: plain vectors, no torch: the rewards of one step are a few thousand doubles and
// the formulas must match TRL's exactly (unbiased std, eps added to the std, 1e-4).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace grpo::learner {

struct AdvantageStats {
  int64_t groups = 0;
  int64_t zero_signal_groups = 0;  // groups whose G rewards are all equal (no learning signal)
  double reward_mean = 0.0;        // over the completions given
  double reward_std = 0.0;         // unbiased, over the completions given
};

struct Advantages {
  std::vector<double> values;                 // one per completion, in input order
  std::vector<bool> group_zero_signal;        // one per group
  AdvantageStats stats;
};

// The moments scale_rewards=batch needs from every rank: sum, sum of squares, count.
struct RewardMoments {
  double sum = 0, sum_sq = 0, count = 0;
  double std_unbiased() const;
};

// rewards: completions grouped contiguously, G per group (rewards.size() % G == 0).
// scale_rewards: "group" -> (r - mean_g) / (std_g + eps); "batch" -> (r - mean_g) /
//   (std_batch + eps) with std over all completions (`batch` gives the global moments when
//   ranks hold parts of the batch; empty: this batch's own); "none" -> r - mean_g (Dr. GRPO).
// std is the unbiased (n - 1) estimate as in TRL (nanstd); a group of 1 has std 0 here.
// Throws grpo::Error when the size is not a multiple of G, G < 1, a reward is not
// finite, or scale_rewards is unknown.
Advantages compute_advantages(const std::vector<double>& rewards, int64_t group_size,
                              const std::string& scale_rewards, double eps = 1e-4,
                              const RewardMoments* batch = nullptr);

// Moments of `rewards` (for an all-reduce before compute_advantages with "batch").
RewardMoments reward_moments(const std::vector<double>& rewards);

// Indices of the groups that carry signal (not all rewards equal), for DAPO's dynamic
// sampling. Same preconditions as compute_advantages.
std::vector<int64_t> groups_with_signal(const std::vector<double>& rewards, int64_t group_size);

}  // namespace grpo::learner
