/* tests/rewards/plugins/stall_plugin.c: misbehaving reward plug-ins (C ABI of
 * rewards/plugin_abi.h) for the deadline tests of issue 19 item 7:
 *   slow_score:  takes 1.5 s per call, then scores 1;
 *   hang_score:  never returns when the completion is "hang", else scores 1;
 *   fast_score:  scores 0.5 at once (a healthy plug-in beside the others).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rewards/plugin_abi.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int grpo_reward_abi_version(void) { return GRPO_REWARD_ABI_VERSION; }

EXPORT int slow_score(const char* prompt, const char* completion, const char* gt, double* score) {
  (void)prompt, (void)completion, (void)gt;
  struct timespec t = {1, 500000000};
  while (nanosleep(&t, &t) != 0) {
  }
  *score = 1.0;
  return 0;
}

EXPORT int hang_score(const char* prompt, const char* completion, const char* gt, double* score) {
  (void)prompt, (void)gt;
  if (strcmp(completion, "hang") == 0) {
    for (;;) pause(); /* never returns */
  }
  *score = 1.0;
  return 0;
}

EXPORT int fast_score(const char* prompt, const char* completion, const char* gt, double* score) {
  (void)prompt, (void)completion, (void)gt;
  *score = 0.5;
  return 0;
}
