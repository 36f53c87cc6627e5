// rewards/countdown_expr.cpp: recursive-descent parser + evaluator for Countdown answers.
// Depth is counted per parenthesis so hostile nesting fails cleanly instead of
// exhausting the stack.
#include "rewards/countdown_expr.h"

#include <cmath>

#include "core/error.h"

namespace grpo::rewards {
namespace {

struct Failure {
  std::string why;
};

class ExprParser {
 public:
  ExprParser(std::string_view s, int max_depth, std::vector<int64_t>* numbers)
      : s_(s), max_depth_(max_depth), numbers_(numbers) {}

  double parse_expr(int depth) {
    double v = parse_term(depth);
    for (;;) {
      skip_ws();
      char c = peek();
      if (c != '+' && c != '-') return v;
      ++pos_;
      double rhs = parse_term(depth);
      v = c == '+' ? v + rhs : v - rhs;
    }
  }

  double parse_number_literal(std::vector<int64_t>* sink) {
    skip_ws();
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (pos_ - start >= 15) fail("number longer than 15 digits");
      v = v * 10 + (s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == start) fail("expected a number or '('");
    if (peek() == '.') fail("decimal numbers are not allowed");
    if (sink) sink->push_back(v);
    return static_cast<double>(v);
  }

  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() {
    skip_ws();
    return pos_ >= s_.size();
  }
  size_t pos() const { return pos_; }
  void advance() { ++pos_; }

  [[noreturn]] void fail(const std::string& why) const {
    throw Failure{grpo::str("parse error at byte ", pos_, ": ", why)};
  }

 private:
  double parse_term(int depth) {
    double v = parse_factor(depth);
    for (;;) {
      skip_ws();
      char c = peek();
      if (c != '*' && c != '/') return v;
      ++pos_;
      if (peek() == '*') fail("'**' is not allowed");
      double rhs = parse_factor(depth);
      if (c == '*') {
        v *= rhs;
      } else {
        if (rhs == 0.0) throw Failure{"division by zero"};
        v /= rhs;
      }
    }
  }

  double parse_factor(int depth) {
    skip_ws();
    if (peek() == '(') {
      if (depth + 1 > max_depth_) fail("parentheses nested too deeply");
      ++pos_;
      double v = parse_expr(depth + 1);
      skip_ws();
      if (peek() != ')') fail("expected ')'");
      ++pos_;
      return v;
    }
    return parse_number_literal(numbers_);
  }

  std::string_view s_;
  size_t pos_ = 0;
  int max_depth_;
  std::vector<int64_t>* numbers_;
};

}  // namespace

CountdownExpr parse_countdown_expression(std::string_view text, int max_depth) {
  CountdownExpr out;
  if (text.size() > kMaxExpressionBytes) {
    out.error = grpo::str("expression longer than ", kMaxExpressionBytes, " bytes");
    return out;
  }
  ExprParser p(text, max_depth, &out.numbers);
  try {
    out.value = p.parse_expr(0);
    if (!p.at_end()) {
      if (p.peek() != '=') p.fail(grpo::str("unexpected character '", p.peek(), "'"));
      p.advance();
      out.rhs = p.parse_number_literal(nullptr);
      if (!p.at_end()) p.fail(grpo::str("unexpected character '", p.peek(), "' after '='"));
    }
    if (!std::isfinite(out.value)) throw Failure{"value is not finite"};
    out.ok = true;
  } catch (const Failure& f) {
    out.ok = false;
    out.error = f.why;
    out.numbers.clear();
  }
  return out;
}

}  // namespace grpo::rewards
