// rewards/math_expr.cpp: tokenizer and recursive-descent parser of math answers.
// Two passes: the tokenizer maps LaTeX, plain text and a few Unicode symbols to one token
// stream (spacing and sizing commands dropped, \text{} content kept as a word token, digit
// groups joined into exact number tokens); the parser builds the Expr tree. Any failure
// is a ParseError caught in parse_answer(), which then keeps only the normalised text.
#include "rewards/math_expr.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace grpo::rewards::math {
namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Kind = Expr::Kind;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
bool contains(std::initializer_list<std::string_view> set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

Expr node(Kind k, std::vector<Expr> args = {}, std::string text = {}) {
  Expr e;
  e.kind = k;
  e.args = std::move(args);
  e.text = std::move(text);
  return e;
}
Expr sym(std::string name) { return node(Kind::kSym, {}, std::move(name)); }

// ---------------------------------------------------------------------------------------
// Wrappers around the whole answer.

// Content of a braced group starting at s[i] == '{' (balanced), or npos when unbalanced.
size_t matching_brace(std::string_view s, size_t i) {
  int depth = 0;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] == '\\' && j + 1 < s.size()) {
      ++j;  // \{ and \} do not count
      continue;
    }
    if (s[j] == '{') ++depth;
    if (s[j] == '}' && --depth == 0) return j;
  }
  return std::string_view::npos;
}

bool unwrap(std::string_view& s, std::string_view open, std::string_view close) {
  if (s.size() >= open.size() + close.size() && starts_with(s, open) && ends_with(s, close)) {
    s = trim(s.substr(open.size(), s.size() - open.size() - close.size()));
    return true;
  }
  return false;
}

// \boxed{X} / \fbox{X} spanning the whole text -> X.
bool unwrap_command(std::string_view& s, std::string_view cmd) {
  if (!starts_with(s, cmd)) return false;
  std::string_view rest = trim(s.substr(cmd.size()));
  if (rest.empty() || rest[0] != '{' || matching_brace(rest, 0) != rest.size() - 1) return false;
  s = trim(rest.substr(1, rest.size() - 2));
  return true;
}

