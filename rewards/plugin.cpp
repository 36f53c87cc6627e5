// rewards/plugin.cpp: the `plugin` reward, a scoring function from a shared library
// loaded with dlopen through the C ABI of rewards/plugin_abi.h.
// Libraries are opened once per path (RTLD_NOW | RTLD_LOCAL) and never closed: a reward
// call abandoned after a timeout may still be running inside it.
#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "rewards/args.h"
#include "rewards/builtin_registry.h"
#include "rewards/plugin_abi.h"
#include "rewards/reward.h"

namespace grpo::rewards {
namespace {

void* open_library(const std::string& path) {
  static std::mutex mu;
  static auto* handles = new std::map<std::string, void*>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = handles->find(path);
  if (it != handles->end()) return it->second;
  // A bare file name would make dlopen search the system paths: make it explicit.
  std::string to_open = path.find('/') == std::string::npos ? "./" + path : path;
  GRPO_ENSURE(std::filesystem::exists(to_open), "reward 'plugin': library '", path,
              "' does not exist");
  void* h = dlopen(to_open.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* err = dlerror();
    throw grpo::Error(
        grpo::str("reward 'plugin': cannot load '", path, "': ", err ? err : "unknown error"));
  }
  (*handles)[path] = h;
  return h;
}

class PluginReward final : public Reward {
 public:
  explicit PluginReward(const Json& args) {
    detail::Args a("plugin", args);
    path_ = a.get_string("path", "", /*required=*/true);
    symbol_ = a.get_string("symbol", "grpo_reward_score");
    serialize_ = a.get_bool("serialize", false);
    Json init = a.get_json("init", Json::object());
    a.finish();

    void* h = open_library(path_);
    auto version =
        reinterpret_cast<grpo_reward_abi_version_fn>(dlsym(h, "grpo_reward_abi_version"));
    GRPO_ENSURE(version, "reward 'plugin': '", path_, "' does not export grpo_reward_abi_version");
    int v = version();
    GRPO_ENSURE(v == GRPO_REWARD_ABI_VERSION, "reward 'plugin': '", path_, "' has ABI version ", v,
                ", this grpo expects ", GRPO_REWARD_ABI_VERSION);
    fn_ = reinterpret_cast<grpo_reward_score_fn>(dlsym(h, symbol_.c_str()));
    GRPO_ENSURE(fn_, "reward 'plugin': '", path_, "' does not export '", symbol_, "'");
    if (auto init_fn = reinterpret_cast<grpo_reward_init_fn>(dlsym(h, "grpo_reward_init"))) {
      std::string json = init.dump();
      int rc = init_fn(json.c_str());
      GRPO_ENSURE(rc == 0, "reward 'plugin': grpo_reward_init of '", path_, "' returned ", rc);
    }
  }

  RewardResult score(const Sample& s) const override {
    std::string gt = s.ground_truth.dump(-1, ' ', false, Json::error_handler_t::replace);
    double value = 0.0;
    int rc;
    if (serialize_) {
      std::lock_guard<std::mutex> lock(mu_);
      rc = fn_(s.prompt.c_str(), s.completion.c_str(), gt.c_str(), &value);
    } else {
      rc = fn_(s.prompt.c_str(), s.completion.c_str(), gt.c_str(), &value);
    }
    GRPO_ENSURE(rc == 0, "plugin ", symbol_, " in ", path_, " returned error code ", rc);
    RewardResult r;
    r.score = value;
    return r;
  }

 private:
  std::string path_, symbol_;
  bool serialize_ = false;
  grpo_reward_score_fn fn_ = nullptr;
  mutable std::mutex mu_;
};

}  // namespace

namespace detail {
void register_plugin_reward(const AddReward& add) {
  add("plugin", [](const Json& a) { return std::make_unique<PluginReward>(a); });
}
}  // namespace detail

}  // namespace grpo::rewards
