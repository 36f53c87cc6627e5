// tests/data/sft_pack_test.cpp: packing keeps examples whole, restarts positions, and
// puts loss only on completion tokens, never across an example boundary.
#include <gtest/gtest.h>

#include "data/sft.h"

namespace gd = grpo::data;

TEST(SftPacking, PromptTokensCarryNoLossAndPositionsRestart) {
  std::vector<gd::SftExample> ex = {{{10, 11, 12}, {20, 21}}, {{13, 14}, {22}}, {{15}, {23, 24, 25, 26, 27, 28, 29}}};
  int64_t dropped = -1;
  auto packed = gd::pack_examples(ex, 8, true, &dropped);
  EXPECT_EQ(dropped, 0);
  ASSERT_EQ(packed.size(), 2u);  // 5 + 3 fit in 8; the third (8 tokens) starts a new one
  const auto& s = packed[0];
  EXPECT_EQ(s.ids, (std::vector<int32_t>{10, 11, 12, 20, 21, 13, 14, 22}));
  EXPECT_EQ(s.position_ids, (std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1, 2}));
  EXPECT_EQ(s.segment, (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1, 1}));
  // Next-token targets: position 2 (last prompt token) predicts 20; 4 -> 13 crosses into
  // the next example: no loss; 6 predicts the completion token 22.
  EXPECT_EQ(gd::shifted_targets(s, 1), (std::vector<int64_t>{-100, -100, 20, 21, -100, -100, 22, -100}));
  // Two ahead (first MTP module): 1 -> 20, 2 -> 21.
  EXPECT_EQ(gd::shifted_targets(s, 2), (std::vector<int64_t>{-100, 20, 21, -100, -100, 22, -100, -100}));
}

TEST(SftPacking, UnpackedAndTooLong) {
  std::vector<gd::SftExample> ex = {{{1, 2}, {3}}, {{4}, {5, 6, 7, 8, 9}}, {{1}, {2}}};
  int64_t dropped = 0;
  auto one = gd::pack_examples(ex, 4, false, &dropped);
  EXPECT_EQ(dropped, 1);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[1].ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(gd::shifted_targets(one[0], 1), (std::vector<int64_t>{-100, 3, -100}));
}
