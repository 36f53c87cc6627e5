// learner/checkpoint.cpp: see checkpoint.h. Weights go through models::save_model /
// load_model (HF safetensors); on load they are copied into the live model's tensors so
// the optimizer's references to them stay valid.
#include "learner/checkpoint.h"

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <ftw.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "learner/distributed.h"
#include "learner/optim.h"
#include "models/causal_lm.h"

namespace grpo::learner {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

std::string to_hex(const at::Tensor& bytes) {
  static const char* d = "0123456789abcdef";
  at::Tensor b = bytes.contiguous();
  const uint8_t* p = b.data_ptr<uint8_t>();
  std::string s;
  s.reserve(static_cast<size_t>(b.numel()) * 2);
  for (int64_t i = 0; i < b.numel(); ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

at::Tensor from_hex(const std::string& s) {
  GRPO_ENSURE(s.size() % 2 == 0, "RNG state: odd-length hex string");
  at::Tensor t = at::empty({static_cast<int64_t>(s.size() / 2)}, at::kByte);
  uint8_t* p = t.data_ptr<uint8_t>();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw Error("RNG state: bad hex digit");
  };
  for (size_t i = 0; i < s.size() / 2; ++i) p[i] = static_cast<uint8_t>(nib(s[2 * i]) * 16 + nib(s[2 * i + 1]));
  return t;
}

int64_t step_of(const stdfs::path& p) {
  std::string name = p.filename().string();
  const std::string pre = "checkpoint-";
  if (name.rfind(pre, 0) != 0) return -1;
  std::string num = name.substr(pre.size());
  if (num.empty() || !std::all_of(num.begin(), num.end(), ::isdigit)) return -1;
  return std::stoll(num);
}

// Recursive delete through nftw: std::filesystem::remove_all resolves to a copy inside
// libtorch.so that crashes (null call) when the directory is not empty.
void remove_tree(const stdfs::path& p, std::error_code& ec) {
  ec.clear();
  if (::access(p.c_str(), F_OK) != 0) return;
  auto rm = [](const char* path, const struct stat*, int, struct FTW*) -> int { return ::remove(path); };
  if (::nftw(p.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS) != 0) ec = std::error_code(errno, std::generic_category());
}

bool complete(const stdfs::path& dir) {
  return stdfs::exists(dir / "trainer_state.json") && stdfs::exists(dir / "config.json");
}

// Complete checkpoints under root, by step.
std::map<int64_t, stdfs::path> list_checkpoints(const std::string& root) {
  std::map<int64_t, stdfs::path> out;
  std::error_code ec;
  if (!stdfs::is_directory(root, ec)) return out;
  for (const auto& e : stdfs::directory_iterator(root, ec)) {
    int64_t s = step_of(e.path());
    if (s >= 0 && e.is_directory() && complete(e.path())) out[s] = e.path();
  }
  return out;
}

}  // namespace

json capture_rng_state() {
  json j;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    j["cpu"] = to_hex(gen.get_state());
  }
  if (at::hasCUDA()) {
    json cuda = json::array();
    int n = static_cast<int>(at::detail::getCUDAHooks().deviceCount());
    for (int i = 0; i < n; ++i) {
      auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      cuda.push_back(to_hex(gen.get_state()));
    }
    j["cuda"] = cuda;
  }
  return j;
}

void restore_rng_state(const json& j) {
  if (j.contains("cpu")) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(from_hex(j.at("cpu").get<std::string>()));
  }
  if (j.contains("cuda") && at::hasCUDA()) {
    int n = static_cast<int>(at::detail::getCUDAHooks().deviceCount());
    const auto& arr = j.at("cuda");
    for (int i = 0; i < n && i < static_cast<int>(arr.size()); ++i) {
      auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(from_hex(arr[static_cast<size_t>(i)].get<std::string>()));
    }
  }
}

std::string latest_checkpoint(const std::string& output_dir) {
  auto all = list_checkpoints(output_dir);
  return all.empty() ? std::string() : all.rbegin()->second.string();
}

