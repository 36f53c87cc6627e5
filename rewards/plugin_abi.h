/* rewards/plugin_abi.h: the C ABI of reward plugins (shared libraries loaded at run time
 * by the `plugin` reward). Plain C so a plugin can be written in C, C++, Rust or Zig
 * without grpo's headers or libraries.
 *
 * A plugin exports:
 *   int grpo_reward_abi_version(void);          must return GRPO_REWARD_ABI_VERSION
 *   int <symbol>(const char* prompt, const char* completion,
 *                const char* ground_truth_json, double* score);
 * where <symbol> is the `symbol` arg of the reward (default "grpo_reward_score"). One
 * library may export several scoring functions under different names.
 *
 * Contract of the scoring function:
 *  - inputs are NUL-terminated UTF-8 (completion bytes are passed as generated; a NUL
 *    byte inside a completion ends it early); ground_truth_json is the row's ground-truth
 *    object serialised as JSON, e.g. {"answer":"3/4"};
 *  - it writes the score to *score and returns 0; a non-zero return means failure (the
 *    sample gets the reward's fallback_score and the failure is counted as `thrown`);
 *    a NaN or infinite score is counted as `nan`;
 *  - it is called concurrently from several threads: it must be thread-safe (or the
 *    reward is configured with serialize: true, then calls are made one at a time);
 *  - it must not keep the pointers after returning, nor throw C++ exceptions across
 *    the boundary, nor call exit().
 * Optional export, called once after loading, before any scoring:
 *   int grpo_reward_init(const char* args_json);   non-zero return: loading fails
 * args_json is the `init` arg of the reward serialised as JSON ("{}" when absent).
 *
 * Optional export, called once after loading, before grpo_reward_init (host services:
 * grpo's math check and sandbox as building blocks for a plug-in's own rule):
 *   void grpo_reward_host(const struct grpo_reward_host_api* api);
 * The table and its functions stay valid until the process exits; they are thread-safe.
 *
 * Config:  rewards: [{name: plugin, args: {path: ./libmy_reward.so, symbol: my_score}}]
 * The library stays loaded until the process exits.
 */
#ifndef GRPO_REWARDS_PLUGIN_ABI_H_
#define GRPO_REWARDS_PLUGIN_ABI_H_

#define GRPO_REWARD_ABI_VERSION 1

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*grpo_reward_abi_version_fn)(void);
typedef int (*grpo_reward_score_fn)(const char* prompt, const char* completion,
                                    const char* ground_truth_json, double* score);
typedef int (*grpo_reward_init_fn)(const char* args_json);

#define GRPO_REWARD_HOST_API_VERSION 1

/* Services grpo offers to plug-ins (see grpo_reward_host above). Strings are NUL-terminated
 * UTF-8; `out` buffers are written NUL-terminated and truncated to out_size. */
struct grpo_reward_host_api {
  int version; /* GRPO_REWARD_HOST_API_VERSION */
  /* 1 when the answer `prediction` equals `reference` as math (rewards/math_equiv.h:
   * exact, symbolic, structured), else 0. rel_tol <= 0 means the default (1e-9). */
  int (*math_equal)(const char* prediction, const char* reference, double rel_tol);
  /* The completion's answer (last <answer> block after </think>, else last \boxed{}) into
   * out; returns its full length in bytes, or -1 when there is none. */
  int (*extract_answer)(const char* completion, char* out, size_t out_size);
  /* Runs a Python 3 program in grpo's sandbox (rewards/sandbox.h; 2 s CPU, 256 MiB, no
   * network) with `stdin_data`, killed after wall_time_s; stdout into out. Returns the exit
   * code (>= 0), -1 when killed at a limit or by a signal, -2 when it could not run. */
  int (*run_python)(const char* source, const char* stdin_data, double wall_time_s, char* out,
                    size_t out_size);
};
typedef void (*grpo_reward_host_fn)(const struct grpo_reward_host_api* api);

#ifdef __cplusplus
}
#endif

#endif /* GRPO_REWARDS_PLUGIN_ABI_H_ */
