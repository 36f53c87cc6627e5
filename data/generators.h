// data/generators.h: synthetic task generators behind `grpo make-data`.
// Design: each generator is a pure function of (n, seed) built on splitmix64, so a seed
// names a dataset on every platform. arith: "What is A op B?" with + and - of two 3-digit
// numbers and * of two 2-digit numbers (ops equally likely). countdown: 3 or 4 numbers in
// 1..99 and a target in 1..100, kept only when our exhaustive solver finds an expression
// using every number exactly once (integer intermediate values, exact division).
// With solutions, each row also gets an SFT completion: a worked <think> trace (column
// arithmetic with carries/borrows, partial products, or the solver's steps) and the
// <answer>, in the R1-Zero format the `format` reward accepts.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace grpo::data {

struct GeneratedRow {
  nlohmann::json row;      // the task row (math or countdown)
  std::string completion;  // the worked solution: " <think> ... </think> <answer> ... </answer>"
};

// n arithmetic rows {"prompt": "What is 347 + 285?", "answer": "632"}. Throws grpo::Error
// for n < 0.
std::vector<GeneratedRow> make_arith(int64_t n, uint64_t seed);
// n solvable countdown rows {"nums": [...], "target": T}. Throws grpo::Error for n < 0.
std::vector<GeneratedRow> make_countdown(int64_t n, uint64_t seed);

// One solver step: a op b = result.
struct CountdownStep {
  int64_t a, b, result;
  char op;
};
struct CountdownSolution {
  std::string expression;           // fully parenthesised, e.g. "(25 + 3) * 2 - 4"
  std::vector<CountdownStep> steps; // in evaluation order
};
// Finds an expression over all of `nums` (each exactly once) equal to `target`, with
// + - * / over non-negative integers and exact division; nullopt when none exists.
// Exhaustive (pairwise combination), fine for up to 6 numbers.
std::optional<CountdownSolution> solve_countdown(const std::vector<int64_t>& nums, int64_t target);

// Worked traces (exposed for tests): column addition with carries, column subtraction
// with borrows (a < b: the swapped difference, negated), and long multiplication (each
// digit product with its carry, the ones and the shifted tens partial products, then their
// column sum), each ending "So a op b = r </think> <answer> r </answer>".
std::string arith_trace(int64_t a, char op, int64_t b);
std::string countdown_trace(const CountdownSolution& s);

}  // namespace grpo::data
