// tests/rollout/group_table_test.cpp: the bookkeeping of RolloutClient::generate() on its
// own: capacity shares with hand-computed counts, every group accepted exactly once,
// answers of a share that lost its group ignored, re-sends capped at max_attempts.
#include "rollout/group_table.h"

#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"

namespace grpo::rollout {
namespace {

Completion answer(int64_t p, int64_t s, int32_t tok = 7) {
  Completion c;
  c.prompt_index = p;
  c.sample_index = s;
  c.tokens = {tok};
  return c;
}

TEST(SplitByCapacity, SharesFollowFreeSlotsAndSumToTheGroups) {
  // 10 groups over 8 and 2 free slots: ceil(10 * 8 / 10) = 8, the rest 2.
  EXPECT_EQ(split_by_capacity(10, {8, 2}), (std::vector<int64_t>{8, 2}));
  // 7 over 1, 1, 1: ceil(7/3) = 3, ceil(7/3) = 3, the rest 1.
  EXPECT_EQ(split_by_capacity(7, {1, 1, 1}), (std::vector<int64_t>{3, 3, 1}));
  // A worker with 0 free slots counts as 1: 5 over {0, 4}: ceil(5 * 1 / 5) = 1, then 4.
  EXPECT_EQ(split_by_capacity(5, {0, 4}), (std::vector<int64_t>{1, 4}));
  // Fewer groups than workers: the early ones take them, the others none.
  EXPECT_EQ(split_by_capacity(1, {3, 3, 3}), (std::vector<int64_t>{1, 0, 0}));
  for (int64_t n : {0, 1, 13, 64}) {
    auto c = split_by_capacity(n, {5, 7, 1, 64});
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t{0}), n);
  }
  EXPECT_THROW(split_by_capacity(3, {}), grpo::Error);
}

TEST(GroupTable, AGroupIsCompleteWhenAllItsSamplesArriveInAnyOrder) {
  GroupTable t(2, 3, 3);
  auto a = t.dispatch(/*share=*/0, 2);
  EXPECT_EQ(a, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(t.num_pending(), 0);
  EXPECT_TRUE(t.accept(0, answer(1, 2)));
  EXPECT_TRUE(t.accept(0, answer(1, 0)));
  EXPECT_FALSE(t.accept(0, answer(1, 0, 9)));  // duplicate sample
  EXPECT_TRUE(t.accept(0, answer(1, 1)));
  EXPECT_EQ(t.num_complete(), 1);
  for (int64_t s = 0; s < 3; ++s) EXPECT_TRUE(t.accept(0, answer(0, s)));
  ASSERT_TRUE(t.done());
  auto prompt0 = share_ids({1, 2}), prompt1 = share_ids({3});
  auto groups = t.take_groups({prompt0, prompt1});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].prompt, prompt1);  // the same shared ids, not a copy
  for (int64_t s = 0; s < 3; ++s) EXPECT_EQ(groups[1].samples[s].sample_index, s);
  EXPECT_EQ(groups[1].samples[0].tokens, (TokenIds{7}));  // the first answer, not the duplicate
}

TEST(GroupTable, AReleasedGroupIsResentWholeAndLateAnswersOfTheOldShareAreIgnored) {
  GroupTable t(1, 2, 3);
  t.dispatch(0, 1);
  EXPECT_TRUE(t.accept(0, answer(0, 0)));
  EXPECT_EQ(t.release(0, {0}), (std::vector<int64_t>{0}));  // the worker died: back to pending
  EXPECT_EQ(t.num_pending(), 1);
  t.dispatch(1, 1);
  EXPECT_FALSE(t.accept(0, answer(0, 1)));  // from the dead share
  EXPECT_FALSE(t.accept(1, answer(5, 0)));  // out of range
  EXPECT_FALSE(t.accept(1, answer(0, 2)));  // sample index out of range
  EXPECT_TRUE(t.accept(1, answer(0, 0, 3)));
  EXPECT_TRUE(t.accept(1, answer(0, 1, 4)));
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.release(1, {0}).empty());  // complete groups are not released
  auto g = t.take_groups({share_ids({1})});
  EXPECT_EQ(g[0].samples[0].tokens, (TokenIds{3}));  // the re-sent answers only
}

TEST(GroupTable, AGroupSentMaxAttemptsTimesIsRefusedWithItsIndex) {
  GroupTable t(1, 1, 2);
  t.dispatch(0, 1);
  t.release(0, {0});
  t.dispatch(1, 1);
  t.release(1, {0});
  try {
    t.dispatch(2, 1);
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompt 0 failed on 2 workers"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace grpo::rollout
