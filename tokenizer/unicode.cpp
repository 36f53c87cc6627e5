// tokenizer/unicode.cpp: UTF-8 validation/repair by hand (the Unicode "maximal
// subpart" rule, Unicode 15 section 3.9, table 3-7), GPT-2's byte map, and ICU for
// normalisation and character properties.
#include "tokenizer/unicode.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <cstring>

#include "core/error.h"

namespace grpo::tok {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid; on failure
// `bad_len` is the length of the maximal invalid subpart (>= 1) to replace.
size_t utf8_seq(std::string_view s, size_t i, size_t& bad_len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  bad_len = 1;
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // valid range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) {
      bad_len = k;
      return 0;
    }
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      bad_len = k;
      return 0;
    }
  }
  return need;
}

}  // namespace

size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0, bad;
  while (i < s.size()) {
    // Fast path: eight ASCII bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const size_t n = utf8_seq(s, i, bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
  if (find_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0, bad;
  while (i < s.size()) {
    const size_t n = utf8_seq(s, i, bad);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += bad;
    }
  }
  return out;
}

char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t cp = b0 & (0x7F >> n);
  for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
  i += n;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const ByteLevelMap& ByteLevelMap::get() {
  static const ByteLevelMap m = [] {
    // GPT-2 (openai/gpt-2 encoder.py bytes_to_unicode): printable Latin-1 bytes keep their
    // code point; the other 68 bytes take U+0100, U+0101, ... in byte order.
    ByteLevelMap r;
    r.cp_to_byte_.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const char32_t cp = keep ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      append_utf8(r.byte_to_utf8[b], cp);
      r.cp_to_byte_[cp] = static_cast<int16_t>(b);
    }
    return r;
  }();
  return m;
}

int ByteLevelMap::byte_of(char32_t cp) const {
  return cp < cp_to_byte_.size() ? cp_to_byte_[cp] : -1;
}

std::string to_byte_level(std::string_view bytes) {
  const auto& m = ByteLevelMap::get();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += m.byte_to_utf8[b];
  return out;
}

std::string from_byte_level(std::string_view token) {
  const auto& m = ByteLevelMap::get();
  std::string out;
  out.reserve(token.size());
  size_t i = 0;
  while (i < token.size()) {
    const int b = m.byte_of(next_code_point(token, i));
    if (b < 0) return std::string(token);
    out.push_back(static_cast<char>(b));
  }
  return out;
}

std::string_view normalize(NormForm form, std::string_view s, std::string& scratch) {
  bool ascii = true;
  for (unsigned char c : s) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s;  // ASCII is invariant under all four forms
  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormForm::kNFC:
      n = icu::Normalizer2::getNFCInstance(ec);
      break;
    case NormForm::kNFD:
      n = icu::Normalizer2::getNFDInstance(ec);
      break;
    case NormForm::kNFKC:
      n = icu::Normalizer2::getNFKCInstance(ec);
      break;
    case NormForm::kNFKD:
      n = icu::Normalizer2::getNFKDInstance(ec);
      break;
  }
  GRPO_ENSURE(U_SUCCESS(ec) && n, "tokenizer: ICU normaliser unavailable: ", u_errorName(ec));
  const icu::StringPiece sp(s.data(), static_cast<int32_t>(s.size()));
  if (n->isNormalizedUTF8(sp, ec) && U_SUCCESS(ec)) return s;
  ec = U_ZERO_ERROR;
  scratch.clear();
  icu::StringByteSink<std::string> sink(&scratch, static_cast<int32_t>(s.size()));
  n->normalizeUTF8(0, sp, sink, nullptr, ec);
  GRPO_ENSURE(U_SUCCESS(ec), "tokenizer: normalisation failed: ", u_errorName(ec));
  return scratch;
}

bool is_whitespace(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE);
}

bool is_alphanumeric(char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC)) return true;
  const int8_t t = u_charType(c);
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

}  // namespace grpo::tok
