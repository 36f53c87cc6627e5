// rewards/fuzz/answer_fuzz.cpp: libFuzzer target for answer extraction, the exact-rational
// answer grammar and the format rule. Checks, beyond "no crash / no sanitizer report":
// an extracted answer is a substring of the input; every parsed number equals itself;
// parsing is deterministic; the comparison of two halves of the input is symmetric.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rewards/math_answer.h"
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
  // Two halves split at the first NUL: answer vs ground truth, both orders agree.
  size_t cut = s.find('\0');
  if (cut != std::string_view::npos) {
    auto x = parse_rational(s.substr(0, cut)), y = parse_rational(s.substr(cut + 1));
    if (x && y && rational_equal(*x, *y) != rational_equal(*y, *x)) std::abort();
  }
  (void)normalize_answer_text(s);
  (void)r1_format_violation(s);
  return 0;
}
