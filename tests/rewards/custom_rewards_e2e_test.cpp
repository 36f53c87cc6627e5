// tests/rewards/custom_rewards_e2e_test.cpp: the shared-library plugin and the Python
// remote reward server (a separate process on a free loopback port) scoring one batch
// through the same RewardSet pipeline as the built-ins, plus their failure paths
// (plugin error code, per-item server error, deadline, server down).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "rewards/reward.h"

extern char** environ;

namespace grpo::rewards {
namespace {

// The example server, started once for the whole suite.
class RemoteServer {
 public:
  RemoteServer() {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::string script = std::string(GRPO_SOURCE_DIR) + "/examples/remote_reward/server.py";
    const char* argv[] = {GRPO_PYTHON, script.c_str(), "--port", "0", nullptr};
    if (posix_spawn(&pid_, GRPO_PYTHON, &fa, nullptr, const_cast<char**>(argv), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    // Wait for "PORT <n>\n" (protoc runs first: allow some time).
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pid_ > 0 && line.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = std::stoi(line.substr(5));
  }
  ~RemoteServer() { stop(); }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool ok() const { return port_ > 0; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

RemoteServer& server() {
  static RemoteServer* s = new RemoteServer();  // stopped by the environment below
  return *s;
}
class ServerEnv : public ::testing::Environment {
 public:
  void TearDown() override { server().stop(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ServerEnv);

cfg::RewardEntry entry(const std::string& name, double weight, Json args, double timeout_s = 10,
                       double fallback = 0) {
  cfg::RewardEntry e;
  e.name = name;
  e.weight = weight;
  e.args = std::move(args);
  e.timeout_s = timeout_s;
  e.fallback_score = fallback;
  return e;
}

TEST(CustomRewardsE2E, PluginAndRemoteScoreABatchBesideTheBuiltins) {
  ASSERT_TRUE(server().ok()) << "the example server did not start";
  RewardSet set(
      {entry("accuracy", 1.0, Json::object()), entry("plugin", 0.5, {{"path", GRPO_PLUGIN_PATH}}),
       entry(
           "plugin", 1.0,
           {{"path", GRPO_PLUGIN_PATH}, {"symbol", "grpo_reward_strict_utf8"}, {"label", "strict"}},
           10, -1.0),
       entry("remote", 2.0, {{"address", server().address()}, {"batch_size", 2}}),
       entry("remote", 1.0,
             {{"address", server().address()},
              {"reward", "length_ratio"},
              {"server_args", {{"max_chars", 100}}},
              {"label", "len"}})},
      {.num_threads = 4});
  std::vector<Sample> batch = {
      {"q", "<think>so 12</think><answer>12</answer>", {{"answer", "12"}}},  // 39 chars
      {"q",
       "<think>hmm</think><answer>caf\xc3\xa9 7</answer>",
       {{"answer", "12"}}},                                                   // é: 1 of 5 letters
      {"q", "<think>12</think><answer>\xff 3</answer>", {{"answer", "12"}}},  // invalid UTF-8
      {"q", "", {{"answer", "4"}, {"fail", true}}},
      {"q", "4", {{"answer", "4"}}},
  };
  BatchScores s = set.score(batch);
  ASSERT_EQ(s.names, (std::vector<std::string>{"accuracy", "plugin", "strict", "remote", "len"}));
  // accuracy
  EXPECT_EQ(s.components[0], (std::vector<double>{1, 0, 0, 0, 0}));
  // plugin: ASCII letters / all letters
  EXPECT_DOUBLE_EQ(s.components[1][0], 1.0);
  EXPECT_DOUBLE_EQ(s.components[1][1], 28.0 / 29.0);  // 28 ASCII letters in tags and text + é
  EXPECT_DOUBLE_EQ(s.components[1][3], 0.0);          // no letters
  // strict plugin fails on the invalid UTF-8 row only: fallback -1, counted as thrown
  EXPECT_EQ(s.components[2][2], -1.0);
  EXPECT_EQ(s.failures[2].thrown, 1);
  EXPECT_DOUBLE_EQ(s.components[2][0], 1.0);
  // remote contains_answer: "12" after </think>; the row asking to fail gets the fallback
  EXPECT_EQ(s.components[3], (std::vector<double>{1, 0, 0, 0, 1}));
  EXPECT_EQ(s.failures[3].thrown, 1);
  ASSERT_FALSE(s.errors[3].empty());
  EXPECT_NE(s.errors[3][0].find("asked this item to fail"), std::string::npos) << s.errors[3][0];
  // remote length_ratio: Python len() of the decoded completion / 100
  EXPECT_DOUBLE_EQ(s.components[4][0], 39.0 / 100);
  EXPECT_DOUBLE_EQ(s.components[4][4], 1.0 / 100);
  EXPECT_DOUBLE_EQ(s.total[0], 1 + 0.5 + 1 + 2 + 0.39);
  EXPECT_EQ(s.details[3][0]["found"], true);
}

TEST(CustomRewardsE2E, SlowServerTimesOutAndDeadServerThrowsWithoutStoppingTheBatch) {
  ASSERT_TRUE(server().ok());
  RewardSet set(
      {entry("format", 1.0, Json::object()),
       entry("remote", 1.0,
             {{"address", server().address()}, {"server_args", {{"slow_s", 3}}}, {"label", "slow"}},
             0.5, -0.5),
       entry("remote", 1.0, {{"address", "127.0.0.1:1"}, {"label", "down"}}, 2, -0.25)});
  auto t0 = std::chrono::steady_clock::now();
  BatchScores s = set.score({{"", "<think>a</think><answer>1</answer>", {{"answer", "1"}}},
                             {"", "x", {{"answer", "1"}}}});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 2.5);
  EXPECT_EQ(s.components[0], (std::vector<double>{1, 0}));
  EXPECT_EQ(s.components[1], (std::vector<double>{-0.5, -0.5}));
  EXPECT_EQ(s.failures[1].timed_out, 2);
  EXPECT_EQ(s.components[2], (std::vector<double>{-0.25, -0.25}));
  EXPECT_EQ(s.failures[2].thrown + s.failures[2].timed_out, 2);
  EXPECT_DOUBLE_EQ(s.total[0], 1 - 0.5 - 0.25);
}

TEST(CustomRewardsE2E, PluginLoadErrorsAreClear) {
  try {
    make_reward("plugin", {{"path", "/nonexistent/libx.so"}});
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  try {
    make_reward("plugin", {{"path", GRPO_PLUGIN_PATH}, {"symbol", "no_such_fn"}});
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not export 'no_such_fn'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace grpo::rewards
