// core/sections/rewards.h: `rewards:` the weighted list of named rewards.
//   rewards: [{name: accuracy, weight: 1.0}, {name: format, weight: 0.5}]
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct RewardEntry {
  std::string name;
  double weight = 1.0;
  Json args = Json::object();   // reward-specific options (e.g. plugin path, remote address)
  double timeout_s = 10.0;      // a call slower than this yields fallback_score
  double fallback_score = 0.0;  // score when the reward throws, times out or returns NaN
  void visit(Visitor& v) {
    v.field("name", name, {.doc = "registered reward name (format, accuracy, countdown, length, repetition, plugin, remote, ...)", .required = true});
    v.field("weight", weight, {.doc = "weight in the total reward"});
    v.field("args", args, {.doc = "reward-specific options"});
    v.field("timeout_s", timeout_s, {.doc = "per-call time limit", .range = Range{0, 1e6, true}});
    v.field("fallback_score", fallback_score, {.doc = "score given when the reward fails"});
  }
};
}  // namespace grpo::cfg
