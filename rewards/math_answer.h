// rewards/math_answer.h: answer extraction and exact mathematical comparison for the
// `accuracy` reward (and the answer-block extraction shared with `countdown`).
//
// Extraction: only the text after the last "</think>" is searched (an answer hidden in
// the think block never counts); the answer is the content of the last complete
// <answer>...</answer> block there (if it holds a \boxed{}, that box's content), or else
// the content of the last \boxed{...}. Everything is a linear scan: giant inputs are safe.
//
// Comparison: both sides are parsed as exact rationals (big integers, no floating point)
// from a small grammar: integers (with ',' / "\," / "{,}" thousands separators in groups
// of three), decimals, a/b, \frac \dfrac \tfrac (braced or single-digit arguments, nested),
// a leading '-', '+' or U+2212 minus, wrapped in any of $..$, \(..\), \[..\], \boxed{..},
// {..}, with surrounding whitespace and a trailing period. Anything else is not a number.
// Pure functions; thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpo::rewards {

// Text after the last "</think>", or all of `completion` when there is none.
std::string_view answer_region(std::string_view completion);

// Content of the last complete <answer>...</answer> block in `text`: from the last
// "<answer>" before the last "</answer>" up to the first "</answer>" after it, so
// "<answer><answer>5</answer></answer>" gives "5".
std::optional<std::string_view> last_answer_block(std::string_view text);

// Content of the last \boxed{...} in `text` (braces balanced), if any.
std::optional<std::string_view> last_boxed(std::string_view text);

// The answer of a completion as described above; nullopt when there is none.
std::optional<std::string_view> extract_answer(std::string_view completion);

// Non-negative arbitrary-precision integer: base 1e9 limbs, least significant first,
// no trailing zero limbs (zero is empty).
using BigNat = std::vector<uint32_t>;

// An exact rational: (-1)^negative * num / den, den > 0 (not reduced).
struct Rational {
  bool negative = false;
  BigNat num;
  BigNat den;
};

// Parses `text` with the grammar above. nullopt when it is not a number, when a
// denominator is zero, or when it is longer than kMaxAnswerBytes.
constexpr size_t kMaxAnswerBytes = 4096;
std::optional<Rational> parse_rational(std::string_view text);

// Exact equality of the values (-0 == 0, 1/2 == 2/4 == 0.5).
bool rational_equal(const Rational& a, const Rational& b);

// Decimal string of a BigNat (for tests and details).
std::string to_string(const BigNat& n);

// Loose textual normal form for non-numeric answers (used only with the accuracy
// reward's text_fallback): unwraps as above, drops whitespace, \left, \right, \!, \,,
// \;, "\ " and '$', lower-cases ASCII.
std::string normalize_answer_text(std::string_view text);

}  // namespace grpo::rewards
