// learner/advantages.cpp: group statistics and advantages; see advantages.h.
// Reference: TRL GRPOTrainer._generate_and_score_completions (sum_then_normalize branch).
#include "learner/advantages.h"

#include <cmath>

#include "core/error.h"

namespace grpo::learner {
namespace {

void check_shape(const std::vector<double>& rewards, int64_t g) {
  GRPO_ENSURE(g >= 1, "group size must be >= 1, got ", g);
  GRPO_ENSURE(rewards.size() % static_cast<size_t>(g) == 0, "got ", rewards.size(),
              " rewards, not a multiple of the group size ", g);
  for (size_t i = 0; i < rewards.size(); ++i) {
    GRPO_ENSURE(std::isfinite(rewards[i]), "reward of completion ", i, " is not finite (",
                rewards[i], ")");
  }
}

// Unbiased std of x[b, b+n).
double std_unbiased(const std::vector<double>& x, size_t b, size_t n, double mean) {
  if (n < 2) return 0.0;
  double s = 0;
  for (size_t i = b; i < b + n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return std::sqrt(s / static_cast<double>(n - 1));
}

bool all_equal(const std::vector<double>& x, size_t b, size_t n) {
  for (size_t i = b + 1; i < b + n; ++i) {
    if (x[i] != x[b]) return false;
  }
  return true;
}

}  // namespace

double RewardMoments::std_unbiased() const {
  if (count < 2) return 0.0;
  double mean = sum / count;
  double var = (sum_sq - count * mean * mean) / (count - 1);
  return var > 0 ? std::sqrt(var) : 0.0;
}

RewardMoments reward_moments(const std::vector<double>& rewards) {
  RewardMoments m;
  for (double r : rewards) {
    m.sum += r;
    m.sum_sq += r * r;
    m.count += 1;
  }
  return m;
}

Advantages compute_advantages(const std::vector<double>& rewards, int64_t group_size,
                              const std::string& scale_rewards, double eps,
                              const RewardMoments* batch) {
  check_shape(rewards, group_size);
  GRPO_ENSURE(scale_rewards == "group" || scale_rewards == "batch" || scale_rewards == "none",
              "trainer.scale_rewards: unknown value '", scale_rewards,
              "' (expected group, batch or none)");
  const size_t g = static_cast<size_t>(group_size);
  const size_t n = rewards.size();
  Advantages out;
  out.values.resize(n);
  out.stats.groups = static_cast<int64_t>(n / g);
  double total = 0;
  for (double r : rewards) total += r;
  out.stats.reward_mean = n ? total / static_cast<double>(n) : 0.0;
  out.stats.reward_std = std_unbiased(rewards, 0, n, out.stats.reward_mean);
  double batch_std = out.stats.reward_std;
  if (scale_rewards == "batch" && batch != nullptr) {
    // Two-pass std here, one-pass from moments across ranks: equal up to rounding.
    batch_std = batch->std_unbiased();
  }
  for (size_t b = 0; b < n; b += g) {
    double mean = 0;
    for (size_t i = b; i < b + g; ++i) mean += rewards[i];
    mean /= static_cast<double>(g);
    bool zero = all_equal(rewards, b, g);
    out.group_zero_signal.push_back(zero);
    if (zero) ++out.stats.zero_signal_groups;
    double scale = 1.0;
    if (scale_rewards == "group") scale = 1.0 / (std_unbiased(rewards, b, g, mean) + eps);
    if (scale_rewards == "batch") scale = 1.0 / (batch_std + eps);
    // A group of equal rewards has no signal: its advantages are exactly 0 (the mean of
    // equal doubles can be off by an ulp), so the learner can tell them apart.
    for (size_t i = b; i < b + g; ++i) out.values[i] = zero ? 0.0 : (rewards[i] - mean) * scale;
  }
  return out;
}

std::vector<int64_t> groups_with_signal(const std::vector<double>& rewards, int64_t group_size) {
  check_shape(rewards, group_size);
  std::vector<int64_t> keep;
  const size_t g = static_cast<size_t>(group_size);
  for (size_t b = 0; b < rewards.size(); b += g) {
    if (!all_equal(rewards, b, g)) keep.push_back(static_cast<int64_t>(b / g));
  }
  return keep;
}

}  // namespace grpo::learner