std::string_view peel(std::string_view s) {
  s = trim(s);
  for (int round = 0; round < kMaxDepth; ++round) {
    std::string_view before = s;
    if (s.size() >= 2 && s.back() == '.') s.remove_suffix(1);  // "= 18." ("5." is 5 anyway)
    s = trim(s);
    if (unwrap(s, "$$", "$$") || unwrap(s, "$", "$") || unwrap(s, "\\(", "\\)") ||
        unwrap(s, "\\[", "\\]") || unwrap_command(s, "\\boxed") || unwrap_command(s, "\\fbox") ||
        unwrap_command(s, "\\displaystyle")) {
      continue;
    }
    if (starts_with(s, "\\displaystyle")) s = trim(s.substr(13));
    if (s == before) break;
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Tokens.

struct Tok {
  enum class T { kNum, kIdent, kCmd, kPunct, kWord, kEnd };
  T t = T::kEnd;
  std::string s;  // digits / name / command name / punctuation / word
  int scale = 0;  // kNum
};

constexpr std::array<std::string_view, 23> kFunctions = {
    "sin", "cos", "tan", "cot", "sec",  "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "log", "ln",  "lg",  "exp", "sqrt", "det", "gcd",    "lcm",    "max",    "min",  "abs"};

bool is_function(std::string_view name) {
  return std::find(kFunctions.begin(), kFunctions.end(), name) != kFunctions.end();
}

// Spacing, sizing and style commands that carry no value.
bool is_skipped_command(std::string_view n) {
  return contains({"left",         "right",     "big",         "Big",          "bigg",    "Bigg",
                   "bigl",         "bigr",      "Bigl",        "Bigr",         "biggl",   "biggr",
                   "displaystyle", "textstyle", "scriptstyle", "quad",         "qquad",   "limits",
                   "nolimits",     "middle",    "hspace",      "phantom",      "dots",    "ldots",
                   "cdots",        "enspace",   "thinspace",   "negthinspace", "nonumber"},
                  n);
}

// Commands whose braced argument is text or a name.
bool is_text_command(std::string_view n) {
  return contains(
      {"text",       "textbf",       "textit", "textrm", "textnormal", "textsf", "texttt",
       "mbox",       "hbox",         "mathrm", "mathbf", "mathit",     "mathsf", "mathtt",
       "mathnormal", "operatorname", "emph",   "bm",     "boldsymbol", "mathbb", "mathcal"},
      n);
}

std::string canonical_command(std::string n) {
  if (n == "dfrac" || n == "tfrac" || n == "cfrac") return "frac";
  if (n == "dbinom" || n == "tbinom") return "binom";
  if (n == "leq" || n == "leqslant" || n == "leqq") return "le";
  if (n == "geq" || n == "geqslant" || n == "geqq") return "ge";
  if (n == "neq") return "ne";
  if (n == "lbrace") return "{";
  if (n == "rbrace") return "}";
  if (n == "varnothing" || n == "empty") return "emptyset";
  if (n == "lvert" || n == "rvert" || n == "vert" || n == "mid") return "|";
  if (n == "degree") return "circ";
  return n;
}

// Unicode symbols mapped to a command or punctuation; returns bytes consumed (0: none).
size_t unicode_symbol(std::string_view s, std::string* cmd, char* punct) {
  struct Map {
    std::string_view utf8, cmd;
    char punct;
  };
  static constexpr Map kMap[] = {
      {"\xE2\x88\x92", "", '-'},   {"\xC3\x97", "", '*'},           {"\xC3\xB7", "", '/'},
      {"\xE2\x8B\x85", "", '*'},   {"\xC2\xB7", "", '*'},           {"\xCF\x80", "pi", 0},
      {"\xE2\x88\x9A", "sqrt", 0}, {"\xE2\x88\x9E", "infty", 0},    {"\xE2\x89\xA4", "le", 0},
      {"\xE2\x89\xA5", "ge", 0},   {"\xE2\x89\xA0", "ne", 0},       {"\xC2\xB0", "circ", 0},
      {"\xE2\x88\xAA", "cup", 0},  {"\xC2\xB1", "pm", 0},           {"\xE2\x88\x88", "in", 0},
      {"\xE2\x80\x89", " ", 0},    {"\xE2\x80\xAF", " ", 0},        {"\xC2\xA0", " ", 0},
      {"\xE2\x80\x8A", " ", 0},    {"\xE2\x88\x85", "emptyset", 0},
  };
  for (const Map& m : kMap) {
    if (starts_with(s, m.utf8)) {
      *cmd = std::string(m.cmd);
      *punct = m.punct;
      return m.utf8.size();
    }
  }
  return 0;
}

// A thousands separator at s[i] followed by exactly three digits: its length, else 0.
size_t thousands_separator(std::string_view s, size_t i) {
  for (std::string_view sep :
       {",", "\\,", "{,}", "\\ ", "\\;", "\xE2\x80\x89", "\xE2\x80\xAF", "\xC2\xA0", "~", " "}) {
    if (s.substr(i, sep.size()) != sep) continue;
    size_t d = i + sep.size();
    if (d + 3 <= s.size() && is_digit(s[d]) && is_digit(s[d + 1]) && is_digit(s[d + 2]) &&
        (d + 3 == s.size() || !is_digit(s[d + 3]))) {
      return sep.size();
    }
  }
  return 0;
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view s) : s_(s) {}
  std::vector<Tok> run(int depth = 0);

 private:
  std::string_view s_;
  size_t i_ = 0;
  int single_digits_ = 0;  // \frac12: the next digits are one-digit arguments
  std::vector<Tok> out_;

  void push(Tok::T t, std::string s, int scale = 0) { out_.push_back({t, std::move(s), scale}); }
  void number();
  void letters();
  void command(int depth);
  void text_command(const std::string& name, int depth);
  std::string braced_raw();
};

void Tokenizer::number() {
  if (single_digits_ > 0 && is_digit(s_[i_])) {
    --single_digits_;
    push(Tok::T::kNum, std::string(1, s_[i_++]));
    return;
  }
  std::string digits;
  size_t start = i_;
  while (i_ < s_.size() && is_digit(s_[i_])) digits.push_back(s_[i_++]);
  if (i_ - start >= 1 && i_ - start <= 3) {
    while (size_t sep = thousands_separator(s_, i_)) {
      digits.append(s_.substr(i_ + sep, 3));
      i_ += sep + 3;
    }
  }
  int scale = 0;
  if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
    for (++i_; i_ < s_.size() && is_digit(s_[i_]); ++scale) digits.push_back(s_[i_++]);
  }
  // Scientific notation 1e5, 2.5E-3 (not followed by a letter: "2ex" is 2*e*x).
  if (!digits.empty() && i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
    size_t j = i_ + 1;
    bool neg = j < s_.size() && s_[j] == '-';
    if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ++j;
    size_t k = j;
    while (k < s_.size() && is_digit(s_[k]) && k - j < 6) ++k;
    if (k > j && (k == s_.size() || !is_alpha(s_[k]))) {
      int exp = std::stoi(std::string(s_.substr(j, k - j)));
      scale += neg ? exp : -exp;
      i_ = k;
    }
  }
  if (digits.empty()) throw ParseError("lone '.'");
  push(Tok::T::kNum, digits, scale);
}

void Tokenizer::letters() {
  size_t start = i_;
  while (i_ < s_.size() && is_alpha(s_[i_])) ++i_;
  std::string run(s_.substr(start, i_ - start));
  std::string lower = run;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (run.size() == 1) {
    push(Tok::T::kIdent, run);
  } else if (is_function(lower) || contains({"pi", "inf", "infty", "infinity", "oo"}, lower)) {
    push(Tok::T::kIdent, lower);
  } else if (run.size() >= 3 || contains({"cm", "mm", "km", "kg", "ft", "mi", "ml", "hr", "or",
                                          "is", "in", "yd", "lb", "oz", "mg", "sq"},
                                         lower)) {
    push(Tok::T::kWord, lower);
  } else {
    for (char c : run) push(Tok::T::kIdent, std::string(1, c));  // "xy" is x * y
  }
}

std::string Tokenizer::braced_raw() {
  while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  if (i_ >= s_.size() || s_[i_] != '{') {
    if (i_ < s_.size() && is_alpha(s_[i_])) return std::string(1, s_[i_++]);  // \mathrm e
    throw ParseError("expected '{'");
  }
  size_t close = matching_brace(s_, i_);
  if (close == std::string_view::npos) throw ParseError("unbalanced '{'");
  std::string inside(s_.substr(i_ + 1, close - i_ - 1));
  i_ = close + 1;
  return inside;
}

// \text{...} and friends: a word token when the content holds a word, else its tokens.
void Tokenizer::text_command(const std::string& name, int depth) {
  std::string inside = braced_raw();
  std::string_view t = trim(inside);
  if (t.empty()) return;
  if (name == "operatorname") {
    push(Tok::T::kIdent, std::string(t));
    return;
  }
  bool has_word = false;
  for (size_t k = 0; k + 1 < t.size(); ++k) {
    if (is_alpha(t[k]) && is_alpha(t[k + 1])) has_word = true;
  }
  if (has_word) {
    std::string lower;
    for (char c : t) {
      if (!is_space(c))
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    push(Tok::T::kWord, lower);
    return;
  }
  std::vector<Tok> inner = Tokenizer(t).run(depth + 1);
  out_.insert(out_.end(), inner.begin(), inner.end());
}

void Tokenizer::command(int depth) {
  ++i_;  // '\'
  if (i_ >= s_.size()) throw ParseError("trailing backslash");
  char c = s_[i_];
  if (!is_alpha(c)) {
    ++i_;
    if (c == '\\')
      push(Tok::T::kPunct, "\\\\");
    else if (c == '{' || c == '}')
      push(Tok::T::kCmd, std::string(1, c));
    else if (c == '%')
      push(Tok::T::kPunct, "%");
    else if (c == '|')
      push(Tok::T::kPunct, "|");
    return;  // \, \; \: \! "\ " are spacing, "\$" a currency sign
  }
  size_t start = i_;
  while (i_ < s_.size() && is_alpha(s_[i_])) ++i_;
  std::string name = canonical_command(std::string(s_.substr(start, i_ - start)));
  if (name == "left" || name == "right") {
    if (i_ < s_.size() && s_[i_] == '.') ++i_;  // \left. and \right. are invisible
    return;
  }
  if (is_skipped_command(name)) return;
  if (is_text_command(name)) return text_command(name, depth);
  if (name == "begin" || name == "end") {
    std::string env = braced_raw();
    if (name == "begin" && env == "array") braced_raw();  // column spec
    push(Tok::T::kCmd, name + ":" + env);
    return;
  }
  // \frac12 is \frac{1}{2}, \sqrt2 is \sqrt{2}: digits right after the name are one each.
  bool digit_next = i_ < s_.size() && is_digit(s_[i_]);
  if (digit_next && (name == "frac" || name == "binom")) single_digits_ = 2;
  if (digit_next && name == "sqrt") single_digits_ = 1;
  if (name == "boxed" || name == "fbox") return;  // its braces parse as a group
  push(Tok::T::kCmd, name);
}

std::vector<Tok> Tokenizer::run(int depth) {
  if (depth > 8) throw ParseError("\\text nested too deep");
  while (i_ < s_.size()) {
    char c = s_[i_];
    std::string cmd;
    char punct = 0;
    if (!is_digit(c) && !is_space(c)) single_digits_ = 0;  // \frac1{2}: the run ended
    if (is_space(c)) {
      ++i_;
    } else if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
      number();
    } else if (is_alpha(c)) {
      letters();
    } else if (c == '\\') {
      command(depth);
    } else if (size_t n = unicode_symbol(s_.substr(i_), &cmd, &punct)) {
      i_ += n;
      if (punct)
        push(Tok::T::kPunct, std::string(1, punct));
      else if (cmd != " ")
        push(Tok::T::kCmd, cmd);
    } else if (c == '*' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
      i_ += 2;
      push(Tok::T::kPunct, "^");
    } else if ((c == '<' || c == '>' || c == '!') && i_ + 1 < s_.size() && s_[i_ + 1] == '=') {
      i_ += 2;
      push(Tok::T::kCmd, c == '<' ? "le" : c == '>' ? "ge" : "ne");
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      throw ParseError("unknown character");
    } else {
      ++i_;
      if (c != '$' && c != '~') push(Tok::T::kPunct, std::string(1, c));
    }
  }
  return std::move(out_);
}

// Drops degree marks: "^\circ", "^{\circ}", "\circ".
std::vector<Tok> drop_degrees(std::vector<Tok> toks) {
  std::vector<Tok> out;
  for (size_t k = 0; k < toks.size(); ++k) {
    bool circ = toks[k].t == Tok::T::kCmd && toks[k].s == "circ";
    if (!circ) {
      out.push_back(std::move(toks[k]));
      continue;
    }
    bool braced = !out.empty() && out.back().t == Tok::T::kPunct && out.back().s == "{" &&
                  k + 1 < toks.size() && toks[k + 1].s == "}";
    if (braced) {
      out.pop_back();
      ++k;
    }
    if (!out.empty() && out.back().t == Tok::T::kPunct && out.back().s == "^") out.pop_back();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Parser.

class Parser {
 public:
  explicit Parser(std::vector<Tok> toks) : t_(std::move(toks)) { t_.push_back({}); }
  Expr top() {
    Expr e = list(/*top=*/true);
    if (!at_end()) throw ParseError("unexpected token '" + peek().s + "'");
    return e;
  }

 private:
  std::vector<Tok> t_;
  size_t p_ = 0;
  int depth_ = 0;

  struct Depth {
    explicit Depth(int& d) : d_(d) {
      if (++d_ > kMaxDepth) throw ParseError("nested too deep");
    }
    ~Depth() { --d_; }
    int& d_;
  };

  const Tok& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  bool at_end() const { return peek().t == Tok::T::kEnd; }
  bool is(Tok::T t, std::string_view s, size_t ahead = 0) const {
    return peek(ahead).t == t && peek(ahead).s == s;
  }
  bool punct(std::string_view s) const { return is(Tok::T::kPunct, s); }
  bool cmd(std::string_view s) const { return is(Tok::T::kCmd, s); }
  bool eat_punct(std::string_view s) {
    if (!punct(s)) return false;
    ++p_;
    return true;
  }
  bool eat_cmd(std::string_view s) {
    if (!cmd(s)) return false;
    ++p_;
    return true;
  }
  void expect_punct(std::string_view s) {
    if (!eat_punct(s)) throw ParseError("expected '" + std::string(s) + "'");
  }

  bool list_separator(bool top) {
    if (eat_punct(",") || eat_punct(";")) return true;
    if (top && (is(Tok::T::kWord, "or") || is(Tok::T::kWord, "and"))) {
      ++p_;
      return true;
    }
    return false;
  }

  Expr list(bool top);
  Expr union_item();
  Expr relation();
  Expr sum();
  Expr product();
  bool starts_factor() const;
  Expr power();
  Expr postfix(Expr base);
  Expr exponent();
  Expr primary();
  Expr number();
  Expr group();
  Expr bracketed(char open);
  Expr function(std::string name);
  Expr command();
  Expr matrix(const std::string& env);
  Expr set_literal();
};

Expr Parser::list(bool top) {
  Depth d(depth_);
  std::vector<Expr> items;
  items.push_back(union_item());
  while (list_separator(top)) items.push_back(union_item());
  if (items.size() == 1) return std::move(items[0]);
  return node(Kind::kList, std::move(items));
}

Expr Parser::union_item() {
  Expr e = relation();
  if (!cmd("cup")) return e;
  std::vector<Expr> parts{std::move(e)};
  while (eat_cmd("cup")) parts.push_back(relation());
  return node(Kind::kUnion, std::move(parts));
}

bool is_relation_token(const Tok& t) {
  if (t.t == Tok::T::kPunct) return t.s == "=" || t.s == "<" || t.s == ">";
  return t.t == Tok::T::kCmd &&
         contains({"le", "ge", "ne", "lt", "gt", "in", "approx", "equiv"}, t.s);
}

Expr Parser::relation() {
  std::vector<Expr> sides{sum()};
  std::string ops;
  while (is_relation_token(peek())) {
    std::string op = peek().s;
    if (op == "lt") op = "<";
    if (op == "gt") op = ">";
    if (op == "approx" || op == "equiv") op = "=";
    ++p_;
    ops += (ops.empty() ? "" : " ") + op;
    sides.push_back(sum());
  }
  if (sides.size() == 1) return std::move(sides[0]);
  return node(Kind::kRel, std::move(sides), ops);
}

Expr Parser::sum() {
  Depth d(depth_);
  Expr acc;
  if (eat_punct("-")) {
    acc = node(Kind::kNeg, {product()});
  } else if (eat_cmd("pm") || eat_cmd("mp")) {
    Expr zero;
    zero.text = "0";
    acc = node(Kind::kPm, {zero, product()});
  } else {
    eat_punct("+");
    acc = product();
  }
  for (;;) {
    if (eat_punct("+")) {
      acc = node(Kind::kAdd, {std::move(acc), product()});
    } else if (eat_punct("-")) {
      acc = node(Kind::kAdd, {std::move(acc), node(Kind::kNeg, {product()})});
    } else if (eat_cmd("pm") || eat_cmd("mp")) {
      acc = node(Kind::kPm, {std::move(acc), product()});
    } else if (eat_cmd("over")) {
      acc = node(Kind::kDiv, {std::move(acc), sum()});
    } else {
      return acc;
    }
  }
}

bool Parser::starts_factor() const {
  const Tok& t = peek();
  switch (t.t) {
    case Tok::T::kNum:
    case Tok::T::kIdent:
      return true;
    case Tok::T::kPunct:
      return t.s == "(" || t.s == "{";
    case Tok::T::kCmd:
      return !is_relation_token(t) &&
             !contains({"cdot", "times", "div", "pm", "mp", "cup", "over", "}", "rfloor", "rceil",
                        "rangle", "to", "quad"},
                       t.s) &&
             t.s.rfind("end:", 0) != 0;
    default:
      return false;
  }
}

Expr Parser::product() {
  Depth d(depth_);
  Expr acc = power();
  for (;;) {
    if (eat_punct("*") || eat_cmd("cdot") || eat_cmd("times") || eat_cmd("ast")) {
      acc = node(Kind::kMul, {std::move(acc), power()});
    } else if (eat_punct("/") || eat_cmd("div")) {
      acc = node(Kind::kDiv, {std::move(acc), power()});
    } else if (starts_factor()) {
      bool integer = acc.kind == Kind::kNum && acc.scale == 0;
      Expr next = power();
      // Mixed number: 3\frac{1}{2} is 3 + 1/2.
      bool mixed = integer && next.kind == Kind::kDiv && next.args[0].kind == Kind::kNum &&
                   next.args[1].kind == Kind::kNum && next.args[0].scale == 0 &&
                   next.args[1].scale == 0 && next.text == "frac";
      acc = node(mixed ? Kind::kAdd : Kind::kMul, {std::move(acc), std::move(next)});
    } else {
      return acc;
    }
  }
}

Expr Parser::power() {
  Depth d(depth_);
  return postfix(primary());
}

// '^' exponent, '!', '%', subscripts and units after a value.
Expr Parser::postfix(Expr base) {
  for (;;) {
    if (eat_punct("^")) {
      base = node(Kind::kPow, {std::move(base), exponent()});
    } else if (eat_punct("!")) {
      base = node(Kind::kFactorial, {std::move(base)});
    } else if (eat_punct("%")) {
      base = node(Kind::kPercent, {std::move(base)});
    } else if (punct("_") && base.kind == Kind::kSym) {
      ++p_;
      Expr sub = punct("{") ? group() : primary();
      base.text += "_" + to_debug_string(sub);
    } else if (peek().t == Tok::T::kWord && !contains({"or", "and", "is"}, peek().s)) {
      ++p_;  // a unit: "18 dollars", 5\text{ cm}^2
      if (eat_punct("^")) exponent();
    } else {
      return base;
    }
  }
}

Expr Parser::exponent() {
  if (punct("{")) return group();
  if (eat_punct("-")) return node(Kind::kNeg, {postfix(primary())});
  eat_punct("+");
  return postfix(primary());  // plain 2^10 is 2^{10}: a whole number token is the exponent
}

Expr Parser::number() {
  Expr e;
  e.kind = Kind::kNum;
  e.text = peek().s;
  e.scale = peek().scale;
  ++p_;
  return e;
}

// '{' list '}' (a LaTeX group): its single item, or a list.
Expr Parser::group() {
  expect_punct("{");
  if (eat_punct("}")) throw ParseError("empty group");
  Expr e = list(false);
  expect_punct("}");
  return e;
}

// '(' or '[' opened; items until ')' or ']': grouping, tuple or interval.
Expr Parser::bracketed(char open) {
  std::vector<Expr> items;
  items.push_back(union_item());
  while (eat_punct(",") || eat_punct(";")) items.push_back(union_item());
  char close = punct(")") ? ')' : punct("]") ? ']' : 0;
  if (!close) throw ParseError("unclosed bracket");
  ++p_;
  if (items.size() == 1 && open == '(' && close == ')') return std::move(items[0]);
  if (items.size() == 1 && open == '[' && close == ']') return std::move(items[0]);
  if (items.size() == 1) throw ParseError("half-open bracket around one value");
  return node(Kind::kTuple, std::move(items), std::string{open, close});
}

Expr Parser::function(std::string name) {
  if (name == "lg") name = "log10";
  Expr base;
  bool has_base = false;
  if (name == "log" && eat_punct("_")) {
    base = punct("{") ? group() : primary();
    has_base = true;
  }
  std::optional<Expr> pow;
  if (eat_punct("^")) pow = exponent();  // \sin^2 x
  Expr arg;
  if (punct("(") || punct("{")) {
    arg = power();
  } else {
    arg = power();
    while (peek().t != Tok::T::kEnd && (peek().t == Tok::T::kNum || peek().t == Tok::T::kIdent) &&
           !(peek().t == Tok::T::kIdent && is_function(peek().s))) {
      arg = node(Kind::kMul, {std::move(arg), power()});  // \sin 2x is sin(2x)
    }
  }
  Expr f = node(Kind::kFunc,
                has_base ? std::vector<Expr>{std::move(arg), std::move(base)}
                         : std::vector<Expr>{std::move(arg)},
                name);
  if (pow) f = node(Kind::kPow, {std::move(f), std::move(*pow)});
  return f;
}

Expr Parser::matrix(const std::string& env) {
  std::vector<Expr> rows;
  std::vector<Expr> cells;
  for (;;) {
    if (eat_cmd("end:" + env)) break;
    if (at_end()) throw ParseError("unclosed matrix");
    cells.push_back(sum());
    if (eat_punct("&")) continue;
    if (eat_punct("\\\\") || cmd("end:" + env)) {
      rows.push_back(node(Kind::kList, std::move(cells)));
      cells.clear();
      continue;
    }
    throw ParseError("bad matrix cell");
  }
  if (!cells.empty()) rows.push_back(node(Kind::kList, std::move(cells)));
  if (rows.empty()) throw ParseError("empty matrix");
  for (const Expr& r : rows) {
    if (r.args.size() != rows[0].args.size()) throw ParseError("ragged matrix");
  }
  return node(Kind::kMatrix, std::move(rows));
}

Expr Parser::set_literal() {
  if (eat_cmd("}")) return node(Kind::kSet);
  std::vector<Expr> items;
  items.push_back(union_item());
  while (eat_punct(",") || eat_punct(";")) items.push_back(union_item());
  if (!eat_cmd("}")) throw ParseError("unclosed set");
  return node(Kind::kSet, std::move(items));
}

Expr Parser::command() {
  std::string name = peek().s;
  ++p_;
  if (name == "frac") {
    Expr a = punct("{") ? group() : primary();
    Expr b = punct("{") ? group() : primary();
    Expr e = node(Kind::kDiv, {std::move(a), std::move(b)}, "frac");
    return e;
  }
  if (name == "sqrt") {
    if (eat_punct("[")) {
      Expr n = sum();
      expect_punct("]");
      return node(Kind::kFunc, {punct("{") ? group() : primary(), std::move(n)}, "root");
    }
    return node(Kind::kFunc, {punct("{") ? group() : primary()}, "sqrt");
  }
  if (name == "binom") {
    Expr a = punct("{") ? group() : primary();
    Expr b = punct("{") ? group() : primary();
    return node(Kind::kFunc, {std::move(a), std::move(b)}, "binom");
  }
  if (name == "pi") return sym("pi");
  if (name == "infty") return sym("infty");
  if (name == "emptyset") return node(Kind::kSet);
  if (name == "{") return set_literal();
  if (name == "lfloor" || name == "lceil") {
    Expr e = sum();
    if (!eat_cmd(name == "lfloor" ? "rfloor" : "rceil")) throw ParseError("unclosed floor");
    return node(Kind::kFunc, {std::move(e)}, name == "lfloor" ? "floor" : "ceil");
  }
  if (name == "langle") {
    std::vector<Expr> items{sum()};
    while (eat_punct(",")) items.push_back(sum());
    if (!eat_cmd("rangle")) throw ParseError("unclosed angle bracket");
    return node(Kind::kTuple, std::move(items), "()");
  }
  if (name == "|") {
    Expr e = sum();
    if (!eat_cmd("|") && !eat_punct("|")) throw ParseError("unclosed |");
    return node(Kind::kFunc, {std::move(e)}, "abs");
  }
  if (name.rfind("begin:", 0) == 0) {
    std::string env = name.substr(6);
    if (!contains({"pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix", "array"}, env))
      throw ParseError("unsupported environment");
    return matrix(env);
  }
  if (is_function(name)) return function(name);
  if (name == "alpha" || name == "beta" || name == "gamma" || name == "theta" || name == "phi" ||
      name == "lambda" || name == "mu" || name == "omega" || name == "sigma" || name == "tau" ||
      name == "delta" || name == "epsilon" || name == "varepsilon" || name == "rho") {
    return sym(name);
  }
  throw ParseError("unknown command \\" + name);
}

Expr Parser::primary() {
  Depth d(depth_);
  const Tok& t = peek();
  switch (t.t) {
    case Tok::T::kNum:
      return number();
    case Tok::T::kIdent: {
      std::string s = t.s;
      ++p_;
      if (is_function(s)) return function(s);
      if (s == "inf" || s == "infty" || s == "infinity" || s == "oo") return sym("infty");
      return sym(s);
    }
    case Tok::T::kCmd:
      return command();
    case Tok::T::kPunct:
      if (eat_punct("(")) return bracketed('(');
      if (eat_punct("[")) return bracketed('[');
      if (punct("{")) return group();
      if (eat_punct("|")) {
        Expr e = sum();
        expect_punct("|");
        return node(Kind::kFunc, {std::move(e)}, "abs");
      }
      throw ParseError("unexpected '" + t.s + "'");
    default:
      throw ParseError("unexpected word or end");
  }
}

// ---------------------------------------------------------------------------------------
// Whole answers.

// "(B)", "B", "B)", "(B) 12", "\textbf{(B)} 12" -> 'B'; 0 when not a choice.
char choice_letter(std::string_view s) {
  std::string flat;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {  // drop command names, keep their arguments
      while (i + 1 < s.size() && is_alpha(s[i + 1])) ++i;
      continue;
    }
    if (s[i] != '{' && s[i] != '}' && s[i] != '$') flat.push_back(s[i]);
  }
  std::string_view f = trim(flat);
  auto letter = [](char c) { return c >= 'A' && c <= 'E'; };
  if (f.size() == 1 && letter(f[0])) return f[0];
  if (f.size() == 2 && letter(f[0]) && (f[1] == ')' || f[1] == '.')) return f[0];
  if (f.size() >= 3 && f[0] == '(' && letter(f[1]) && f[2] == ')') return f[1];
  return 0;
}

// "3 1/2" (plain mixed number) -> "3+1/2"; other text unchanged.
std::string plain_mixed_number(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0 || i >= s.size() || s[i] != ' ') return std::string(s);
  size_t j = i + 1, k = j;
  while (k < s.size() && is_digit(s[k])) ++k;
  if (k == j || k >= s.size() || s[k] != '/') return std::string(s);
  size_t m = k + 1, n = m;
  while (n < s.size() && is_digit(s[n])) ++n;
  if (n == m || n != s.size()) return std::string(s);
  return std::string(s.substr(0, i)) + "+" + std::string(s.substr(j));
}

}  // namespace

