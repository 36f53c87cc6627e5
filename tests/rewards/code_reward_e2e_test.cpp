// tests/rewards/code_reward_e2e_test.cpp (label e2e): the `code` reward through RewardSet
// with real Python (and C++ when g++ is present) programs in the sandbox: correct, wrong,
// crashing, slow, CPU-burning, memory-hungry, forking, output-flooding, network-trying
// and escaping programs each score as expected within their limits; the scoring process
// goes on, and no process of the sandbox is left behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "rewards/code_reward.h"
#include "rewards/reward.h"
#include "rewards/sandbox.h"

namespace grpo::rewards {
namespace {

std::string py(const std::string& code) {
  return "<answer>\n```python\n" + code + "\n```\n</answer>";
}

Json doubling_tests() {
  return Json{{"tests", Json::array({{{"input", "2\n"}, {"output", "4\n"}},
                                     {{"input", "21\n"}, {"output", "42"}},
                                     {{"input", "-3\n"}, {"output", "-6\n"}}})}};
}

cfg::RewardEntry code_entry(Json args = Json::object()) {
  cfg::RewardEntry e;
  e.name = "code";
  args.emplace("wall_time_s", 10.0);  // room for python on a loaded, shared machine
  args.emplace("cpu_time_s", 1.0);
  args.emplace("memory_mb", 256);
  args.emplace("output_kb", 64);
  args.emplace("max_processes", 8);
  args.emplace("slots", 4);
  args.emplace("nice", 0);  // on a shared, loaded machine niced programs can starve
  e.args = args;
  e.timeout_s = 30;
  e.fallback_score = -1;
  return e;
}

// Processes whose real uid is in the sandbox's range (420000 + slot).
int sandbox_processes() {
  int n = 0;
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    std::ifstream st(std::string("/proc/") + e->d_name + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        long uid = std::stol(line.substr(4));
        if (uid >= 420000 && uid < 421100) ++n;
        break;
      }
    }
  }
  closedir(d);
  return n;
}

TEST(CodeReward, ParsesFencesTestsAndOutputs) {
  auto b = last_code_block("text ```py\nold\n``` more ```python\nprint(1)\n```");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->language, "python");
  EXPECT_EQ(b->code, "print(1)\n");
  EXPECT_FALSE(last_code_block("no fence here"));
  EXPECT_EQ(normalize_program_output("a  \r\nb\t\n\n\n"), "a\nb");
  auto r = make_reward("code");
  RewardResult bad = r->score({"", py("print(1)"), Json{{"answer", "1"}}});
  EXPECT_EQ(bad.status, RewardResult::Status::kDataError);
  RewardResult none = r->score({"", "no code", doubling_tests()});
  EXPECT_EQ(none.score, 0.0);
  EXPECT_EQ(none.details["reason"], "no fenced code block");
  EXPECT_THROW(make_reward("code", Json{{"mode", "some"}}), grpo::Error);
}

