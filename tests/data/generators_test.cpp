// tests/data/generators_test.cpp: arith rows hold the right answers and ranges; every
// countdown row is solvable (checked here by an independent brute force over expression
// trees evaluated with doubles); traces are worked and deterministic per seed.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>

#include "data/generators.h"

namespace gd = grpo::data;

TEST(Arith, RowsMatchTheirArithmeticAndRanges) {
  auto rows = gd::make_arith(600, 11);
  ASSERT_EQ(rows.size(), 600u);
  std::regex re(R"(What is (\d+) ([-+*]) (\d+)\?)");
  std::set<char> ops;
  for (const auto& g : rows) {
    std::smatch m;
    std::string p = g.row["prompt"];
    ASSERT_TRUE(std::regex_match(p, m, re)) << p;
    long a = std::stol(m[1]), b = std::stol(m[3]);
    char op = m[2].str()[0];
    ops.insert(op);
    long want = op == '+' ? a + b : op == '-' ? a - b : a * b;
    EXPECT_EQ(g.row["answer"], std::to_string(want));
    if (op == '*') {
      EXPECT_TRUE(a >= 10 && a <= 99 && b >= 10 && b <= 99) << p;
    } else {
      EXPECT_TRUE(a >= 100 && a <= 999 && b >= 100 && b <= 999) << p;
    }
    EXPECT_NE(g.completion.find("<answer> " + std::to_string(want) + " </answer>"), std::string::npos);
  }
  EXPECT_EQ(ops.size(), 3u);
  EXPECT_EQ(gd::make_arith(5, 11)[4].row, rows[4].row);   // same seed, same rows
  EXPECT_NE(gd::make_arith(5, 12)[0].row, rows[0].row);
}

TEST(Arith, TracesShowCarriesBorrowsAndPartialProducts) {
  EXPECT_EQ(gd::arith_trace(347, '+', 285),
            " <think> 7 + 5 = 12 carry 1, 4 + 8 + 1 = 13 carry 1, 3 + 2 + 1 = 6. So 347 + 285 = 632 </think> <answer> 632 </answer>");
  EXPECT_EQ(gd::arith_trace(502, '-', 178),
            " <think> 12 - 8 = 4 borrow 1, 9 - 7 = 2 borrow 1, 4 - 1 = 3. So 502 - 178 = 324 </think> <answer> 324 </answer>");
  EXPECT_NE(gd::arith_trace(120, '-', 300).find("<answer> -180 </answer>"), std::string::npos);
  EXPECT_EQ(gd::arith_trace(47, '*', 36),
            " <think> 47 * 6: 7 * 6 = 42 carry 4, 4 * 6 + 4 = 28, so 282. 47 * 3: 7 * 3 = 21 carry 2,"
            " 4 * 3 + 2 = 14, so 141, shifted 1410. 282 + 1410: 2 + 0 = 2, 8 + 1 = 9, 2 + 4 = 6,"
            " 0 + 1 = 1. So 47 * 36 = 1692 </think> <answer> 1692 </answer>");
  // A zero ones digit and a product without carries.
  EXPECT_EQ(gd::arith_trace(12, '*', 40),
            " <think> 12 * 0: 2 * 0 = 0, 1 * 0 = 0, so 0. 12 * 4: 2 * 4 = 8, 1 * 4 = 4, so 48,"
            " shifted 480. 0 + 480: 0 + 0 = 0, 0 + 8 = 8, 0 + 4 = 4. So 12 * 40 = 480 </think>"
            " <answer> 480 </answer>");
}

namespace {
// Independent check: can `vals` (each used once) reach target with + - * / over reals?
bool reachable(std::vector<double> vals, double target) {
  if (vals.size() == 1) return std::fabs(vals[0] - target) < 1e-6;
  for (size_t i = 0; i < vals.size(); ++i) {
    for (size_t j = 0; j < vals.size(); ++j) {
      if (i == j) continue;
      std::vector<double> rest;
      for (size_t k = 0; k < vals.size(); ++k) {
        if (k != i && k != j) rest.push_back(vals[k]);
      }
      double a = vals[i], b = vals[j];
      std::vector<double> cands = {a + b, a - b, a * b};
      if (b != 0) cands.push_back(a / b);
      for (double c : cands) {
        rest.push_back(c);
        if (reachable(rest, target)) return true;
        rest.pop_back();
      }
    }
  }
  return false;
}
}  // namespace

TEST(Countdown, EveryRowIsSolvableAndInRange) {
  auto rows = gd::make_countdown(150, 5);
  ASSERT_EQ(rows.size(), 150u);
  std::set<size_t> sizes;
  for (const auto& g : rows) {
    std::vector<double> nums;
    for (const auto& n : g.row["nums"]) {
      int v = n.get<int>();
      EXPECT_TRUE(v >= 1 && v <= 99);
      nums.push_back(v);
    }
    sizes.insert(nums.size());
    int t = g.row["target"];
    EXPECT_TRUE(t >= 1 && t <= 100);
    EXPECT_TRUE(reachable(nums, t)) << g.row.dump();
  }
  EXPECT_EQ(sizes, (std::set<size_t>{3, 4}));
}

TEST(Countdown, SolverFindsKnownAndRejectsImpossible) {
  auto s = gd::solve_countdown({25, 3, 2, 4}, 52);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->steps.size(), 3u);
  EXPECT_EQ(s->steps.back().result, 52);
  EXPECT_FALSE(gd::solve_countdown({1, 1, 1}, 100).has_value());
  EXPECT_FALSE(gd::solve_countdown({2, 2}, 5).has_value());
  EXPECT_EQ(gd::solve_countdown({6, 3}, 2)->expression, "6 / 3");
}
