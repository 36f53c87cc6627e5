// rewards/math_expr.h: a LaTeX / plain-text math answer parsed into an expression tree,
// for the equivalence checker (rewards/math_equiv.h).
//
// Design: one tree type for everything an answer can be. Arithmetic nodes (numbers kept
// exact as decimal digit strings, symbols, + - * / ^, functions, factorials, percent, +-)
// and structure nodes (tuples and intervals, sets, bare lists, relation chains, unions,
// matrices) share `Expr`; the checker decides how two trees compare. The parser is a
// hand-written recursive descent over a token list (no regex, no recursion deeper than
// kMaxDepth, input capped at kMaxAnswerBytes), so any byte string is safe to feed it.
//
// What it reads: numbers with thousands separators (",", "\,", "{,}", "\ ", thin spaces
// U+2009/U+202F, only before groups of three digits), decimals, scientific notation (1e5,
// 1.2 \times 10^3), \frac \dfrac \tfrac \over, mixed numbers (3\frac{1}{2}, "3 1/2"),
// \sqrt[n]{}, powers, !, \binom, \log_b, \ln, trig, |x|, \lfloor \rceil, pi and e,
// percentages, degrees (dropped: 90^\circ is 90), \left \right and spacing commands,
// \text{}/\textbf{}/\mathrm{}/\mbox{} (units after a value are dropped; "or"/"and"
// separate list items), \boxed{} \fbox{} $..$ \(..\) \[..\], tuples, intervals with open
// or closed ends, \cup, sets \{..\}, \emptyset, +-, relations (= \ne < > \le \ge \in) and
// chains, pmatrix/bmatrix/matrix environments. Pure functions; thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace grpo::rewards::math {

struct Expr {
  enum class Kind {
    kNum,        // text: decimal digits; value = text * 10^-scale
    kSym,        // text: name ("x", "pi", "e", "infty")
    kAdd,        // args: terms
    kMul,        // args: factors
    kDiv,        // args: numerator, denominator
    kPow,        // args: base, exponent
    kNeg,        // args: operand
    kFunc,       // text: function name (sqrt, root, log, ln, sin, abs, floor, binom, ...)
    kFactorial,  // args: operand
    kPercent,    // args: operand (value / 100)
    kPm,         // args: a, b: the two values a + b and a - b
    kTuple,      // text: the brackets, e.g. "()", "[)", "[]": tuples, points, intervals
    kSet,        // args: elements of \{ \}
    kList,       // args: items of a bare comma / "or" / "and" list
    kRel,        // args: sides; text: the relations between them, space-separated
    kUnion,      // args: intervals or sets joined by \cup
    kMatrix,     // args: rows, each a kList
    kText,       // text: normalised text (a word answer)
  };
  Kind kind = Kind::kNum;
  std::string text;
  int scale = 0;
  std::vector<Expr> args;
};

constexpr size_t kMaxAnswerBytes = 4096;
constexpr int kMaxDepth = 64;

struct ParsedAnswer {
  bool ok = false;   // false: not parseable; compare `text` only
  Expr root;         // valid when ok
  char choice = 0;   // 'A'..'E' when the answer reads as a multiple-choice letter
  std::string text;  // normalised text, always set
};

// Parses one answer (already extracted from the completion). Never throws.
ParsedAnswer parse_answer(std::string_view text);

// The normalised text form used by the text fallback: wrappers, spacing commands, \left,
// \right, \text{} markup and '$' removed, whitespace dropped, ASCII lower-cased.
std::string normalize_text(std::string_view text);

// A readable form of a tree (for details and tests), e.g. "(add 1 (mul 2 x))".
std::string to_debug_string(const Expr& e);

}  // namespace grpo::rewards::math
