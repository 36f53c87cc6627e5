// tests/rewards/reward_set_test.cpp: the registry (including a user C++ reward registered
// by name), RewardSet weighting, metrics, and isolation of failing rewards.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "core/error.h"
#include "rewards/reward.h"

namespace grpo::rewards {
namespace {

// A custom reward, registered by name exactly as a user would: counts the words of the
// completion, scaled by args.scale.
class WordCountReward final : public Reward {
 public:
  explicit WordCountReward(const Json& args) : scale_(args.value("scale", 1.0)) {}
  RewardResult score(const Sample& s) const override {
    double words = 0;
    bool in_word = false;
    for (char c : s.completion) {
      bool space = c == ' ';
      if (!space && !in_word) ++words;
      in_word = !space;
    }
    RewardResult r;
    r.score = scale_ * words;
    return r;
  }

 private:
  double scale_;
};
GRPO_REGISTER_REWARD(test_word_count,
                     [](const Json& args) { return std::make_unique<WordCountReward>(args); });

// Misbehaving rewards for the isolation tests; `bad` picks the sample that fails.
class Misbehaving final : public Reward {
 public:
  enum Mode { kThrow, kSleep, kNaN, kThrowInt } mode;
  std::string bad;
  Misbehaving(Mode m, std::string b) : mode(m), bad(std::move(b)) {}
  RewardResult score(const Sample& s) const override {
    RewardResult r;
    r.score = 1.0;
    if (s.completion != bad) return r;
    switch (mode) {
      case kThrow:
        throw std::runtime_error("boom");
      case kThrowInt:
        throw 42;
      case kSleep:
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return r;
      case kNaN:
        r.score = std::nan("");
        return r;
    }
    return r;
  }
};

cfg::RewardEntry entry(const std::string& name, double weight, Json args = Json::object()) {
  cfg::RewardEntry e;
  e.name = name;
  e.weight = weight;
  e.args = std::move(args);
  return e;
}

TEST(RewardRegistry, KnowsTheBuiltinsAndTheCustomClass) {
  auto names = reward_names();
  for (const char* n : {"format", "accuracy", "countdown", "length", "repetition", "plugin",
                        "remote", "test_word_count"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  auto r = make_reward("test_word_count", Json{{"scale", 0.5}});
  EXPECT_DOUBLE_EQ(r->score(Sample{"", "three little words", {}}).score, 1.5);
}

TEST(RewardRegistry, UnknownNameListsTheKnownOnesAndDuplicatesAreRefused) {
  try {
    make_reward("acuracy");
    FAIL();
  } catch (const grpo::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown reward 'acuracy'"), std::string::npos) << m;
    EXPECT_NE(m.find("accuracy"), std::string::npos) << m;
  }
  EXPECT_THROW(register_reward("format", [](const Json&) { return std::unique_ptr<Reward>(); }),
               grpo::Error);
}

TEST(RewardSet, WeightedTotalKeepsEveryComponent) {
  RewardSet set({entry("accuracy", 1.0), entry("format", 0.5), entry("test_word_count", 0.25)},
                {.num_threads = 3});
  std::vector<Sample> batch = {
      {"p", "<think>a</think><answer>4</answer>", {{"answer", "4"}}},   // right, formatted, 2 words
      {"p", "<think>a</think> <answer>5</answer>", {{"answer", "4"}}},  // wrong, formatted, 3 words
      {"p", "4", {{"answer", "4"}}},                                    // no answer, 1 word
  };
  BatchScores s = set.score(batch);
  ASSERT_EQ(s.names, (std::vector<std::string>{"accuracy", "format", "test_word_count"}));
  EXPECT_EQ(s.components[0], (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(s.components[1], (std::vector<double>{1, 1, 0}));
  EXPECT_EQ(s.components[2], (std::vector<double>{1, 2, 1}));
  EXPECT_DOUBLE_EQ(s.total[0], 1 + 0.5 + 0.25);
  EXPECT_DOUBLE_EQ(s.total[1], 0.5 + 0.5);
  EXPECT_DOUBLE_EQ(s.total[2], 0.25);
  auto m = s.metrics();
  EXPECT_DOUBLE_EQ(m["rewards/accuracy/mean"], 1.0 / 3);
  EXPECT_DOUBLE_EQ(m["reward"], (1.75 + 1.0 + 0.25) / 3);
  EXPECT_DOUBLE_EQ(m["rewards/format/thrown"], 0);
  EXPECT_EQ(s.details[0][2]["reason"], "no answer");
}

TEST(RewardSet, LabelsAndRepeatedNamesGiveDistinctComponents) {
  RewardSet set({entry("format", 1), entry("format", 1, {{"think_in_prompt", true}}),
                 entry("test_word_count", 1, {{"label", "words"}})});
  auto s = set.score({{"", "x</think><answer>1</answer>", {}}});
  EXPECT_EQ(s.names, (std::vector<std::string>{"format", "format_2", "words"}));
  EXPECT_EQ(s.components[0][0], 0.0);
  EXPECT_EQ(s.components[1][0], 1.0);
}

TEST(RewardSet, ConfigErrorsNameTheEntry) {
  try {
    RewardSet set({entry("format", 1), entry("countdown", 1, {{"max_depth", "deep"}})});
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewards[1] (countdown)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(RewardSet(std::vector<cfg::RewardEntry>{}), grpo::Error);
}

TEST(RewardIsolation, ThrowingNaNAndSlowRewardsGiveTheirFallbackAndAreCounted) {
  auto comp = [](std::string name, Misbehaving::Mode m, double fallback, double timeout = 10) {
    return RewardSet::Component{name, std::make_shared<Misbehaving>(m, "bad"), 1.0, timeout,
                                fallback};
  };
  RewardSet set({comp("thrower", Misbehaving::kThrow, -1.0), comp("nan", Misbehaving::kNaN, 0.25),
                 comp("sleeper", Misbehaving::kSleep, -2.0, 0.3),
                 comp("int_thrower", Misbehaving::kThrowInt, 0.5)},
                {.num_threads = 4});
  auto t0 = std::chrono::steady_clock::now();
  BatchScores s = set.score({{"", "good", {}}, {"", "bad", {}}, {"", "good", {}}});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 1.2) << "the slow call must be abandoned at its timeout, not awaited";
  EXPECT_EQ(s.components[0], (std::vector<double>{1, -1, 1}));
  EXPECT_EQ(s.components[1], (std::vector<double>{1, 0.25, 1}));
  EXPECT_EQ(s.components[2], (std::vector<double>{1, -2, 1}));
  EXPECT_EQ(s.components[3], (std::vector<double>{1, 0.5, 1}));
  EXPECT_EQ(s.failures[0].thrown, 1);
  EXPECT_EQ(s.failures[1].nan, 1);
  EXPECT_EQ(s.failures[2].timed_out, 1);
  EXPECT_EQ(s.failures[3].thrown, 1);
  EXPECT_EQ(s.failures[0].total() + s.failures[1].total() + s.failures[2].total(), 3);
  EXPECT_DOUBLE_EQ(s.total[1], -1 + 0.25 - 2 + 0.5);
  EXPECT_EQ(s.errors[1].size(), 4u);
  EXPECT_TRUE(s.errors[0].empty());
  auto m = s.metrics();
  EXPECT_EQ(m["rewards/thrower/thrown"], 1);
  EXPECT_EQ(m["rewards/sleeper/timed_out"], 1);
  EXPECT_EQ(m["rewards/nan/nan"], 1);
  // The set keeps working after abandoning a call.
  BatchScores again = set.score({{"", "good", {}}});
  EXPECT_EQ(again.total[0], 4.0);
}

TEST(RewardIsolation, DataErrorsScoreZeroEvenWithAPositiveFallback) {
  RewardSet::Component acc{"accuracy", std::shared_ptr<const Reward>(make_reward("accuracy")), 2.0,
                           10, 0.7};
  RewardSet set({acc});
  BatchScores s = set.score({{"", "<answer>x</answer>", {{"answer", nullptr}}},
                             {"", "<answer>1</answer>", {{"answer", "1"}}}});
  EXPECT_EQ(s.components[0], (std::vector<double>{0, 1}));
  EXPECT_EQ(s.total, (std::vector<double>{0, 2}));
  EXPECT_EQ(s.data_error, (std::vector<bool>{true, false}));
  EXPECT_EQ(s.failures[0].data_errors, 1);
  ASSERT_EQ(s.errors[0].size(), 1u);
  EXPECT_NE(s.errors[0][0].find("is not a usable answer"), std::string::npos) << s.errors[0][0];
}

TEST(RewardIsolation, AbandonedCallsDoNotHoldTheirSlots) {
  // Every call sleeps 1.5 s, past its 0.05 s timeout, on 2 slots: each abandoned call's
  // slot is taken by a fresh thread, so the 6 calls take ~3 waves of 0.05 s (not of
  // 1.5 s), and the next batch runs at once on the fresh threads.
  RewardSet set(
      {RewardSet::Component{"sleeper", std::make_shared<Misbehaving>(Misbehaving::kSleep, "bad"),
                            1.0, 0.05, -1.0}},
      {.num_threads = 2});
  std::vector<Sample> batch(6, Sample{"", "bad", {}});
  auto t0 = std::chrono::steady_clock::now();
  BatchScores s = set.score(batch);
  EXPECT_EQ(s.failures[0].timed_out, 6);
  for (double v : s.components[0]) EXPECT_EQ(v, -1.0);
  BatchScores s2 = set.score(std::vector<Sample>(400, Sample{"", "good", {}}));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 1.0);
  EXPECT_EQ(s2.failures[0].timed_out, 0);
  for (double v : s2.components[0]) EXPECT_EQ(v, 1.0);
}

TEST(RewardIsolation, StuckCallsPastTheCapAreRefusedAtOnce) {
  // max_abandoned 2 on 1 slot: after 3 stuck calls no slot is left and the rest of the
  // batch, and the next batch, are refused at once instead of waiting.
  RewardSet set(
      {RewardSet::Component{"sleeper", std::make_shared<Misbehaving>(Misbehaving::kSleep, "bad"),
                            1.0, 0.05, -1.0}},
      {.num_threads = 1, .max_abandoned = 2});
  auto t0 = std::chrono::steady_clock::now();
  BatchScores s = set.score(std::vector<Sample>(50, Sample{"", "bad", {}}));
  BatchScores s2 = set.score(std::vector<Sample>(5, Sample{"", "good", {}}));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 0.6);  // 3 waves of 0.05 s, then refusals
  EXPECT_EQ(s.failures[0].timed_out, 50);
  EXPECT_EQ(s2.failures[0].timed_out, 5);
  ASSERT_FALSE(s2.errors[0].empty());
  EXPECT_NE(s2.errors[0][0].find("not started"), std::string::npos) << s2.errors[0][0];
}

TEST(RewardSet, ScoresALargeBatchConcurrentlyAndDeterministically) {
  RewardSet set({entry("accuracy", 1.0), entry("format", 1.0), entry("repetition", 1.0)},
                {.num_threads = 4});
  std::vector<Sample> batch;
  for (int i = 0; i < 500; ++i) {
    batch.push_back({"",
                     "<think>t</think><answer>" + std::to_string(i % 7) + "</answer>",
                     {{"answer", std::to_string(i % 5)}}});
  }
  BatchScores a = set.score(batch), b = set.score(batch);
  EXPECT_EQ(a.total, b.total);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(a.components[0][i], (i % 7) == (i % 5) ? 1.0 : 0.0);
    EXPECT_EQ(a.components[1][i], 1.0);
  }
}

}  // namespace
}  // namespace grpo::rewards