std::string normalize_text(std::string_view text) {
  if (text.size() > kMaxAnswerBytes) text = text.substr(0, kMaxAnswerBytes);
  std::string_view s = peel(text);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '\\' && i + 1 < s.size() && is_alpha(s[i + 1])) {
      size_t j = i + 1;
      while (j < s.size() && is_alpha(s[j])) ++j;
      std::string name(s.substr(i + 1, j - i - 1));
      if (is_text_command(name) && j < s.size() && s[j] == '{') {
        size_t close = matching_brace(s, j);  // markup: keep only its argument
        if (close != std::string_view::npos) {
          out += normalize_text(s.substr(j + 1, close - j - 1));
          i = close + 1;
          continue;
        }
      }
      if (is_text_command(name) || is_skipped_command(name) || name == "left" || name == "right") {
        i = j;
        continue;
      }
      out += s.substr(i, j - i);
      i = j;
      continue;
    }
    if (s[i] == '\\' && i + 1 < s.size() &&
        contains({",", ";", ":", "!", " "}, std::string_view(&s[i + 1], 1))) {
      i += 2;
      continue;
    }
    char c = s[i++];
    if (is_space(c) || c == '$') continue;  // braces stay: \frac{1}{x+1} != \frac{1}{x}+1
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

ParsedAnswer parse_answer(std::string_view text) {
  ParsedAnswer a;
  if (text.size() > kMaxAnswerBytes) {
    a.text = normalize_text(text);
    return a;
  }
  a.text = normalize_text(text);
  std::string_view s = peel(text);
  a.choice = choice_letter(s);
  try {
    std::vector<Tok> toks = drop_degrees(Tokenizer(plain_mixed_number(s)).run());
    if (toks.empty()) return a;
    size_t words = 0;
    bool all_words = true;
    for (const Tok& t : toks) {
      if (t.t == Tok::T::kWord && t.s != "or" && t.s != "and") ++words;
      if (t.t != Tok::T::kWord && !(t.t == Tok::T::kPunct && t.s != "(" && t.s != ")")) {
        all_words = false;
      }
    }
    if (all_words && words > 0) {
      a.root = node(Kind::kText, {}, a.text);
      a.ok = true;
      return a;
    }
    // Prose ("He has 3 apples and 4 pears, so 7"): not an expression with a unit or two.
    if (words >= 3 || toks[0].t == Tok::T::kWord) return a;
    a.root = Parser(std::move(toks)).top();
    a.ok = true;
  } catch (const std::exception&) {
    a.ok = false;
  }
  return a;
}

std::string to_debug_string(const Expr& e) {
  static constexpr const char* kNames[] = {"num", "sym",  "add",  "mul",   "div",    "pow",
                                           "neg", "func", "fact", "pct",   "pm",     "tuple",
                                           "set", "list", "rel",  "union", "matrix", "text"};
  if (e.kind == Kind::kNum) {
    return e.scale == 0 ? e.text : e.text + "e" + std::to_string(-e.scale);
  }
  if (e.kind == Kind::kSym || e.kind == Kind::kText) return e.text;
  std::string out = "(" + std::string(kNames[static_cast<int>(e.kind)]);
  if (!e.text.empty()) out += ":" + e.text;
  for (const Expr& a : e.args) out += " " + to_debug_string(a);
  return out + ")";
}

}  // namespace grpo::rewards::math
