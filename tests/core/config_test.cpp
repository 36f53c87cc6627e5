// tests/core/config_test.cpp: the YAML config reader against hand-written files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/job_config.h"

namespace grpo {
namespace {

std::string write_tmp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / "grpo_config_test";
  std::filesystem::create_directories(dir);
  auto p = (dir / name).string();
  std::ofstream(p) << text;
  return p;
}

std::string load_error(const std::string& path, const std::vector<std::string>& ov = {}) {
  try {
    JobConfig::load(path, ov);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsComeFromCode) {
  JobConfig c = JobConfig::load("", {});
  EXPECT_DOUBLE_EQ(c.trainer.learning_rate, 1e-6);
  EXPECT_EQ(c.rollout.num_generations, 8);
  ASSERT_EQ(c.rewards.size(), 2u);
  EXPECT_EQ(c.rewards[0].name, "accuracy");
}

TEST(Config, ReadsTypedValuesFromYaml) {
  auto p = write_tmp("ok.yaml",
                     "trainer:\n  learning_rate: 3e-6\n  loss_type: dr_grpo\n  bf16: false\n"
                     "rollout:\n  num_generations: 4\n  stop: ['</answer>', '<|end|>']\n"
                     "rewards:\n  - {name: format, weight: 0.25}\n"
                     "model:\n  arch: {model_type: deepseek_v3, hidden_size: 64}\n");
  JobConfig c = JobConfig::load(p, {});
  EXPECT_DOUBLE_EQ(c.trainer.learning_rate, 3e-6);
  EXPECT_EQ(c.trainer.loss_type, "dr_grpo");
  EXPECT_FALSE(c.trainer.bf16);
  EXPECT_EQ(c.rollout.num_generations, 4);
  EXPECT_EQ(c.rollout.stop, (std::vector<std::string>{"</answer>", "<|end|>"}));
  ASSERT_EQ(c.rewards.size(), 1u);
  EXPECT_EQ(c.rewards[0].name, "format");
  EXPECT_DOUBLE_EQ(c.rewards[0].weight, 0.25);
  EXPECT_EQ(c.model.arch["model_type"], "deepseek_v3");
  EXPECT_EQ(c.model.arch["hidden_size"], 64);
}

TEST(Config, FreeFormArgsKeepNanInfAndHexAsStrings) {
  // Issue 19 item 9: an unquoted `nan` in reward args became null (strtod read it as NaN,
  // which JSON writes as null). YAML reads these plain scalars as strings; so do we.
  auto p = write_tmp("nan_args.yaml",
                     "rewards:\n  - name: format\n    args: {a: nan, b: inf, c: -Infinity, "
                     "d: 0x10, e: 1.5, f: -2, g: 1e3, h: .5}\n");
  JobConfig c = JobConfig::load(p, {});
  const auto& a = c.rewards.at(0).args;
  EXPECT_EQ(a["a"], "nan");
  EXPECT_EQ(a["b"], "inf");
  EXPECT_EQ(a["c"], "-Infinity");
  EXPECT_EQ(a["d"], "0x10");
  EXPECT_DOUBLE_EQ(a["e"].get<double>(), 1.5);
  EXPECT_EQ(a["f"], -2);
  EXPECT_DOUBLE_EQ(a["g"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(a["h"].get<double>(), 0.5);
}

TEST(Config, WrongTypeNamesFileLineKeyAndExpectedType) {
  auto p = write_tmp("bad_type.yaml", "run:\n  seed: 1\ntrainer:\n  learning_rate: abc\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find(p + ":4"), std::string::npos) << e;
  EXPECT_NE(e.find("trainer.learning_rate"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a number"), std::string::npos) << e;
}

TEST(Config, UnknownKeyGetsSuggestion) {
  auto p = write_tmp("unknown.yaml", "trainer:\n  learning_rat: 1e-6\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find(p + ":2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'trainer.learning_rat'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'trainer.learning_rate'"), std::string::npos) << e;
}

TEST(Config, UnknownSectionGetsSuggestion) {
  auto p = write_tmp("unknown_section.yaml", "trainr:\n  beta: 0.1\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find("unknown key 'trainr'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'trainer'"), std::string::npos) << e;
}

TEST(Config, OutOfRangeAndBadEnum) {
  auto p = write_tmp("range.yaml", "trainer:\n  epsilon: 1.5\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find("trainer.epsilon"), std::string::npos) << e;
  EXPECT_NE(e.find("out of range [0, 1]"), std::string::npos) << e;
  auto q = write_tmp("enum.yaml", "trainer:\n  loss_type: drgrpo\n");
  e = load_error(q);
  EXPECT_NE(e.find("expected one of {grpo, bnpo, dapo, dr_grpo}"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'dr_grpo'"), std::string::npos) << e;
}

TEST(Config, OverridesApplyAfterFileAndReportTheirOwnErrors) {
  auto p = write_tmp("ov.yaml", "trainer:\n  learning_rate: 3e-6\n");
  JobConfig c = JobConfig::load(p, {"trainer.learning_rate=1e-5", "rollout.stop=[a, b]"});
  EXPECT_DOUBLE_EQ(c.trainer.learning_rate, 1e-5);
  EXPECT_EQ(c.rollout.stop, (std::vector<std::string>{"a", "b"}));
  std::string e = load_error(p, {"trainer.learning_rate=abc"});
  EXPECT_NE(e.find("command-line override 'trainer.learning_rate=abc'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a number"), std::string::npos) << e;
  e = load_error(p, {"trainer.lerning_rate=1"});
  EXPECT_NE(e.find("did you mean 'trainer.learning_rate'"), std::string::npos) << e;
  e = load_error(p, {"trainer.learning_rate"});
  EXPECT_NE(e.find("expected KEY=VALUE"), std::string::npos) << e;
}

TEST(Config, MissingRequiredValue) {
  auto p = write_tmp("req.yaml", "rewards:\n  - {weight: 1.0}\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find("missing required value 'rewards[0].name'"), std::string::npos) << "[" << e << "]";
}

TEST(Config, CrossKeyClashesAreRefusedWithNumbers) {
  auto p = write_tmp("clash.yaml",
                     "trainer:\n  prompts_per_step: 3\n  per_device_train_batch_size: 5\n"
                     "rollout:\n  num_generations: 4\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find("= 12 completions is not divisible by trainer.per_device_train_batch_size (5)"),
            std::string::npos) << e;
}

TEST(Config, YamlSyntaxErrorNamesLine) {
  auto p = write_tmp("syntax.yaml", "trainer:\n  beta: [1, 2\n");
  std::string e = load_error(p);
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  EXPECT_NE(e.find(p + ":"), std::string::npos) << e;
}

TEST(Config, EffectiveConfigRoundTrips) {
  JobConfig a = JobConfig::load("", {"trainer.learning_rate=2.5e-7", "rollout.top_k=5",
                                     "model.arch={model_type: qwen3, vocab_size: 300}"});
  std::string y = a.to_yaml();
  auto p = write_tmp("effective.yaml", y);
  JobConfig b = JobConfig::load(p, {});
  EXPECT_DOUBLE_EQ(b.trainer.learning_rate, 2.5e-7);
  EXPECT_EQ(b.rollout.top_k, 5);
  EXPECT_EQ(b.model.arch["vocab_size"], 300);
  EXPECT_EQ(b.to_yaml(), y);
}

TEST(Config, EditDistanceAndClosest) {
  EXPECT_EQ(cfg::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(cfg::closest("lerning_rate", {"beta", "learning_rate"}), "learning_rate");
  EXPECT_EQ(cfg::closest("zzz", {"beta", "learning_rate"}), "");
}

}  // namespace
}  // namespace grpo
