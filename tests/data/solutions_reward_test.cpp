// tests/data/solutions_reward_test.cpp: every generated solution trace scores 1 with the
// real rewards (format + accuracy for arith, format + countdown for countdown), and a
// wrong answer scores 0 (so the check can fail).
#include <gtest/gtest.h>

#include "data/dataset.h"
#include "data/generators.h"
#include "rewards/reward.h"

namespace gd = grpo::data;
namespace gr = grpo::rewards;

namespace {
void expect_all_score_one(const std::vector<gd::GeneratedRow>& rows, gd::Task task,
                          const std::string& correctness) {
  auto format = gr::make_reward("format");
  auto right = gr::make_reward(correctness);
  for (const auto& g : rows) {
    gr::Sample s{"prompt", g.completion, gd::ground_truth(task, g.row)};
    EXPECT_EQ(format->score(s).score, 1.0) << g.completion;
    EXPECT_EQ(right->score(s).score, 1.0) << g.completion << " " << g.row.dump();
  }
}
}  // namespace

TEST(Solutions, ArithTracesScoreOne) {
  expect_all_score_one(gd::make_arith(300, 3), gd::Task::kMath, "accuracy");
}

TEST(Solutions, CountdownTracesScoreOne) {
  expect_all_score_one(gd::make_countdown(100, 3), gd::Task::kCountdown, "countdown");
}

TEST(Solutions, AWrongAnswerScoresZero) {
  auto g = gd::make_arith(1, 9)[0];
  auto acc = gr::make_reward("accuracy");
  gr::Sample s{"p", " <think> x </think> <answer> 123456789 </answer>", gd::ground_truth(gd::Task::kMath, g.row)};
  EXPECT_EQ(acc->score(s).score, 0.0);
}
