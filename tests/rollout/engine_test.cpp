// tests/rollout/engine_test.cpp: the engine's scheduling on a deterministic toy model:
// prompt shared once per group, seeded reproducibility, batched == one-at-a-time,
// continuous == static batching (and fewer decode calls), stops, log-prob bookkeeping,
// cancellation and input checks.
#include "rollout/engine.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/log_softmax.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "tests/rollout/toy_model.h"

namespace grpo::rollout {
namespace {

using testing::ToyModel;
constexpr int64_t kVocab = 26;

std::string letters(std::span<const int32_t> ids) {
  std::string s;
  for (int32_t i : ids) s.push_back(static_cast<char>('a' + i));
  return s;
}

std::vector<GroupRequest> make_groups(int n, int64_t G, std::shared_ptr<SamplingParams> sp) {
  std::vector<GroupRequest> out;
  for (int p = 0; p < n; ++p) {
    GroupRequest g;
    for (int t = 0; t < 3 + p % 4; ++t) g.prompt.push_back((p * 7 + t * 3) % kVocab);
    g.prompt_index = p;
    g.group_size = G;
    g.params = sp;
    out.push_back(g);
  }
  return out;
}

std::vector<Completion> run(ToyModel& m, int64_t batch, bool continuous,
                            std::vector<GroupRequest> groups) {
  Engine e(m, {.max_batch_seqs = batch, .continuous = continuous, .decode = letters});
  return e.generate(std::move(groups));
}

void expect_same(const std::vector<Completion>& a, const std::vector<Completion>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt_index, b[i].prompt_index);
    EXPECT_EQ(a[i].sample_index, b[i].sample_index);
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "completion " << i;
    EXPECT_EQ(a[i].finish, b[i].finish);
    ASSERT_EQ(a[i].logprobs.size(), b[i].logprobs.size());
    for (size_t t = 0; t < a[i].logprobs.size(); ++t) EXPECT_FLOAT_EQ(a[i].logprobs[t], b[i].logprobs[t]);
  }
}

TEST(Engine, GroupPrefillsThePromptOnceAndReturnsEverySample) {
  ToyModel m(kVocab);
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 5;
  sp->seed = 3;
  auto out = run(m, 16, true, make_groups(3, 4, sp));
  ASSERT_EQ(out.size(), 12u);
  EXPECT_EQ(m.prefills_, 3);  // one prefill per prompt, not per sample
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].prompt_index, static_cast<int64_t>(i / 4));
    EXPECT_EQ(out[i].sample_index, static_cast<int64_t>(i % 4));
    EXPECT_EQ(out[i].tokens.size(), 5u);
    EXPECT_EQ(out[i].finish, FinishReason::kLength);
  }
  // Samples of one group use different random streams.
  EXPECT_NE(out[0].tokens, out[1].tokens);
}

TEST(Engine, SeededRunIsReproducible) {
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 12, sp->seed = 99, sp->top_p = 0.9, sp->temperature = 0.8;
  ToyModel m1(kVocab), m2(kVocab);
  auto a = run(m1, 8, true, make_groups(4, 3, sp));
  auto b = run(m2, 8, true, make_groups(4, 3, sp));
  expect_same(a, b);
  sp->seed = 100;
  ToyModel m3(kVocab);
  auto c = run(m3, 8, true, make_groups(4, 3, sp));
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].tokens == c[i].tokens;
  EXPECT_LT(same, 3);
}

TEST(Engine, BatchedEqualsOneAtATimeForGreedy) {
  auto sp = std::make_shared<SamplingParams>();
  sp->temperature = 0, sp->max_new_tokens = 9;
  ToyModel m1(kVocab), m2(kVocab);
  expect_same(run(m1, 32, true, make_groups(6, 2, sp)), run(m2, 1, true, make_groups(6, 2, sp)));
}

TEST(Engine, ContinuousEqualsStaticAndUsesFewerDecodeCalls) {
  auto shortp = std::make_shared<SamplingParams>();
  shortp->max_new_tokens = 2, shortp->seed = 5;
  auto longp = std::make_shared<SamplingParams>(*shortp);
  longp->max_new_tokens = 20;
  auto groups = [&] {
    auto g = make_groups(5, 1, shortp);
    g[0].params = longp;
    return g;
  };
  ToyModel mc(kVocab), ms(kVocab);
  auto cont = run(mc, 2, true, groups());
  auto stat = run(ms, 2, false, groups());
  expect_same(cont, stat);
  EXPECT_EQ(cont[0].tokens.size(), 20u);
  // Static: the long answer holds its batch; continuous: the short ones stream past it.
  EXPECT_LT(mc.calls_, ms.calls_);
}

TEST(Engine, GroupLargerThanTheBatchIsSplitAcrossAdmissions) {
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 4, sp->seed = 8;
  ToyModel m1(kVocab), m2(kVocab);
  expect_same(run(m1, 3, true, make_groups(2, 7, sp)), run(m2, 64, true, make_groups(2, 7, sp)));
  EXPECT_EQ(m1.prefills_, 2);  // the staging slot keeps each prompt for its later samples
}

