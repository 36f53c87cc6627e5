// tests/rewards/deadline_test.cpp: the generic deadline runner (rewards/deadline_runner.h)
// and issue 19 item 7 through real plug-ins (tests/rewards/plugins/stall_plugin.c): a
// reward's timeout_s bounds a step, and a plug-in that never returns does not make the
// healthy rewards time out from the next step on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "rewards/deadline_runner.h"
#include "rewards/reward.h"

namespace grpo::rewards {
namespace {

using Clock = std::chrono::steady_clock;
using Outcome = DeadlineRunner::Outcome;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TEST(DeadlineRunner, CollectsWhatFinishedInTimeAndAbandonsTheRest) {
  DeadlineRunner runner({.slots = 4, .max_abandoned = 8, .name = "test"});
  auto done = std::make_shared<std::vector<std::atomic<int>>>(6);
  std::vector<DeadlineRunner::Call> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back({[done, i] {
                       if (i % 2) std::this_thread::sleep_for(std::chrono::milliseconds(800));
                       (*done)[i] = 1;
                     },
                     0.2});
  }
  auto t0 = Clock::now();
  std::vector<Outcome> out = runner.run(std::move(calls));
  double secs = since(t0);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i], i % 2 ? Outcome::kTimedOut : Outcome::kDone) << i;
    if (i % 2 == 0) {
      EXPECT_EQ((*done)[i].load(), 1) << "a kDone call has returned";
    }
  }
  EXPECT_LT(secs, 0.6);  // one wave of 0.2 s (3 slow calls on 4 slots), not 0.8 s
  EXPECT_EQ(runner.abandoned_running(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_EQ(runner.abandoned_running(), 0u);  // they returned; their threads are gone
}

TEST(DeadlineRunner, LimitCountsFromTheStartNotFromSubmission) {
  // 4 calls of 0.15 s each on 1 slot with a 0.3 s limit: all finish (0.6 s in all) although
  // the last one waited 0.45 s in the queue.
  DeadlineRunner runner({.slots = 1});
  std::vector<DeadlineRunner::Call> calls(
      4, {[] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); }, 0.3});
  for (Outcome o : runner.run(std::move(calls))) EXPECT_EQ(o, Outcome::kDone);
}

TEST(DeadlineRunner, ConcurrentBatchesShareTheSlots) {
  DeadlineRunner runner({.slots = 2});
  std::atomic<int> running{0}, peak{0};
  auto body = [&] {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
  };
  auto b1 = runner.submit(std::vector<DeadlineRunner::Call>(6, {body, 5.0}));
  auto b2 = runner.submit(std::vector<DeadlineRunner::Call>(6, {body, 5.0}));
  for (Outcome o : runner.wait(b2)) EXPECT_EQ(o, Outcome::kDone);
  for (Outcome o : runner.wait(b1)) EXPECT_EQ(o, Outcome::kDone);
  EXPECT_EQ(peak.load(), 2);
}

#ifdef GRPO_STALL_PLUGIN
cfg::RewardEntry plugin(const std::string& symbol, double timeout_s) {
  cfg::RewardEntry e;
  e.name = "plugin";
  e.args = Json{{"path", GRPO_STALL_PLUGIN}, {"symbol", symbol}, {"label", symbol}};
  e.timeout_s = timeout_s;
  e.fallback_score = -1.0;
  return e;
}

cfg::RewardEntry format_entry() {
  cfg::RewardEntry e;
  e.name = "format";
  e.timeout_s = 0.3;
  return e;
}

TEST(RewardDeadline, SlowPluginIsBoundedByItsTimeout) {
  // Issue 19 item 7: 1.5 s per call with timeout_s 0.3, beside `format`, 32 samples on 8
  // slots. Before: a queued call's wait only ended when the batch made no progress for
  // 0.3 s, but a slot freed every 1.5 / 8 s, so the calls ran in waves of 1.5 s: 6 s.
  // Now each slot is handed to a fresh thread at the timeout: at most timeout_s *
  // ceil(32 / 8) = 1.2 s.
  RewardSet set({plugin("slow_score", 0.3), format_entry()}, {.num_threads = 8});
  auto t0 = Clock::now();
  BatchScores s = set.score(std::vector<Sample>(32, Sample{"", "x", {}}));
  double secs = since(t0);
  EXPECT_LT(secs, 1.2 + 0.5) << "the step must be bounded by timeout_s * ceil(N / slots)";
  EXPECT_EQ(s.failures[0].timed_out, 32);
  EXPECT_EQ(s.failures[1].total(), 0);
  for (double v : s.components[0]) EXPECT_EQ(v, -1.0);
}

TEST(RewardDeadline, NeverReturningPluginDoesNotStarveHealthyRewards) {
  // Issue 19 item 7: a plug-in that never returns kept the shared pool's threads, so from
  // the next step on the healthy rewards (format, another plug-in) timed out too.
  RewardSet set({format_entry(), plugin("hang_score", 0.3), plugin("fast_score", 0.3)},
                {.num_threads = 2});
  auto t0 = Clock::now();
  BatchScores s1 = set.score(std::vector<Sample>(8, Sample{"", "hang", {}}));
  EXPECT_EQ(s1.failures[1].timed_out, 8);
  EXPECT_EQ(s1.failures[0].total() + s1.failures[2].total(), 0);
  const std::string good = "<think>t</think><answer>1</answer>";
  for (int step = 0; step < 3; ++step) {
    BatchScores s = set.score(std::vector<Sample>(8, Sample{"", good, {}}));
    EXPECT_EQ(s.failures[0].total(), 0) << "format, step " << step;
    EXPECT_EQ(s.failures[2].total(), 0) << "fast plug-in, step " << step;
    EXPECT_EQ(s.failures[1].total(), 0) << "the stuck plug-in's new calls run on new slots";
    for (size_t i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(s.total[i], 1.0 + 1.0 + 0.5);
  }
  // 8 stuck calls on 2 slots: 4 waves of 0.3 s, then three quick steps.
  EXPECT_LT(since(t0), 1.2 + 0.6);
}
#endif

#ifdef GRPO_HOST_PLUGIN
TEST(PluginHostServices, APluginCallsTheMathCheckAndTheSandbox) {
  auto math = make_reward("plugin", Json{{"path", GRPO_HOST_PLUGIN}, {"symbol", "math_score"}});
  Json gt = {{"answer", "1/2"}};  // no backslash: the test plug-in reads JSON naively
  EXPECT_EQ(math->score({"", "<answer>0.5</answer>", gt}).score, 1.0);
  EXPECT_EQ(math->score({"", "<answer>\\dfrac{2}{4}</answer>", gt}).score, 1.0);
  EXPECT_EQ(math->score({"", "<answer>0.4</answer>", gt}).score, 0.0);
  EXPECT_EQ(math->score({"", "no answer", gt}).score, 0.0);
  auto run = make_reward("plugin", Json{{"path", GRPO_HOST_PLUGIN}, {"symbol", "run_score"}});
  EXPECT_EQ(run->score({"", "<answer>print(6 * 7)</answer>", {}}).score, 1.0);
  EXPECT_EQ(run->score({"", "<answer>print(6 * 8)</answer>", {}}).score, 0.0);
  EXPECT_EQ(run->score({"", "<answer>import time; time.sleep(60)</answer>", {}}).score, 0.0);
}
#endif

}  // namespace
}  // namespace grpo::rewards
