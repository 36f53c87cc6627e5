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
 * Config:  rewards: [{name: plugin, args: {path: ./libmy_reward.so, symbol: my_score}}]
 * The library stays loaded until the process exits.
 */
#ifndef GRPO_REWARDS_PLUGIN_ABI_H_
#define GRPO_REWARDS_PLUGIN_ABI_H_

#define GRPO_REWARD_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*grpo_reward_abi_version_fn)(void);
typedef int (*grpo_reward_score_fn)(const char* prompt, const char* completion,
                                    const char* ground_truth_json, double* score);
typedef int (*grpo_reward_init_fn)(const char* args_json);

#ifdef __cplusplus
}
#endif

#endif /* GRPO_REWARDS_PLUGIN_ABI_H_ */
