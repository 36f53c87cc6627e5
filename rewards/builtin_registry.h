// rewards/builtin_registry.h (private to rewards/): hooks through which the registry
// (reward.cpp) adds the built-in rewards on first use. `add` must not call back into the
// public registry functions (they would wait for the first-use initialisation).
#pragma once
#include <functional>
#include <string>

#include "rewards/reward.h"

namespace grpo::rewards::detail {
using AddReward = std::function<void(const std::string& name, RewardFactory factory)>;
void register_builtin_rewards(const AddReward& add);  // builtins.cpp
void register_plugin_reward(const AddReward& add);    // plugin.cpp
void register_remote_reward(const AddReward& add);    // remote.cpp
void register_code_reward(const AddReward& add);      // code_reward.cpp
}  // namespace grpo::rewards::detail
