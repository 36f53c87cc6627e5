// tests/rewards/score_cli_test.cpp: `grpo score` as a process: one JSON line per input
// line with hand-computed scores, a summary, bad lines reported with file:line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

using Json = nlohmann::json;

struct CliRun {
  int rc = -1;
  std::vector<std::string> lines;  // stdout
  std::string err;
};

CliRun run(const std::string& args) {
  std::string err_path = ::testing::TempDir() + "score_cli_stderr.txt";
  std::string cmd = std::string(GRPO_SCORE_BIN) + " score " + args + " 2>" + err_path;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) r.lines.push_back(line);
  FILE* e = fopen(err_path.c_str(), "r");
  if (e) {
    while ((n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    fclose(e);
  }
  return r;
}

const std::string kData = std::string(GRPO_SOURCE_DIR) + "/tests/rewards/data/score_input.jsonl";

TEST(ScoreCli, PrintsOneLinePerInputThenASummary) {
  CliRun r = run("--rewards format:0.5,accuracy --data " + kData);
  ASSERT_EQ(r.lines.size(), 9u) << r.err;
  auto at = [&](size_t i) { return Json::parse(r.lines[i]); };
  EXPECT_EQ(at(0), Json::parse(R"({"rewards": {"format": 1.0, "accuracy": 1.0}, "total": 1.5})"));
  EXPECT_EQ(at(1)["rewards"]["accuracy"], 1.0);
  EXPECT_EQ(at(1)["total"], 1.5);
  EXPECT_EQ(at(2), Json::parse(R"({"rewards": {"format": 0.0, "accuracy": 1.0}, "total": 1.0})"));
  EXPECT_EQ(r.lines[3], "");                     // blank in, blank out
  EXPECT_EQ(at(4)["rewards"]["accuracy"], 0.0);  // data error: never rewarded
  EXPECT_EQ(at(4)["total"], 0.5);
  EXPECT_TRUE(at(4).contains("errors"));
  EXPECT_TRUE(at(5).contains("error"));
  EXPECT_TRUE(at(6).contains("error"));
  EXPECT_EQ(at(7)["rewards"]["accuracy"], 1.0);  // "(25 - 3) * 2" is 44
  Json s = at(8)["summary"];
  EXPECT_EQ(s["rows"], 7);
  EXPECT_EQ(s["scored"], 5);
  EXPECT_EQ(s["bad_rows"], 2);
  EXPECT_EQ(s["rows_with_data_errors"], 1);
  EXPECT_DOUBLE_EQ(s["mean"]["accuracy"].get<double>(), 4.0 / 5);
  EXPECT_EQ(s["failures"]["accuracy"]["data_errors"], 1);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("score_input.jsonl:6: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("score_input.jsonl:7: expected a string field \"completion\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("score_input.jsonl:5: accuracy: data error"), std::string::npos) << r.err;
}

std::string write_rows(const std::string& name, const std::vector<Json>& rows) {
  std::string path = std::string(GRPO_BINARY_DIR) + "/" + name;
  std::ofstream out(path);
  for (const Json& r : rows) out << r.dump() << "\n";
  return path;
}

TEST(ScoreCli, SymbolicAnswersAndCodeAreScored) {
  std::string math = write_rows(
      "score_math.jsonl",
      {Json{{"completion", "<answer>\\boxed{\\frac{\\pi}{2}}</answer>"}, {"answer", "\\pi/2"}},
       Json{{"completion", "<answer>x \\ge 0</answer>"}, {"answer", "[0, \\infty)"}},
       Json{{"completion", "<answer>1.5708</answer>"}, {"answer", "\\frac{\\pi}{2}"}}});
  CliRun r = run("--rewards accuracy --data " + math);
  ASSERT_EQ(r.lines.size(), 4u) << r.err;
  EXPECT_EQ(Json::parse(r.lines[0])["total"], 1.0);
  EXPECT_EQ(Json::parse(r.lines[1])["total"], 1.0);
  EXPECT_EQ(Json::parse(r.lines[2])["total"], 0.0);
  EXPECT_EQ(r.rc, 0) << r.err;  // symbolic references are not data errors
  Json tests =
      Json::array({{{"input", "3\n"}, {"output", "9"}}, {{"input", "5\n"}, {"output", "25"}}});
  std::string code = write_rows(
      "score_code.jsonl",
      {Json{{"completion", "<answer>```python\nx = int(input())\nprint(x * x)\n```</answer>"},
            {"tests", tests}},
       Json{{"completion", "<answer>```python\nprint(9)\n```</answer>"}, {"tests", tests}},
       Json{{"completion", "<answer>```python\nraise SystemExit(1)\n```</answer>"},
            {"tests", tests}}});
  r = run("--rewards code --data " + code);
  ASSERT_EQ(r.lines.size(), 4u) << r.err;
  EXPECT_EQ(Json::parse(r.lines[0])["total"], 1.0);
  EXPECT_EQ(Json::parse(r.lines[1])["total"], 0.5);
  EXPECT_EQ(Json::parse(r.lines[2])["total"], 0.0);
}

TEST(ScoreCli, WeightsFlagAndConfigListAreUsed) {
  CliRun r = run("--rewards format,accuracy --weights 2,3 --data " + kData);
  ASSERT_GE(r.lines.size(), 1u) << r.err;
  EXPECT_EQ(Json::parse(r.lines[0])["total"], 5.0);
  r = run("--config " + std::string(GRPO_SOURCE_DIR) +
          "/tests/rewards/data/score_job.yaml --data " + kData);
  ASSERT_EQ(r.lines.size(), 9u) << r.err;
  // countdown row: correct (2.0) + formatted (0.5)
  EXPECT_EQ(Json::parse(r.lines[7]),
            Json::parse(R"({"rewards": {"countdown": 1.0, "format": 1.0}, "total": 2.5})"));
  // other rows have no nums/target: data errors for countdown
  EXPECT_EQ(Json::parse(r.lines[0])["rewards"]["countdown"], 0.0);
}

TEST(ScoreCli, BadArgumentsGiveClearErrors) {
  CliRun r = run("--rewards acuracy --data " + kData);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("unknown reward 'acuracy'"), std::string::npos) << r.err;
  r = run("--rewards format,accuracy --weights 1 --data " + kData);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--weights: 1 weights for 2 rewards"), std::string::npos) << r.err;
  r = run("--rewards format:heavy --data " + kData);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("'heavy' is not a number"), std::string::npos) << r.err;
  r = run("--rewards format --data /nonexistent.jsonl");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("cannot open --data '/nonexistent.jsonl'"), std::string::npos) << r.err;
}

}  // namespace
