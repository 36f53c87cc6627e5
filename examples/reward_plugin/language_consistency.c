/* examples/reward_plugin/language_consistency.c: an example reward plugin in plain C
 * (see rewards/plugin_abi.h). It scores language consistency in the spirit of
 * DeepSeek-R1's language-consistency reward: the share of letters in the completion
 * that are ASCII (English) letters, counting every non-ASCII code point as a letter of
 * another script. Stateless, hence thread-safe.
 *
 * Exports:
 *   grpo_reward_score          the ratio; a completion without letters scores 0
 *   grpo_reward_strict_utf8    the same, but fails (returns 2) on invalid UTF-8
 * Config:
 *   rewards: [{name: plugin, weight: 0.1,
 *              args: {path: build/examples/libgrpo_example_reward_plugin.so}}]
 */
#include <stddef.h>

#include "rewards/plugin_abi.h"

#if defined(__GNUC__)
#define GRPO_EXPORT __attribute__((visibility("default")))
#else
#define GRPO_EXPORT
#endif

GRPO_EXPORT int grpo_reward_abi_version(void) { return GRPO_REWARD_ABI_VERSION; }

/* Counts ASCII letters and non-ASCII code points; returns 0 for invalid UTF-8. */
static int count_letters(const unsigned char* s, size_t* ascii, size_t* other) {
  int valid = 1;
  *ascii = 0;
  *other = 0;
  while (*s) {
    unsigned char c = *s;
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 1) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ++*ascii;
      ++s;
      continue;
    }
    size_t i = 1;
    for (; len && i < len; ++i) {
      if ((s[i] & 0xC0) != 0x80) break;
    }
    if (len == 0 || i < len) {
      valid = 0; /* skip one bad byte */
      ++s;
      continue;
    }
    ++*other;
    s += len;
  }
  return valid;
}

GRPO_EXPORT int grpo_reward_score(const char* prompt, const char* completion,
                                  const char* ground_truth_json, double* score) {
  size_t ascii, other;
  (void)prompt;
  (void)ground_truth_json;
  if (!completion || !score) return 1;
  count_letters((const unsigned char*)completion, &ascii, &other);
  *score = ascii + other == 0 ? 0.0 : (double)ascii / (double)(ascii + other);
  return 0;
}

GRPO_EXPORT int grpo_reward_strict_utf8(const char* prompt, const char* completion,
                                        const char* ground_truth_json, double* score) {
  size_t ascii, other;
  (void)prompt;
  (void)ground_truth_json;
  if (!completion || !score) return 1;
  if (!count_letters((const unsigned char*)completion, &ascii, &other)) return 2;
  *score = ascii + other == 0 ? 0.0 : (double)ascii / (double)(ascii + other);
  return 0;
}
