// rewards/math_answer.cpp: answer extraction and the exact-rational answer grammar.
// A hand-written recursive-descent parser over bytes: no regex, no floating point, no
// recursion deeper than the unwrap/\frac nesting it bounds, linear in the input.
#include "rewards/math_answer.h"

#include <algorithm>
#include <cctype>

namespace grpo::rewards {
namespace {

constexpr uint32_t kBase = 1000000000u;
constexpr int kMaxNesting = 32;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

void trim_limbs(BigNat& n) {
  while (!n.empty() && n.back() == 0) n.pop_back();
}

BigNat from_digits(std::string_view digits) {
  BigNat n;
  // Most significant chunk first, parsed from the end in 9-digit slices.
  for (size_t end = digits.size(); end > 0;) {
    size_t begin = end >= 9 ? end - 9 : 0;
    uint32_t v = 0;
    for (size_t i = begin; i < end; ++i) v = v * 10 + static_cast<uint32_t>(digits[i] - '0');
    n.push_back(v);
    end = begin;
  }
  trim_limbs(n);
  return n;
}

BigNat pow10(size_t k) {
  std::string s(k + 1, '0');
  s[0] = '1';
  return from_digits(s);
}

BigNat mul(const BigNat& a, const BigNat& b) {
  if (a.empty() || b.empty()) return {};
  std::vector<uint64_t> acc(a.size() + b.size(), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.size(); ++j) {
      uint64_t cur = acc[i + j] + static_cast<uint64_t>(a[i]) * b[j] + carry;
      acc[i + j] = cur % kBase;
      carry = cur / kBase;
    }
    size_t k = i + b.size();
    while (carry) {
      uint64_t cur = acc[k] + carry;
      acc[k] = cur % kBase;
      carry = cur / kBase;
      ++k;
    }
  }
  BigNat out(acc.begin(), acc.end());
  trim_limbs(out);
  return out;
}

// Whole-string wrappers: returns the inside when `s` is exactly open + inside + close.
bool unwrap(std::string_view& s, std::string_view open, std::string_view close) {
  if (s.size() >= open.size() + close.size() && starts_with(s, open) && ends_with(s, close)) {
    s = trim(s.substr(open.size(), s.size() - open.size() - close.size()));
    return true;
  }
  return false;
}

// True when s[0] == '{' and its matching '}' is the last byte.
bool braces_span_all(std::string_view s) {
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1 == s.size();
  }
  return false;
}

// Peels wrappers that do not change the value, repeatedly.
std::string_view peel(std::string_view s) {
  s = trim(s);
  for (int round = 0; round < kMaxNesting; ++round) {
    std::string_view before = s;
    if (s.size() >= 2 && s.back() == '.') s = trim(s.substr(0, s.size() - 1));  // "= 5."
    if (unwrap(s, "$$", "$$") || unwrap(s, "$", "$") || unwrap(s, "\\(", "\\)") ||
        unwrap(s, "\\[", "\\]")) {
      continue;
    }
    for (std::string_view cmd : {"\\boxed", "\\text", "\\mathrm", "\\mathbf"}) {
      if (starts_with(s, cmd)) {
        std::string_view rest = trim(s.substr(cmd.size()));
        if (braces_span_all(rest)) s = trim(rest.substr(1, rest.size() - 2));
      }
    }
    if (braces_span_all(s)) s = trim(s.substr(1, s.size() - 2));
    if (s == before) break;
  }
  return s;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Rational> parse_all() {
    auto v = value(0);
    skip_ws();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;

  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!eof() && is_space(s_[pos_])) ++pos_;
  }
  bool eat(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) == lit) {
      pos_ += lit.size();
      return true;
    }
    return false;
  }

  // value := sign? (frac | number ('/' number)?)
  std::optional<Rational> value(int depth) {
    if (depth > kMaxNesting) return std::nullopt;
    skip_ws();
    bool neg = false;
    if (eat("-") || eat("\xE2\x88\x92")) {
      neg = true;
    } else {
      eat("+");
    }
    skip_ws();
    std::optional<Rational> r;
    if (eat("\\frac") || eat("\\dfrac") || eat("\\tfrac")) {
      auto a = group(depth + 1);
      if (!a) return std::nullopt;
      auto b = group(depth + 1);
      if (!b || b->num.empty()) return std::nullopt;
      r = Rational{a->negative != b->negative, mul(a->num, b->den), mul(a->den, b->num)};
    } else {
      r = number();
      if (!r) return std::nullopt;
      size_t save = pos_;
      skip_ws();
      if (eat("/")) {
        skip_ws();
        auto d = number();
        if (!d || d->num.empty()) return std::nullopt;
        r = Rational{false, mul(r->num, d->den), mul(r->den, d->num)};
      } else {
        pos_ = save;
      }
    }
    r->negative = r->negative != neg;
    return r;
  }

  // group := '{' value '}' | digit      (\frac12 is \frac{1}{2})
  std::optional<Rational> group(int depth) {
    skip_ws();
    if (eat("{")) {
      auto v = value(depth);
      skip_ws();
      if (!v || !eat("}")) return std::nullopt;
      return v;
    }
    if (is_digit(peek())) {
      Rational r{false, from_digits(s_.substr(pos_, 1)), BigNat{1}};
      ++pos_;
      return r;
    }
    return std::nullopt;
  }

  // Length of a thousands separator at pos_ followed by exactly three digits, else 0.
  size_t separator_then_three_digits() const {
    for (std::string_view sep : {",", "\\,", "{,}"}) {
      if (s_.substr(pos_, sep.size()) != sep) continue;
      size_t d = pos_ + sep.size();
      if (d + 3 <= s_.size() && is_digit(s_[d]) && is_digit(s_[d + 1]) && is_digit(s_[d + 2]) &&
          (d + 3 == s_.size() || !is_digit(s_[d + 3]))) {
        return sep.size();
      }
    }
    return 0;
  }

  // number := int ('.' digits*)? | '.' digits+ ; int := digits | d{1,3} (sep ddd)+
  std::optional<Rational> number() {
    std::string digits;
    size_t start = pos_;
    while (is_digit(peek())) digits.push_back(s_[pos_++]);
    size_t first_group = pos_ - start;
    if (first_group >= 1 && first_group <= 3) {
      while (size_t sep = separator_then_three_digits()) {
        pos_ += sep;
        digits.append(s_.substr(pos_, 3));
        pos_ += 3;
      }
    }
    size_t frac_digits = 0;
    if (peek() == '.' && pos_ + 1 <= s_.size()) {
      size_t save = pos_;
      ++pos_;
      while (is_digit(peek())) {
        digits.push_back(s_[pos_++]);
        ++frac_digits;
      }
      if (frac_digits == 0 && first_group == 0) pos_ = save;  // a lone '.'
    }
    if (digits.empty()) return std::nullopt;
    return Rational{false, from_digits(digits), pow10(frac_digits)};
  }
};

}  // namespace

