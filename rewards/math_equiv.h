// rewards/math_equiv.h: is a predicted math answer equivalent to the reference?
// The C++ building block behind the `accuracy` reward, usable by custom rewards.
//
// Both sides are parsed (rewards/math_expr.h). Numbers are exact rationals; arithmetic
// is decided symbolically where it can be (rational-function normal form over squarefree
// radicals, pi, e and variables: rewards/math_algebra.h) and numerically otherwise (the
// two sides evaluated at `points` seeded random points for their variables and compared
// with relative tolerance `rel_tol`). Structured answers compare by kind: tuples in order
// and with their brackets (so intervals keep open/closed ends), sets and bare lists in
// any order, +- as the set of both values, `x = 5` as 5, an inequality in one variable
// as its interval (`x \ge 0` is [0, \infty)), unions of intervals in any order, matrices
// cell by cell, multiple choice by letter when the reference is one ("(B)", "\text{(B)}",
// "B"), percentages with or without the sign (10\% matches 10 and 0.1). A side that does
// not parse is compared as normalised text. Prose in the answer ("The total is 18.")
// counts by its last math span, the text after its last "is" / "=", or its last number.
// Pure functions; thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace grpo::rewards {

struct MathCheckOptions {
  double rel_tol = 1e-9;  // numeric path: |a - b| <= rel_tol * max(1, |a|, |b|)
  int points = 3;         // numeric path: evaluation points when there are variables
};

struct MathVerdict {
  bool equal = false;
  // How it was decided: "choice", "text", "symbolic", "numeric", "structure" (shapes or
  // sizes differ), "unparsed" (a side did not parse and the texts differ).
  std::string method;
};

// Compares an answer (already extracted from the completion) with the reference.
MathVerdict math_equivalent(std::string_view pred, std::string_view gold,
                            const MathCheckOptions& options = {});

// The answer of a completion: the last <answer> block after the last </think> (its
// \boxed{} when it holds one), else the last \boxed{} (rewards/math_answer.h). With
// `unanchored` and neither present: the last line of the text after </think> that holds
// a digit (off by default: prose outside an answer block does not count).
std::optional<std::string> extract_math_answer(std::string_view completion, bool unanchored);

}  // namespace grpo::rewards
