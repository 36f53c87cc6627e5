// tests/data/dataset_test.cpp: JSONL loading errors name file:line, templates fill named
// fields (R1-Zero text, countdown question, chat formats), the sampler's position round-trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/dataset.h"
#include "data/template.h"

namespace gd = grpo::data;

namespace {
std::string tmp_file(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("grpo_data_test_" + name);
  std::ofstream(p) << text;
  return p.string();
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const grpo::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Dataset, LoadsMathRowsSkippingBlankLines) {
  auto p = tmp_file("ok.jsonl", "{\"prompt\": \"What is 1 + 2?\", \"answer\": \"3\"}\n\n{\"prompt\": \"x\", \"answer\": 4}\n");
  auto d = gd::Dataset::load(p, gd::Task::kMath);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.row(1)["answer"], 4);
  EXPECT_EQ(gd::ground_truth(gd::Task::kMath, d.row(0)), (gd::Json{{"answer", "3"}}));
}

TEST(Dataset, BadRowNamesFileAndLine) {
  auto p = tmp_file("bad.jsonl", "{\"prompt\": \"a\", \"answer\": \"1\"}\n\n{\"prompt\": \"b\"}\n");
  std::string e = error_of([&] { gd::Dataset::load(p, gd::Task::kMath); });
  EXPECT_NE(e.find(p + ":3:"), std::string::npos) << e;
  EXPECT_NE(e.find("no \"answer\""), std::string::npos) << e;
  auto q = tmp_file("badjson.jsonl", "{\"nums\": [1,2], \"target\": 3}\n{oops\n");
  e = error_of([&] { gd::Dataset::load(q, gd::Task::kCountdown); });
  EXPECT_NE(e.find(q + ":2: malformed JSON"), std::string::npos) << e;
  auto r = tmp_file("badnums.jsonl", "{\"nums\": [1,\"x\"], \"target\": 3}\n");
  e = error_of([&] { gd::Dataset::load(r, gd::Task::kCountdown); });
  EXPECT_NE(e.find(r + ":1:"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { gd::Dataset::load("/nonexistent/x.jsonl", gd::Task::kMath); }).find("/nonexistent/x.jsonl"),
            std::string::npos);
}

TEST(Template, R1ZeroIsThePaperTextAndEndsWithAssistant) {
  gd::PromptTemplate t({.name = "r1_zero"}, gd::Task::kMath);
  std::string p = t.render({{"prompt", "What is 2 + 3?"}, {"answer", "5"}});
  EXPECT_EQ(p.rfind("A conversation between User and Assistant. The user asks a question, and the Assistant solves it.", 0), 0u);
  EXPECT_NE(p.find("<think> reasoning process here </think> <answer> answer here </answer>. User: What is 2 + 3?. Assistant:"),
            std::string::npos);
  EXPECT_EQ(p.substr(p.size() - 10), "Assistant:");  // the model writes <think> itself
}

TEST(Template, CountdownRowGetsQuestionWithNumsAndTarget) {
  gd::PromptTemplate t({.name = "plain"}, gd::Task::kCountdown);
  std::string p = t.render({{"nums", {3, 5, 7}}, {"target", 22}});
  EXPECT_EQ(p.rfind("Using the numbers [3, 5, 7], create an equation that equals 22.", 0), 0u) << p;
}

TEST(Template, CustomFieldsBracesAndMissingField) {
  gd::PromptTemplate t({.name = "custom", .text = "{{lit}} {nums} -> {target}: {prompt}"}, gd::Task::kCountdown);
  EXPECT_EQ(t.render({{"nums", {1, 2}}, {"target", 3}, {"prompt", "go"}}), "{lit} [1, 2] -> 3: go");
  std::string e = error_of([&] { gd::fill_template("{nope}", {{"a", 1}}); });
  EXPECT_NE(e.find("{nope}"), std::string::npos);
  EXPECT_NE(e.find("row keys: a"), std::string::npos) << e;
  EXPECT_FALSE(error_of([&] { gd::PromptTemplate({.name = "custom"}, gd::Task::kMath); }).empty());
  EXPECT_FALSE(error_of([&] { gd::PromptTemplate({.name = "jinja"}, gd::Task::kMath); }).empty());
}

TEST(Template, ChatFormatsMatchTheHuggingFaceTemplates) {
  // Expected strings are what transformers' apply_chat_template(add_generation_prompt=True)
  // gives for Qwen2.5 (ChatML) and DeepSeek-V3 with a system and a user message.
  gd::PromptTemplate q({.name = "chat", .system_prompt = "Be brief.", .chat_format = "chatml"}, gd::Task::kMath);
  EXPECT_EQ(q.render({{"prompt", "Hi"}, {"answer", "1"}}),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(q.completion_suffix(), "<|im_end|>");
  gd::PromptTemplate d({.name = "chat", .system_prompt = "Be brief.", .chat_format = "deepseek"}, gd::Task::kMath);
  EXPECT_EQ(d.render({{"prompt", "Hi"}, {"answer", "1"}}),
            "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜>");
  EXPECT_FALSE(error_of([&] { gd::PromptTemplate({.name = "chat"}, gd::Task::kMath, nullptr); }).empty());
}

TEST(Sampler, SameSeedSameOrderAndEveryRowOncePerEpoch) {
  gd::Sampler a(10, 7), b(10, 7), c(10, 8);
  auto x = a.next(10), y = b.next(10), z = c.next(10);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  std::vector<size_t> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(a.next(10), x);  // a new epoch is a different permutation
  gd::Sampler plain(4, 1, false);
  EXPECT_EQ(plain.next(6), (std::vector<size_t>{0, 1, 2, 3, 0, 1}));
}

TEST(Sampler, RestoredPositionContinuesExactly) {
  gd::Sampler a(7, 3);
  a.next(11);  // into the second epoch
  gd::Json st = a.state();
  auto want = a.next(9);
  gd::Sampler b(7, 999);
  b.restore(gd::Json::parse(st.dump()));
  EXPECT_EQ(b.next(9), want);
  gd::Sampler other(8, 3);
  EXPECT_NE(error_of([&] { other.restore(st); }).find("saved over 7 rows"), std::string::npos);
  EXPECT_NE(error_of([&] { other.restore(gd::Json{{"seed", 1}}); }).find("missing key"), std::string::npos);
}
