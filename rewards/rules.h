// rewards/rules.h: the pure scoring rules behind the `format`, `length` and `repetition`
// built-ins (the `accuracy` and `countdown` rules live in math_answer.h and
// countdown_expr.h). Plain functions of text, exposed for tests and for callers that
// want a rule without a RewardSet. Thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace grpo::rewards {

// R1-Zero format: after optional leading whitespace the text is
//   <think> ... </think> (whitespace) <answer> ... </answer> (whitespace)
// with each of the four tags exactly once in the whole text (so no nested or second
// block, no answer inside the think block) and a non-blank answer. Returns "" when the
// text conforms, else the first rule it breaks (e.g. "text after </answer>").
std::string r1_format_violation(std::string_view text);

// Cosine length scaling (open-r1 `get_cosine_scaled_reward`, after "Demystifying Long
// Chain-of-Thought Reasoning in LLMs", Yeo et al. 2025, arXiv:2502.03373):
//   progress = min(len / max_len, 1); cosine = cos(progress * pi)
//   correct: lo = min_value_correct, hi = max_value_correct
//   wrong:   lo = max_value_wrong,   hi = min_value_wrong   (long wrong answers hurt less)
//   reward  = lo + 0.5 * (hi - lo) * (1 + cosine)
// so a short correct answer earns max_value_correct and a short wrong one min_value_wrong.
// Unlike open-r1 the progress is clamped at 1 (beyond max_len the reward stays at its end
// value instead of rising again).
struct CosineLengthParams {
  double min_value_wrong = -1.0;
  double max_value_wrong = -0.5;
  double min_value_correct = 0.5;
  double max_value_correct = 1.0;
  double max_len = 1000;
};
double cosine_length_reward(double length, bool correct, const CosineLengthParams& p);

// Number of Unicode code points of UTF-8 text (bytes that are not continuation bytes);
// Python's len() of the decoded string for valid UTF-8.
size_t utf8_length(std::string_view text);

// N-gram repetition penalty (open-r1 `get_repetition_penalty_reward`, from the same
// paper): words = ASCII-lower-cased text split on whitespace; with fewer than n words
// the penalty is 0; else max_penalty * (1 - unique_ngrams / total_ngrams).
// max_penalty must be <= 0.
double repetition_penalty(std::string_view text, size_t ngram_size, double max_penalty);

}  // namespace grpo::rewards
