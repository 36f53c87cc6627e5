// tokenizer/unicode.h: the small Unicode toolkit of the tokenizer (internal):
// UTF-8 validation and lossy repair, GPT-2's byte <-> character map of byte-level BPE,
// normalisation forms (ICU) and the character classes HF uses for added tokens.
// Design: everything works on UTF-8 std::string(_view); no wide strings cross this line.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace grpo::tok {

// Offset of the first byte that is not part of valid UTF-8 (overlongs, surrogates and
// code points above U+10FFFF are invalid), or npos if `s` is valid.
size_t find_invalid_utf8(std::string_view s);

// `s` with every maximal invalid subsequence replaced by U+FFFD, the way Rust's
// String::from_utf8_lossy (and so HF decode) does it. Thread-safe.
std::string utf8_lossy(std::string_view s);

// Decodes the code point at s[i] (s valid UTF-8) and advances i.
char32_t next_code_point(std::string_view s, size_t& i);
// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, char32_t cp);

// GPT-2 bytes_to_unicode: each byte 0..255 is spelled as one printable code point.
struct ByteLevelMap {
  std::array<std::string, 256> byte_to_utf8;  // UTF-8 spelling of each byte's character
  // Byte of a code point, or -1 if the code point is not one of the 256 characters.
  int byte_of(char32_t cp) const;
  static const ByteLevelMap& get();

 private:
  std::array<int16_t, 512> cp_to_byte_{};  // all 256 characters lie below U+0200
};

// Byte-level spelling of raw bytes (e.g. " the" -> "Ġthe").
std::string to_byte_level(std::string_view bytes);
// Raw bytes of a byte-level spelling; if any character is outside the map, returns the
// token's own UTF-8 unchanged (HF's ByteLevel decoder does the same).
std::string from_byte_level(std::string_view token);

enum class NormForm { kNFC, kNFD, kNFKC, kNFKD };
// Normalises valid UTF-8 `s`; returns a view of `s` itself when it is already normal,
// else a view of `scratch`. Thread-safe.
std::string_view normalize(NormForm form, std::string_view s, std::string& scratch);

// Rust char::is_whitespace (White_Space) and char::is_alphanumeric (Alphabetic or N*),
// used for the lstrip/rstrip/single_word rules of added tokens.
bool is_whitespace(char32_t cp);
bool is_alphanumeric(char32_t cp);

}  // namespace grpo::tok