TEST(Engine, APauseDropsTheStagedPromptSoItIsPrefilledAgain) {
  // A pause comes before a weight update: samples admitted after it must not reuse a
  // prompt prefilled under the old weights.
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 3, sp->seed = 2;
  ToyModel m(kVocab);
  Engine e(m, {.max_batch_seqs = 2});
  std::vector<Completion> out;
  e.submit(make_groups(1, 5, sp), [&](Completion&& c) { out.push_back(std::move(c)); });
  e.step();  // 2 of 5 samples running, the prompt staged
  EXPECT_EQ(m.prefills_, 1);
  e.set_admission_paused(true);
  while (e.num_running() > 0) e.step();
  e.set_admission_paused(false);
  while (e.num_running() > 0 || e.num_waiting() > 0) e.step();
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(m.prefills_, 2);
}

TEST(Engine, EosEndsACompletionAndIsKept) {
  ToyModel m(kVocab, /*eos=*/25, /*eos_after=*/7);
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 50, sp->eos_ids = {25}, sp->seed = 1;
  auto out = run(m, 4, true, make_groups(2, 2, sp));
  for (const auto& c : out) {
    EXPECT_EQ(c.finish, FinishReason::kEos);
    EXPECT_EQ(c.tokens.back(), 25);
    EXPECT_LE(c.tokens.size() + 3, 8u + 3);  // the boost starts at 7 cached tokens
  }
}

TEST(Engine, StopStringEndsAtItsFirstOccurrenceAndIsKept) {
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 40, sp->seed = 2, sp->temperature = 2.0, sp->stop = {"ab", "zz"};
  ToyModel m(kVocab);
  auto out = run(m, 16, true, make_groups(8, 4, sp));
  int stopped = 0;
  for (const auto& c : out) {
    std::string text = letters(c.tokens);
    auto first = std::min(text.find("ab"), text.find("zz"));
    if (c.finish == FinishReason::kStop) {
      ++stopped;
      ASSERT_NE(first, std::string::npos);
      EXPECT_EQ(first + 2, text.size()) << text;
    } else {
      EXPECT_EQ(c.finish, FinishReason::kLength);
      EXPECT_EQ(first, std::string::npos) << text;
      EXPECT_EQ(text.size(), 40u);
    }
  }
  EXPECT_GT(stopped, 0);
}

TEST(Engine, LogprobsMatchAReplayOfTheModel) {
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 6, sp->seed = 4, sp->temperature = 0.7, sp->top_k = 5;
  ToyModel m(kVocab);
  auto groups = make_groups(2, 2, sp);
  auto out = run(m, 8, true, groups);
  ToyModel replay(kVocab);
  for (const auto& c : out) {
    auto cache = replay.make_cache(1, 64);
    std::vector<int64_t> ids(groups[c.prompt_index].prompt.begin(), groups[c.prompt_index].prompt.end());
    for (size_t t = 0; t < c.tokens.size(); ++t) {
      at::Tensor in = at::from_blob(ids.data(), {1, static_cast<int64_t>(ids.size())},
                                    at::TensorOptions().dtype(at::kLong)).clone();
      at::Tensor lp = at::log_softmax(replay.decode(*cache, {0}, in) / 0.7, 1);
      EXPECT_NEAR(c.logprobs[t], lp[0][c.tokens[t]].item<float>(), 1e-5);
      ids = {c.tokens[t]};
    }
  }
}

TEST(Engine, CancelledWorkProducesNothing) {
  ToyModel m(kVocab);
  Engine e(m, {.max_batch_seqs = 4});
  auto sp = std::make_shared<SamplingParams>();
  sp->max_new_tokens = 30;
  int got = 0;
  uint64_t t = e.submit(make_groups(3, 2, sp), [&](Completion&&) { ++got; });
  e.step();
  EXPECT_EQ(e.num_running(), 4);
  e.cancel(t);
  e.step();
  EXPECT_EQ(e.num_running(), 0);
  EXPECT_EQ(e.num_waiting(), 0);
  EXPECT_EQ(got, 0);
}

TEST(Engine, RejectsTokensOutsideTheVocabularyAndStopsWithoutDecoder) {
  ToyModel m(kVocab);
  Engine e(m, {.max_batch_seqs = 4});
  auto sp = std::make_shared<SamplingParams>();
  auto g = make_groups(1, 1, sp);
  g[0].prompt.push_back(kVocab);
  try {
    e.submit(g, {});
    FAIL();
  } catch (const grpo::Error& err) {
    EXPECT_NE(std::string(err.what()).find("outside the vocabulary"), std::string::npos);
  }
  sp->stop = {"x"};
  EXPECT_THROW(e.submit(make_groups(1, 1, sp), {}), grpo::Error);
}

}  // namespace
}  // namespace grpo::rollout

namespace grpo::rollout {
namespace {

TEST(Engine, AFailingDecodeCallbackFailsTheRequestNotTheProcess) {
  ToyModel m(kVocab);
  Engine e(m, {.max_batch_seqs = 4, .decode = [](std::span<const int32_t>) -> std::string {
                 throw std::runtime_error("tokenizer exploded");
               }});
  auto sp = std::make_shared<SamplingParams>();
  sp->stop = {"x"};
  try {
    e.generate(make_groups(2, 2, sp));
    FAIL();
  } catch (const grpo::Error& err) {
    EXPECT_NE(std::string(err.what()).find("tokenizer exploded"), std::string::npos) << err.what();
  }
  EXPECT_EQ(e.num_running(), 0);
  // The engine still serves later work.
  sp->stop.clear();
  EXPECT_EQ(e.generate(make_groups(1, 2, sp)).size(), 2u);
}

}  // namespace
}  // namespace grpo::rollout
