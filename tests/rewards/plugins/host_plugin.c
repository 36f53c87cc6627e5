/* tests/rewards/plugins/host_plugin.c: a reward plug-in built on grpo's host services
 * (grpo_reward_host_api in rewards/plugin_abi.h):
 *   math_score:  1 when the completion's answer equals the row's "answer" as math;
 *   run_score:   1 when the completion's answer, run as a Python program in the sandbox,
 *                prints "42".
 * The ground truth is read naively ({"answer":"..."} without escapes): enough for a test. */
#include <string.h>

#include "rewards/plugin_abi.h"

#define EXPORT __attribute__((visibility("default")))

static const struct grpo_reward_host_api* host;

EXPORT int grpo_reward_abi_version(void) { return GRPO_REWARD_ABI_VERSION; }

EXPORT void grpo_reward_host(const struct grpo_reward_host_api* api) { host = api; }

static int reference(const char* gt, char* out, size_t size) {
  const char* p = strstr(gt, "\"answer\":\"");
  if (!p) return -1;
  p += 10;
  const char* end = strchr(p, '"');
  if (!end || (size_t)(end - p) >= size) return -1;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = '\0';
  return 0;
}

EXPORT int math_score(const char* prompt, const char* completion, const char* gt, double* score) {
  (void)prompt;
  char answer[256], ref[256];
  if (!host || reference(gt, ref, sizeof ref) != 0) return 1;
  if (host->extract_answer(completion, answer, sizeof answer) < 0) {
    *score = 0;
    return 0;
  }
  *score = host->math_equal(answer, ref, 0.0);
  return 0;
}

EXPORT int run_score(const char* prompt, const char* completion, const char* gt, double* score) {
  (void)prompt, (void)gt;
  char program[1024], out[64];
  if (!host || host->extract_answer(completion, program, sizeof program) < 0) return 1;
  int rc = host->run_python(program, "", 1.0, out, sizeof out);
  *score = rc == 0 && strcmp(out, "42\n") == 0 ? 1.0 : 0.0;
  return 0;
}
