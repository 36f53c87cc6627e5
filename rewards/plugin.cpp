// rewards/plugin.cpp: the `plugin` reward, a scoring function from a shared library
// loaded with dlopen through the C ABI of rewards/plugin_abi.h.
// Libraries are opened once per path (RTLD_NOW | RTLD_LOCAL) and never closed: a reward
// call abandoned after a timeout may still be running inside it. A plug-in that exports
// grpo_reward_host gets the host services table (math check, answer extraction, sandbox).
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "rewards/args.h"
#include "rewards/builtin_registry.h"
#include "rewards/math_answer.h"
#include "rewards/math_equiv.h"
#include "rewards/plugin_abi.h"
#include "rewards/reward.h"
#include "rewards/sandbox.h"

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

// ---------------------------------------------------------------------------------------
// Host services offered to plug-ins (grpo_reward_host_api).

int copy_out(std::string_view s, char* out, size_t out_size) {
  if (out && out_size > 0) {
    size_t n = std::min(s.size(), out_size - 1);
    std::memcpy(out, s.data(), n);
    out[n] = '\0';
  }
  return static_cast<int>(std::min<size_t>(s.size(), INT32_MAX));
}

int host_math_equal(const char* prediction, const char* reference, double rel_tol) {
  if (!prediction || !reference) return 0;
  MathCheckOptions o;
  if (rel_tol > 0 && rel_tol < 1) o.rel_tol = rel_tol;
  try {
    return math_equivalent(prediction, reference, o).equal ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int host_extract_answer(const char* completion, char* out, size_t out_size) {
  if (!completion) return -1;
  std::optional<std::string_view> a = extract_answer(completion);
  return a ? copy_out(*a, out, out_size) : -1;
}

int host_run_python(const char* source, const char* stdin_data, double wall_time_s, char* out,
                    size_t out_size) {
  try {
    static const std::string python = find_python3();
    static Sandbox* sandbox = new Sandbox(SandboxOptions{.slots = 4});  // never destroyed
    if (!source || python.empty()) return -2;
    ProgramSpec p;
    p.argv = {python, "-I", "main.py"};
    p.files["main.py"] = {source, false};
    p.stdin_data = stdin_data ? stdin_data : "";
    p.limits.wall_time_s = wall_time_s > 0 ? std::min(wall_time_s, 600.0) : 5.0;
    p.limits.memory_bytes = 256ull << 20;
    ProgramResult r = sandbox->run(p);
    copy_out(r.stdout_data, out, out_size);
    if (r.status == ProgramResult::Status::kStartFailed) return -2;
    return r.status == ProgramResult::Status::kExited ? r.exit_code : -1;
  } catch (...) {
    return -2;
  }
}

const grpo_reward_host_api kHostApi = {GRPO_REWARD_HOST_API_VERSION, host_math_equal,
                                       host_extract_answer, host_run_python};

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
    if (auto host = reinterpret_cast<grpo_reward_host_fn>(dlsym(h, "grpo_reward_host"))) {
      host(&kHostApi);
    }
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