std::string_view answer_region(std::string_view completion) {
  size_t p = completion.rfind("</think>");
  return p == std::string_view::npos ? completion : completion.substr(p + 8);
}

std::optional<std::string_view> last_answer_block(std::string_view text) {
  size_t close = text.rfind("</answer>");
  if (close == std::string_view::npos) return std::nullopt;
  size_t open = text.rfind("<answer>", close);
  if (open == std::string_view::npos || open + 8 > close) return std::nullopt;
  size_t first_close = text.find("</answer>", open + 8);
  return text.substr(open + 8, first_close - open - 8);
}

std::optional<std::string_view> last_boxed(std::string_view text) {
  size_t p = text.rfind("\\boxed");
  if (p == std::string_view::npos) return std::nullopt;
  size_t i = p + 6;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  int depth = 0;
  for (size_t j = i; j < text.size(); ++j) {
    if (text[j] == '{') ++depth;
    if (text[j] == '}' && --depth == 0) return text.substr(i + 1, j - i - 1);
  }
  return std::nullopt;  // unbalanced
}

std::optional<std::string_view> extract_answer(std::string_view completion) {
  std::string_view region = answer_region(completion);
  if (auto block = last_answer_block(region)) {
    if (auto boxed = last_boxed(*block)) return boxed;
    return block;
  }
  return last_boxed(region);
}

std::optional<Rational> parse_rational(std::string_view text) {
  if (text.size() > kMaxAnswerBytes) return std::nullopt;
  std::string_view s = peel(text);
  if (s.empty()) return std::nullopt;
  return Parser(s).parse_all();
}

bool rational_equal(const Rational& a, const Rational& b) {
  bool a_zero = a.num.empty(), b_zero = b.num.empty();
  if (a_zero || b_zero) return a_zero && b_zero;
  if (a.negative != b.negative) return false;
  return mul(a.num, b.den) == mul(b.num, a.den);
}

std::string to_string(const BigNat& n) {
  if (n.empty()) return "0";
  std::string out = std::to_string(n.back());
  for (size_t i = n.size() - 1; i-- > 0;) {
    std::string limb = std::to_string(n[i]);
    out.append(9 - limb.size(), '0');
    out += limb;
  }
  return out;
}

std::string normalize_answer_text(std::string_view text) {
  if (text.size() > kMaxAnswerBytes) text = text.substr(0, kMaxAnswerBytes);
  std::string_view s = peel(text);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    std::string_view rest = s.substr(i);
    bool skipped = false;
    for (std::string_view drop : {"\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "$"}) {
      if (starts_with(rest, drop)) {
        i += drop.size();
        skipped = true;
        break;
      }
    }
    if (skipped) continue;
    char c = s[i++];
    if (is_space(c)) continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace grpo::rewards
