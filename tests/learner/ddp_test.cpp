// tests/learner/ddp_test.cpp: whole `train_grpo` runs in real processes (learner_ddp_worker):
//  - 2 ranks over Gloo end, after 3 optimiser steps, with the parameters of 1 rank over the
//    same global batch (1e-5);
//  - a run stopped after step k and resumed ends bit-identical to an uninterrupted one,
//    with k on an epoch boundary, with k inside an epoch, and with 2 ranks;
//  - metrics reach metrics.jsonl and TensorBoard; keep-last-N prunes old checkpoints.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "models/safetensors.h"

extern char** environ;
namespace stdfs = std::filesystem;

namespace {

const std::string kWorker = std::string(GRPO_BINARY_DIR) + "/tests/learner/learner_ddp_worker";

std::string tmp_dir(const std::string& name) {
  auto d = stdfs::temp_directory_path() / ("grpo_ddp_" + std::to_string(::getpid())) / name;
  // Fresh per process id (std::filesystem::remove_all crashes when it binds to libtorch's copy).
  stdfs::create_directories(d);
  return d.string();
}

int free_port() {
  static std::mt19937 rng(static_cast<unsigned>(::getpid()));
  return 20000 + static_cast<int>(rng() % 20000);
}

// Runs `world` worker processes with the torchrun variables; returns true when all exit 0.
bool run(int world, const std::string& out, std::vector<std::string> args, bool report = true) {
  args.push_back("run.output_dir=" + out);
  args.push_back("run.progress=off");
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string s = *e;
      if (s.rfind("RANK=", 0) == 0 || s.rfind("WORLD_SIZE=", 0) == 0 || s.rfind("MASTER_", 0) == 0) continue;
      env.push_back(s);
    }
    if (world > 1) {
      env.push_back("RANK=" + std::to_string(r));
      env.push_back("LOCAL_RANK=" + std::to_string(r));
      env.push_back("WORLD_SIZE=" + std::to_string(world));
      env.push_back("MASTER_ADDR=127.0.0.1");
      env.push_back("MASTER_PORT=" + std::to_string(port));
    }
    std::vector<std::string> argv_s = {kWorker};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = out + "/rank" + std::to_string(r) + ".log";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, kWorker.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return false;
    pids.push_back(pid);
  }
  bool ok = true;
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  if (!ok && report) {
    for (int r = 0; r < world; ++r) {
      std::ifstream f(out + "/rank" + std::to_string(r) + ".log");
      std::string s((std::istreambuf_iterator<char>(f)), {});
      ADD_FAILURE() << "rank " << r << " log:\n" << s;
    }
  }
  return ok;
}

// Largest |a - b| over all tensors of two checkpoints' model.safetensors.
double max_diff(const std::string& a, const std::string& b) {
  grpo::models::SafetensorsFile fa(a + "/model.safetensors"), fb(b + "/model.safetensors");
  EXPECT_EQ(fa.names(), fb.names());
  double m = 0;
  for (const auto& n : fa.names()) m = std::max(m, fa.get(n).sub(fb.get(n)).abs().max().item<double>());
  return m;
}