std::string save_checkpoint(const std::string& output_dir, const CheckpointState& st,
                            models::CausalLM& model, const Optimizer* opt,
                            const std::string& config_yaml, int64_t keep_last, Distributed& dist,
                            const std::function<void(const std::string& dir)>& extra_files) {
  const stdfs::path final_dir = stdfs::path(output_dir) / str("checkpoint-", st.step);
  const stdfs::path tmp = stdfs::path(output_dir) / str("checkpoint-", st.step, ".tmp");
  std::error_code ec;
  if (dist.is_main()) {
    remove_tree(tmp, ec);  // a leftover from a crash
    stdfs::create_directories(tmp, ec);
    GRPO_ENSURE(!ec, "cannot create checkpoint directory ", tmp.string(), ": ", ec.message());
  }
  dist.barrier();
  // Every rank: its own state and RNG.
  json rank_json = {{"rank", dist.rank()}, {"world_size", dist.world_size()}, {"state", st.rank},
                    {"rng", capture_rng_state()}};
  fs::write_atomic((tmp / str("rank-", dist.rank(), ".json")).string(), rank_json.dump(1));
  if (dist.is_main()) {
    models::save_model(model, tmp.string());
    if (opt != nullptr) opt->save((tmp / "optimizer.pt").string());
    fs::write_atomic((tmp / "config.yaml").string(), config_yaml);
    json ts = {{"step", st.step}, {"world_size", dist.world_size()}, {"trainer", st.trainer}};
    fs::write_atomic((tmp / "trainer_state.json").string(), ts.dump(1));
    if (extra_files) extra_files(tmp.string());
  }
  dist.barrier();  // all rank files are in place
  if (dist.is_main()) {
    if (stdfs::exists(final_dir)) {
      // Same step saved again (e.g. the final save after a periodic one): replace it.
      stdfs::path old = final_dir;
      old += ".old";
      remove_tree(old, ec);
      stdfs::rename(final_dir, old, ec);
      GRPO_ENSURE(!ec, "cannot move aside ", final_dir.string(), ": ", ec.message());
      stdfs::rename(tmp, final_dir, ec);
      GRPO_ENSURE(!ec, "cannot rename ", tmp.string(), " to ", final_dir.string(), ": ", ec.message());
      remove_tree(old, ec);
    } else {
      stdfs::rename(tmp, final_dir, ec);
      GRPO_ENSURE(!ec, "cannot rename ", tmp.string(), " to ", final_dir.string(), ": ", ec.message());
    }
    if (keep_last > 0) {
      auto all = list_checkpoints(output_dir);
      while (static_cast<int64_t>(all.size()) > keep_last) {
        remove_tree(all.begin()->second, ec);
        if (ec) log::warn(str("could not delete old checkpoint ", all.begin()->second.string(), ": ", ec.message()));
        all.erase(all.begin());
      }
    }
  }
  dist.barrier();
  return final_dir.string();
}

CheckpointState load_checkpoint(const std::string& dir, models::CausalLM& model, Optimizer* opt,
                                Distributed& dist) {
  const stdfs::path d(dir);
  GRPO_ENSURE(stdfs::is_directory(d), "checkpoint directory ", dir, " does not exist");
  GRPO_ENSURE(complete(d), "checkpoint ", dir, " is incomplete (no trainer_state.json or config.json)");
  json ts;
  try {
    ts = json::parse(fs::read_file((d / "trainer_state.json").string()));
  } catch (const json::exception& e) {
    throw Error(str("checkpoint ", dir, "/trainer_state.json: ", e.what()));
  }
  int64_t saved_world = ts.value("world_size", int64_t{1});
  GRPO_ENSURE(saved_world == dist.world_size(), "checkpoint ", dir, " was written by ", saved_world,
              " ranks, but this run has ", dist.world_size(),
              " (data positions are per rank; resume with the same WORLD_SIZE)");
  const stdfs::path rank_file = d / str("rank-", dist.rank(), ".json");
  GRPO_ENSURE(stdfs::exists(rank_file), "checkpoint ", dir, " has no ", rank_file.filename().string());
  json rj;
  try {
    rj = json::parse(fs::read_file(rank_file.string()));
  } catch (const json::exception& e) {
    throw Error(str("checkpoint ", rank_file.string(), ": ", e.what()));
  }

  // Weights: read the HF checkpoint and copy tensor by tensor into the live model.
  {
    auto loaded = models::load_model(d.string(), "", "cpu");
    auto src = loaded->state();
    std::map<std::string, at::Tensor> by_name(src.begin(), src.end());
    c10::NoGradGuard ng;
    for (auto& [name, t] : model.state()) {
      auto it = by_name.find(name);
      GRPO_ENSURE(it != by_name.end(), "checkpoint ", dir, " lacks tensor ", name);
      GRPO_ENSURE(it->second.sizes() == t.sizes(), "checkpoint ", dir, ": tensor ", name,
                  " has shape ", it->second.sizes(), ", the model expects ", t.sizes());
      t.copy_(it->second);
    }
  }
  if (opt != nullptr) {
    const stdfs::path op = d / "optimizer.pt";
    GRPO_ENSURE(stdfs::exists(op), "checkpoint ", dir, " has no optimizer.pt");
    opt->load(op.string());
  }
  if (rj.contains("rng")) restore_rng_state(rj.at("rng"));
  CheckpointState st;
  st.step = ts.at("step").get<int64_t>();
  st.trainer = ts.value("trainer", json::object());
  st.rank = rj.value("state", json::object());
  return st;
}

}  // namespace grpo::learner
