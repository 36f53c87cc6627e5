// rewards/fuzz/answer_fuzz.cpp: libFuzzer target for answer extraction, the exact-rational
// answer grammar, the math answer parser and equivalence checker (rewards/math_expr.h,
// rewards/math_equiv.h) and the format rule. Checks, beyond "no crash / no sanitizer
// report / no timeout": an extracted answer is a substring of the input; every parsed
// number equals itself; parsing is deterministic; an answer with a non-empty text form is
// equivalent to itself; checking two halves (split at the first NUL) terminates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rewards/math_answer.h"
#include "rewards/math_equiv.h"
#include "rewards/math_expr.h"
#include "rewards/rules.h"

using namespace grpo::rewards;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto a = extract_answer(s)) {
    if (a->data() < s.data() || a->data() + a->size() > s.data() + s.size()) std::abort();
    if (auto r = parse_rational(*a); r && !rational_equal(*r, *r)) std::abort();
  }
  auto whole = parse_rational(s);
  auto again = parse_rational(s);
  if (whole.has_value() != again.has_value()) std::abort();
  if (whole && !rational_equal(*whole, *again)) std::abort();
  if (whole && (whole->den.empty())) std::abort();  // zero denominators are rejected
  // The math parser: deterministic, and an answer is equivalent to itself.
  math::ParsedAnswer p1 = math::parse_answer(s), p2 = math::parse_answer(s);
  if (p1.ok != p2.ok || p1.text != p2.text || p1.choice != p2.choice) std::abort();
  if (p1.ok && math::to_debug_string(p1.root) != math::to_debug_string(p2.root)) std::abort();
  if (!p1.text.empty() && !math_equivalent(s, s).equal) std::abort();
  // Two halves split at the first NUL: prediction vs reference, both orders terminate.
  size_t cut = s.find('\0');
  if (cut != std::string_view::npos) {
    auto x = parse_rational(s.substr(0, cut)), y = parse_rational(s.substr(cut + 1));
    if (x && y && rational_equal(*x, *y) != rational_equal(*y, *x)) std::abort();
    (void)math_equivalent(s.substr(0, cut), s.substr(cut + 1));
    (void)math_equivalent(s.substr(cut + 1), s.substr(0, cut));
  }
  (void)extract_math_answer(s, true);
  (void)normalize_answer_text(s);
  (void)r1_format_violation(s);
  return 0;
}
