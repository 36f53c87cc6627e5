// tests/learner/advantages_test.cpp: group-relative advantages against hand-computed values
// (unbiased std and eps = 1e-4, as TRL computes them).
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "learner/advantages.h"

using grpo::learner::compute_advantages;

namespace {
const std::vector<double> kRewards = {1, 0, 1, 1};  // two groups of G = 2
}

TEST(Advantages, GroupScalingDividesByGroupStdPlusEps) {
  auto a = compute_advantages(kRewards, 2, "group");
  const double s = std::sqrt(0.5);  // unbiased std of {1, 0}
  EXPECT_NEAR(a.values[0], 0.5 / (s + 1e-4), 1e-12);
  EXPECT_NEAR(a.values[1], -0.5 / (s + 1e-4), 1e-12);
  EXPECT_EQ(a.values[2], 0.0);
  EXPECT_EQ(a.values[3], 0.0);
  EXPECT_EQ(a.stats.groups, 2);
  EXPECT_EQ(a.stats.zero_signal_groups, 1);
  EXPECT_FALSE(a.group_zero_signal[0]);
  EXPECT_TRUE(a.group_zero_signal[1]);
  EXPECT_NEAR(a.stats.reward_mean, 0.75, 1e-12);
  EXPECT_NEAR(a.stats.reward_std, 0.5, 1e-12);  // unbiased std of {1,0,1,1}
}

TEST(Advantages, BatchScalingUsesTheStdOfTheWholeBatch) {
  auto a = compute_advantages(kRewards, 2, "batch");
  EXPECT_NEAR(a.values[0], 0.5 / (0.5 + 1e-4), 1e-12);
  EXPECT_NEAR(a.values[1], -0.5 / (0.5 + 1e-4), 1e-12);
  // Global moments given by the caller (other ranks' rewards) take precedence.
  grpo::learner::RewardMoments m = grpo::learner::reward_moments({1, 0, 1, 1, 0, 0, 0, 0});
  auto b = compute_advantages(kRewards, 2, "batch", 1e-4, &m);
  const double s = std::sqrt((3.0 - 8 * (3.0 / 8) * (3.0 / 8)) / 7.0);
  EXPECT_NEAR(b.values[0], 0.5 / (s + 1e-4), 1e-12);
}

TEST(Advantages, NoScalingOnlySubtractsTheGroupMean) {
  auto a = compute_advantages({3, 1, 2, 2, 2, 5}, 3, "none");
  EXPECT_NEAR(a.values[0], 1.0, 1e-12);
  EXPECT_NEAR(a.values[1], -1.0, 1e-12);
  EXPECT_NEAR(a.values[2], 0.0, 1e-12);
  EXPECT_NEAR(a.values[3], -1.0, 1e-12);
  EXPECT_NEAR(a.values[5], 2.0, 1e-12);
  EXPECT_EQ(a.stats.zero_signal_groups, 0);
}

TEST(Advantages, GroupsWithSignalSkipsUniformGroups) {
  auto keep = grpo::learner::groups_with_signal({1, 1, 0, 1, 0, 0, 0.5, 0.5}, 2);
  ASSERT_EQ(keep.size(), 1u);
  EXPECT_EQ(keep[0], 1);
}

TEST(Advantages, BadInputIsAClearError) {
  EXPECT_THROW(compute_advantages({1, 2, 3}, 2, "group"), grpo::Error);
  EXPECT_THROW(compute_advantages({1, NAN}, 2, "group"), grpo::Error);
  try {
    compute_advantages({1, 2}, 2, "grup");
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("scale_rewards"), std::string::npos);
  }
}