TEST(CodeRewardE2E, MaliciousAndBrokenProgramsAreContainedAndScored) {
  if (find_python3().empty()) GTEST_SKIP() << "no python3 in /usr/bin";
  RewardSet set({code_entry()});
  struct Case {
    std::string name, code;
    double want;
  };
  std::vector<Case> cases = {
      {"correct", "print(int(input()) * 2)", 1.0},
      {"partly wrong", "x = int(input())\nprint(x * 2 if x > 0 else 0)", 2.0 / 3},
      {"wrong", "print(int(input()) + 3)", 0.0},
      {"crashing", "raise SystemExit(int(input()) // 0)", 0.0},
      {"slow", "import time\ntime.sleep(60)", 0.0},
      {"cpu burner", "while True:\n    pass", 0.0},
      {"memory hog", "x = bytearray(2 << 30)\nprint(int(input()) * 2)", 0.0},
      {"fork bomb",
       "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
       0.0},
      {"output flood", "while True:\n    print('x' * 4096)", 0.0},
      {"network",
       "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n"
       "print(int(input()) * 2)",
       0.0},
      {"escape", "open('/tmp/grpo_escape_test.txt', 'w').write('x')\nprint(int(input()) * 2)", 0.0},
      {"own dir",
       "open('scratch.txt', 'w').write(input())\nprint(int(open('scratch.txt').read()) * 2)", 1.0},
  };
  std::vector<Sample> batch;
  for (const Case& c : cases) batch.push_back({"", py(c.code), doubling_tests()});
  auto t0 = std::chrono::steady_clock::now();
  BatchScores s = set.score(batch);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Without namespaces (not root) the sandbox does not block the network or writes
  // outside the run's directory (docs/rewards.md): those two cases are not checked then.
  const bool ns = Sandbox().isolation() == Sandbox::Isolation::kNamespaces;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!ns && (cases[i].name == "network" || cases[i].name == "escape")) continue;
    EXPECT_NEAR(s.components[0][i], cases[i].want, 1e-9)
        << cases[i].name << ": " << s.details[0][i].dump();
  }
  EXPECT_EQ(s.failures[0].total(), 0) << "every program is scored, none is a reward failure";
  // 36 programs on 4 slots; the slow ones are killed at 10 s wall / 1 s CPU.
  EXPECT_LT(secs, 60);
  if (ns) {
    EXPECT_FALSE(std::filesystem::exists("/tmp/grpo_escape_test.txt"));
    EXPECT_EQ(s.details[0][10]["first_failure"], "test 0: exit 1") << "escape blocked";
    EXPECT_EQ(sandbox_processes(), 0) << "the fork bomb's processes are all gone";
  }
  std::filesystem::remove("/tmp/grpo_escape_test.txt");
  // The scoring process goes on: the same set scores again.
  BatchScores again = set.score({{"", py("print(int(input()) * 2)"), doubling_tests()}});
  EXPECT_EQ(again.components[0][0], 1.0);
}

TEST(CodeRewardE2E, AssertTestsAllOrNothingAndOutputKey) {
  if (find_python3().empty()) GTEST_SKIP() << "no python3 in /usr/bin";
  RewardSet set({code_entry(Json{{"mode", "all"}, {"output_key", "answer"}})});
  std::string add = "def add(a, b):\n    return a + b";
  Json asserts = {{"tests", Json::array({"assert add(1, 2) == 3", "assert add(-1, 1) == 0",
                                         "assert add(2, 2) == 5"})}};
  Json asserts_ok = {{"tests", "assert add(1, 2) == 3\nassert add(0, 0) == 0"}};
  BatchScores s = set.score({{"", py(add), asserts},
                             {"", py(add), asserts_ok},
                             {"", py("print(6 * 7)"), Json{{"answer", "42"}}},
                             {"", py("print(6 * 8)"), Json{{"answer", 42}}}});
  EXPECT_EQ(s.components[0], (std::vector<double>{0, 1, 1, 0})) << Json(s.details[0]).dump();
}

TEST(CodeRewardE2E, CppProgramsCompileAndRun) {
  if (access("/usr/bin/g++", X_OK) != 0) GTEST_SKIP() << "no g++";
  RewardSet set({code_entry(Json{{"wall_time_s", 5.0}})});
  std::string good =
      "<answer>```cpp\n#include <iostream>\nint main() { long x; std::cin >> x; "
      "std::cout << 2 * x << \"\\n\"; }\n```</answer>";
  std::string broken = "<answer>```cpp\nint main() { return x; }\n```</answer>";
  std::string segv =
      "<answer>```cpp\nint main() { volatile int* p = nullptr; return *p; }\n```</answer>";
  BatchScores s = set.score(
      {{"", good, doubling_tests()}, {"", broken, doubling_tests()}, {"", segv, doubling_tests()}});
  EXPECT_EQ(s.components[0], (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(s.details[0][1]["reason"], "compile error");
}

}  // namespace
}  // namespace grpo::rewards
