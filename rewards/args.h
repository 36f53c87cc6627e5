// rewards/args.h (private to rewards/): typed reading of a reward's `args` object with
// errors that name the reward and the key, and a check that no unknown key is left.
#pragma once
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/error.h"

namespace grpo::rewards::detail {

class Args {
 public:
  Args(std::string reward, const nlohmann::json& args) : reward_(std::move(reward)), args_(args) {
    GRPO_ENSURE(args_.is_object() || args_.is_null(), "reward '", reward_,
                "': args must be a mapping, got ", args_.type_name());
    used_.insert("label");  // read by RewardSet
  }

  bool get_bool(const std::string& key, bool def) {
    const auto* v = find(key);
    if (!v) return def;
    GRPO_ENSURE(v->is_boolean(), where(key), " must be true or false, got ", v->dump());
    return v->get<bool>();
  }
  double get_double(const std::string& key, double def) {
    const auto* v = find(key);
    if (!v) return def;
    GRPO_ENSURE(v->is_number(), where(key), " must be a number, got ", v->dump());
    return v->get<double>();
  }
  int64_t get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
    const auto* v = find(key);
    if (!v) return def;
    GRPO_ENSURE(v->is_number_integer(), where(key), " must be an integer, got ", v->dump());
    int64_t x = v->get<int64_t>();
    GRPO_ENSURE(x >= lo && x <= hi, where(key), " must be in [", lo, ", ", hi, "], got ", x);
    return x;
  }
  std::string get_string(const std::string& key, const std::string& def, bool required = false) {
    const auto* v = find(key);
    if (!v) {
      GRPO_ENSURE(!required, where(key), " is required");
      return def;
    }
    GRPO_ENSURE(v->is_string(), where(key), " must be a string, got ", v->dump());
    return v->get<std::string>();
  }
  nlohmann::json get_json(const std::string& key, const nlohmann::json& def) {
    const auto* v = find(key);
    return v ? *v : def;
  }
  // Throws for any key that was not read.
  void finish() const {
    if (!args_.is_object()) return;
    for (const auto& [k, _] : args_.items()) {
      if (used_.count(k)) continue;
      std::string known;
      for (const auto& u : used_) known += (known.empty() ? "" : ", ") + u;
      throw grpo::Error(
          grpo::str("reward '", reward_, "': unknown arg '", k, "' (known: ", known, ")"));
    }
  }
  std::string where(const std::string& key) const {
    return grpo::str("reward '", reward_, "': arg '", key, "'");
  }

 private:
  const nlohmann::json* find(const std::string& key) {
    used_.insert(key);
    if (!args_.is_object()) return nullptr;
    auto it = args_.find(key);
    return it == args_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string reward_;
  const nlohmann::json& args_;
  std::set<std::string> used_;
};

}  // namespace grpo::rewards::detail