const std::vector<std::string> kBase = {
    "trainer.max_steps=3",         "trainer.prompts_per_step=4", "rollout.num_generations=4",
    "trainer.per_device_train_batch_size=4", "rollout.max_completion_length=6",
    "trainer.learning_rate=0.01",  "trainer.beta=0.04",          "trainer.save_steps=1",
    "trainer.save_total_limit=2",  "trainer.max_grad_norm=1.0",  "run.seed=3"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(DistributedTraining, TwoGlooRanksMatchOneRankOverTheSameGlobalBatch) {
  std::string one = tmp_dir("one"), two = tmp_dir("two");
  // One optimiser step per training step either way: 16 completions per step, minibatches
  // of 4: 4 accumulated on one rank, 2 on each of two ranks.
  ASSERT_TRUE(run(1, one, with(kBase, {"trainer.gradient_accumulation_steps=4"})));
  ASSERT_TRUE(run(2, two, with(kBase, {"trainer.gradient_accumulation_steps=2"})));
  double d = max_diff(one + "/checkpoint-3", two + "/checkpoint-3");
  EXPECT_LE(d, 1e-5);
  // And training moved the weights (the comparison is not between two untouched models).
  ASSERT_TRUE(stdfs::exists(one + "/checkpoint-2"));
  EXPECT_GT(max_diff(one + "/checkpoint-2", one + "/checkpoint-3"), 1e-4);
  // keep-last-2: checkpoint-1 is gone.
  EXPECT_FALSE(stdfs::exists(one + "/checkpoint-1"));
  // Both ranks saved their data position.
  EXPECT_TRUE(stdfs::exists(two + "/checkpoint-3/rank-1.json"));
  // Metrics: one JSONL line per step with the core keys; a TensorBoard event file.
  std::ifstream f(one + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  nlohmann::json last;
  while (std::getline(f, line)) {
    ++lines;
    last = nlohmann::json::parse(line);
  }
  EXPECT_EQ(lines, 3);
  for (const char* k : {"reward", "reward_std", "kl", "entropy", "clip_ratio/region_mean",
                        "completions/mean_length", "completions/max_length", "completions/clipped_ratio",
                        "zero_signal_groups", "rollout/logprob_abs_diff", "tokens_per_s",
                        "time/rollout_s", "time/reward_s", "time/learn_s", "rewards/even/mean", "grad_norm"}) {
    EXPECT_TRUE(last.contains(k)) << k;
  }
  bool tb = false;
  for (auto& e : stdfs::recursive_directory_iterator(one)) {
    tb = tb || e.path().filename().string().rfind("events.out.tfevents", 0) == 0;
  }
  EXPECT_TRUE(tb);
}

TEST(Resume, StopAtAnEpochBoundaryThenResumeEqualsAnUninterruptedRun) {
  // 8 rows, 4 prompts per step: step 2 ends epoch 0 exactly.
  std::string full = tmp_dir("full"), cut = tmp_dir("cut");
  auto args = with(kBase, {"trainer.gradient_accumulation_steps=2", "--rows", "8"});
  ASSERT_TRUE(run(1, full, args));
  ASSERT_TRUE(run(1, cut, with(args, {"--stop-after", "2"})));
  ASSERT_TRUE(stdfs::exists(cut + "/checkpoint-2"));
  ASSERT_FALSE(stdfs::exists(cut + "/checkpoint-3"));
  auto pos = nlohmann::json::parse(std::ifstream(cut + "/checkpoint-2/rank-0.json"));
  EXPECT_EQ(pos["state"]["data"]["epoch"], 1);
  EXPECT_EQ(pos["state"]["data"]["offset"], 0);
  ASSERT_TRUE(run(1, cut, with(args, {"trainer.resume=auto"})));
  ASSERT_TRUE(stdfs::exists(cut + "/checkpoint-3"));  // the resumed run trained a step
  EXPECT_EQ(max_diff(full + "/checkpoint-3", cut + "/checkpoint-3"), 0.0);
}

TEST(Resume, StopInsideAnEpochWithTwoRanksThenResumeEqualsAnUninterruptedRun) {
  // 12 rows, 4 prompts per step: step 1 stops a third into epoch 0; step 3 ends it.
  std::string full = tmp_dir("full2"), cut = tmp_dir("cut2");
  auto args = with(kBase, {"trainer.gradient_accumulation_steps=1", "trainer.num_iterations=2",
                           "trainer.loss_type=dapo", "--rows", "12"});
  ASSERT_TRUE(run(2, full, args));
  ASSERT_TRUE(run(2, cut, with(args, {"--stop-after", "1"})));
  ASSERT_TRUE(run(2, cut, with(args, {"trainer.resume=" + cut + "/checkpoint-1"})));
  EXPECT_EQ(max_diff(full + "/checkpoint-3", cut + "/checkpoint-3"), 0.0);
  // Optimiser state too: both runs saved identical moments for the final step.
  auto pos = nlohmann::json::parse(std::ifstream(cut + "/checkpoint-3/rank-1.json"));
  EXPECT_EQ(pos["state"]["data"]["epoch"], 1);
  EXPECT_EQ(pos["state"]["data"]["rank"], 1);
}

TEST(Resume, ADifferentWorldSizeIsRefusedWithTheNumbers) {
  std::string d = tmp_dir("ws");
  auto args = with(kBase, {"trainer.gradient_accumulation_steps=1"});
  ASSERT_TRUE(run(2, d, with(args, {"--stop-after", "1"})));
  bool ok = run(1, d, with(with(kBase, {"trainer.gradient_accumulation_steps=4"}), {"trainer.resume=auto"}),
                /*report=*/false);
  EXPECT_FALSE(ok);
  std::ifstream f(d + "/rank0.log");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(s.find("written by 2 ranks"), std::string::npos) << s;
}

TEST(DynamicSampling, TwoRanksDrawExtraBatchesTogetherAndStayInStep) {
  std::string d = tmp_dir("dyn");
  auto args = with(kBase, {"trainer.gradient_accumulation_steps=1", "trainer.dynamic_sampling=true",
                           "trainer.max_resample_rounds=2", "trainer.max_steps=2", "--rows", "40"});
  ASSERT_TRUE(run(2, d, args));
  std::ifstream f(d + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("dynamic_sampling/rounds")) << line;
    EXPECT_LE(j["dynamic_sampling/rounds"].get<double>(), 2.0);
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  // Both ranks consumed the same number of global batches: equal data positions.
  auto p0 = nlohmann::json::parse(std::ifstream(d + "/checkpoint-2/rank-0.json"));
  auto p1 = nlohmann::json::parse(std::ifstream(d + "/checkpoint-2/rank-1.json"));
  EXPECT_EQ(p0["state"]["data"]["offset"], p1["state"]["data"]["offset"]);
  EXPECT_EQ(p0["state"]["data"]["epoch"], p1["state"]["data"]["epoch"]);
  // Some round drew more than the 2 base batches (8 rows per global draw of 4 x 2 steps).
  EXPECT_GE(p0["state"]["data"]["offset"].get<int64_t>() + 40 * p0["state"]["data"]["epoch"].get<int64_t>(), 8);
}
