// rewards/countdown_expr.h: the Countdown answer parser (TinyZero's rule, our own code).
// Grammar (whitespace allowed between tokens):
//   equation := expr ('=' number)?      the optional right side must equal the target
//   expr     := term (('+' | '-') term)*
//   term     := factor (('*' | '/') factor)*
//   factor   := number | '(' expr ')'
//   number   := digits (at most 15; no sign, no decimal point, no unary minus)
// Anything else (letters, '**', '^', unary minus, unbalanced parentheses, nesting deeper
// than max_depth, input longer than kMaxExpressionBytes) is a parse error. Values are
// doubles; division by zero is an error. Never evaluates anything but this grammar.
// Pure function; thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpo::rewards {

constexpr size_t kMaxExpressionBytes = 4096;

struct CountdownExpr {
  bool ok = false;               // parsed and evaluated
  double value = 0.0;            // value of the left side
  std::optional<double> rhs;     // the number after '=', when present
  std::vector<int64_t> numbers;  // every number literal of the left side, in order
  std::string error;             // why not ok: "parse error at byte 3: ...", "division by zero"
};

CountdownExpr parse_countdown_expression(std::string_view text, int max_depth = 64);

}  // namespace grpo::rewards
