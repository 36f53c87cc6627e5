// tokenizer/regex.h: PCRE2 (UTF + UCP, JIT) behind a small class, internal to the
// tokenizer library. Design: the compiled pattern is immutable and shared by threads; each
// thread has its own match block and JIT stack (thread_local), so matching is lock-free.
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>
#include <string_view>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace grpo::tok {

// The GPT-2 pre-tokeniser regex of ByteLevel(use_regex=true) (openai/gpt-2 encoder.py).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct PcreThreadState {
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mc = nullptr;
  pcre2_jit_stack* js = nullptr;
  PcreThreadState() {
    md = pcre2_match_data_create(1, nullptr);
    mc = pcre2_match_context_create(nullptr);
    js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(mc, nullptr, js);
  }
  ~PcreThreadState() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(js);
  }
};

// Oniguruma (which HF `tokenizers` uses) reads \s as the Unicode White_Space property;
// PCRE2 with UCP also counts U+180E MONGOLIAN VOWEL SEPARATOR (Cf since Unicode 6.3) as
// space. So \s and \S are rewritten to the exact White_Space set: [..] outside a class,
// its members inside one. (\S inside a class is rare and left as is.)
inline std::string onig_compatible(const std::string& p) {
  static const char* kWhite =
      "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
      "\\x{202F}\\x{205F}\\x{3000}";
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 's') {
        out += in_class ? std::string(kWhite) : str("[", kWhite, "]");
      } else if (n == 'S' && !in_class) {
        out += str("[^", kWhite, "]");
      } else {
        out += c;
        out += n;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
      const size_t e = p.find(":]", i + 2);
      if (e != std::string::npos) {
        out.append(p, i, e + 2 - i);
        i = e + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

inline PcreThreadState& pcre_tls() {
  thread_local PcreThreadState s;
  return s;
}

// A compiled regex. Thread-safe after construction; not copyable.
class Regex {
 public:
  // Compiles `pattern` (a regex, or a literal string when `literal`); `where` names the
  // tokenizer.json field in the error.
  Regex(const std::string& pattern, bool literal, const std::string& where) {
    const std::string compiled = literal ? pattern : onig_compatible(pattern);
    int err = 0;
    PCRE2_SIZE off = 0;
    const uint32_t opts = literal ? PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_LITERAL
                                  : PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), opts,
                          &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof buf);
      throw Error(str(where, ": cannot compile regex at offset ", off, ": ",
                      reinterpret_cast<const char*>(buf), " (pattern ", pattern, ")"));
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls f(begin, end) for each non-empty match in `s` (valid UTF-8), left to right.
  template <class F>
  void for_each_match(std::string_view s, F&& f) const {
    auto& st = pcre_tls();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t off = 0;
    while (off <= s.size()) {
      const int rc =
          jit_ ? pcre2_jit_match(code_, subject, s.size(), off, 0, st.md, st.mc)
               : pcre2_match(code_, subject, s.size(), off, PCRE2_NO_UTF_CHECK, st.md, st.mc);
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(rc, buf, sizeof buf);
        throw Error(str("tokenizer: regex match failed: ", reinterpret_cast<const char*>(buf)));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
      const size_t a = ov[0], b = ov[1];
      if (b > a) {
        f(a, b);
        off = b;
      } else {  // empty match: step over one character
        if (a >= s.size()) return;
        size_t i = a;
        next_code_point(s, i);
        off = i;
      }
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

}  // namespace grpo::tok
