// tests/e2e/rollout_e2e_test.cpp: two `grpo rollout-worker` child processes on loopback
// serving a tiny DeepSeek-V3 (MLA + MoE): one is SIGKILLed in the middle of a batch and
// every prompt still comes back exactly once with G samples; a call without the token is
// refused; SIGTERM drains an in-flight call before the worker exits.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/job_config.h"
#include "rollout/client.h"

namespace grpo::rollout {
namespace {

JobConfig worker_config() {
  JobConfig cfg;
  cfg.model.arch = nlohmann::json::parse(R"({
      "model_type": "deepseek_v3", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 96,
      "moe_intermediate_size": 16, "num_hidden_layers": 2, "first_k_dense_replace": 1,
      "num_attention_heads": 4, "num_key_value_heads": 4, "q_lora_rank": 24, "kv_lora_rank": 32,
      "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_routed_experts": 8,
      "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 4, "topk_group": 2,
      "norm_topk_prob": true, "routed_scaling_factor": 2.5, "max_position_embeddings": 512,
      "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
      "num_nextn_predict_layers": 0, "initializer_range": 0.1})");
  cfg.run.seed = 3;
  cfg.run.device = "cpu";
  cfg.rollout.max_batch_seqs = 4;
  cfg.rollout.stop.clear();  // no tokenizer in this test
  cfg.rollout.auth_token_env = "GRPO_E2E_UNSET_TOKEN";
  return cfg;
}

std::vector<std::vector<int32_t>> prompts(int n) {
  std::vector<std::vector<int32_t>> out;
  for (int p = 0; p < n; ++p) out.push_back({(p * 7) % 128, (p * 11 + 3) % 128, 5, 9});
  return out;
}

void expect_each_prompt_once(const std::vector<Group>& got, int n, int64_t G,
                             int64_t max_new) {
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    ASSERT_EQ(got[p].samples.size(), static_cast<size_t>(G)) << "prompt " << p;
    std::set<int64_t> samples;
    for (const auto& c : got[p].samples) {
      EXPECT_EQ(c.prompt_index, p);
      samples.insert(c.sample_index);
      EXPECT_EQ(c.tokens.size(), static_cast<size_t>(max_new));
      EXPECT_EQ(c.logprobs.size(), c.tokens.size());
      for (float lp : c.logprobs) EXPECT_LE(lp, 0.0f);
    }
    EXPECT_EQ(samples.size(), static_cast<size_t>(G)) << "prompt " << p;
  }
}

// Polls the worker's WorkerInfo until some of its slots are in use (a call is running).
void wait_until_busy(ClientOptions opt, const std::string& address) {
  opt.addresses = {address};
  RolloutClient probe(opt);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    auto st = probe.workers_info()[0];
    if (st.alive && st.free_slots < st.capacity) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  FAIL() << "worker " << address << " never became busy";
}

TEST(RolloutE2E, KilledWorkerMidBatchLosesNoGroupAndUnauthenticatedCallsAreRefused) {
  JobConfig cfg = worker_config();
  cfg.rollout.auth_token_env = "GRPO_ROLLOUT_TOKEN";  // where the workers find their token
  LocalWorkerOptions lo;
  lo.num_workers = 2;
  lo.exe = GRPO_EXE;
  lo.config_yaml = cfg.to_yaml();
  LocalWorkers workers(std::move(lo));
  ASSERT_EQ(workers.addresses().size(), 2u);

  // No token: refused by the worker itself.
  ClientOptions anon;
  anon.addresses = workers.addresses();
  anon.request_timeout_s = 30;
  RolloutClient no_token(anon);
  auto info = no_token.workers_info();
  EXPECT_FALSE(info[0].alive);
  EXPECT_NE(info[0].error.find("status 16"), std::string::npos) << info[0].error;  // UNAUTHENTICATED
  EXPECT_THROW(no_token.generate(prompts(1), 1, SamplingParams{}), grpo::Error);

  ClientOptions opt = anon;
  opt.auth_token = workers.auth_token();
  opt.request_timeout_s = 300;
  RolloutClient client(opt);
  EXPECT_TRUE(client.health_check(0));
  SamplingParams sp;
  sp.seed = 11;
  sp.max_new_tokens = 240;
  const int n = 8;
  const int64_t G = 2;
  auto fut = std::async(std::launch::async, [&] { return client.generate(prompts(n), G, sp); });
  // Kill worker 0 while it is busy with its share (4 slots for 8 sequences): as soon as
  // its WorkerInfo shows slots in use, not after a guessed delay.
  wait_until_busy(opt, workers.addresses()[0]);
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the batch finished before the kill; the test must kill mid-batch";
  ASSERT_EQ(kill(workers.pids()[0], SIGKILL), 0);
  auto got = fut.get();
  expect_each_prompt_once(got, n, G, sp.max_new_tokens);
  EXPECT_EQ(client.live_addresses(), std::vector<std::string>{workers.addresses()[1]});

  // SIGTERM drains: the in-flight call on worker 1 still completes, then it exits cleanly.
  RolloutClient last(opt);
  auto fut2 = std::async(std::launch::async, [&] { return last.generate(prompts(2), 2, sp); });
  wait_until_busy(opt, workers.addresses()[1]);
  ASSERT_EQ(fut2.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the call finished before SIGTERM; the test must stop the worker mid-call";
  ASSERT_EQ(kill(workers.pids()[1], SIGTERM), 0);
  expect_each_prompt_once(fut2.get(), 2, 2, sp.max_new_tokens);
  int status = 0;
  ASSERT_EQ(waitpid(workers.pids()[1], &status, 0), workers.pids()[1]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace grpo::rollout
