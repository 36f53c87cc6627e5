// rewards/rules.cpp: the pure format / length / repetition rules (see rules.h). Only
// core/error.h is used, so the fuzz targets compile this file on its own.
#include "rewards/rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace grpo::rewards {

namespace {
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t count(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string_view::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}
}  // namespace

std::string r1_format_violation(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  std::string_view s = text.substr(i);
  if (s.substr(0, 7) != "<think>") return "does not start with <think>";
  for (std::string_view tag : {"<think>", "</think>", "<answer>", "</answer>"}) {
    size_t n = count(s, tag);
    if (n != 1) return grpo::str(tag, " appears ", n, " times (expected once)");
  }
  size_t think_end = s.find("</think>");
  size_t p = think_end + 8;
  while (p < s.size() && is_space(s[p])) ++p;
  if (s.substr(p, 8) != "<answer>") return "text between </think> and <answer>";
  size_t answer_begin = p + 8;
  size_t answer_end = s.find("</answer>", answer_begin);
  if (answer_end == std::string_view::npos) return "</answer> before <answer>";
  std::string_view answer = s.substr(answer_begin, answer_end - answer_begin);
  if (std::all_of(answer.begin(), answer.end(), is_space)) return "empty answer";
  for (size_t q = answer_end + 9; q < s.size(); ++q) {
    if (!is_space(s[q])) return "text after </answer>";
  }
  return "";
}

double cosine_length_reward(double length, bool correct, const CosineLengthParams& p) {
  double progress = std::clamp(length / p.max_len, 0.0, 1.0);
  double cosine = std::cos(progress * std::numbers::pi);
  double lo = correct ? p.min_value_correct : p.max_value_wrong;
  double hi = correct ? p.max_value_correct : p.min_value_wrong;
  return lo + 0.5 * (hi - lo) * (1.0 + cosine);
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

double repetition_penalty(std::string_view text, size_t ngram_size, double max_penalty) {
  GRPO_ENSURE(max_penalty <= 0, "repetition: max_penalty must be <= 0, got ", max_penalty);
  GRPO_ENSURE(ngram_size >= 1, "repetition: ngram_size must be >= 1");
  std::vector<std::string_view> words;
  std::string lower(text);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view s = lower;
  for (size_t i = 0; i < s.size();) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) words.push_back(s.substr(b, i - b));
  }
  if (words.size() < ngram_size) return 0.0;
  // An n-gram is identified by its word span; join with a separator that cannot occur
  // inside a word.
  std::unordered_set<std::string> unique;
  size_t total = words.size() - ngram_size + 1;
  for (size_t i = 0; i < total; ++i) {
    std::string key;
    for (size_t k = 0; k < ngram_size; ++k) {
      key += words[i + k];
      key += ' ';
    }
    unique.insert(std::move(key));
  }
  double scaling = 1.0 - static_cast<double>(unique.size()) / static_cast<double>(total);
  return scaling * max_penalty;
}

}  // namespace grpo::rewards
