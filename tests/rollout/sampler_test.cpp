// tests/rollout/sampler_test.cpp: the sampler against hand-computed distributions: exact
// top-k / top-p masks, frequencies within a binomial tolerance, the reported log-prob,
// greedy decoding and per-sequence seeding.
#include "rollout/sampler.h"

#include <ATen/ops/from_blob.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>

#include "core/error.h"
#include "kernels/ops.h"

namespace grpo::rollout {
namespace {

const std::vector<float> kLogits = {2.0f, 1.0f, 0.5f, 0.25f, -1.0f, 3.0f, -0.5f, 1.5f};

at::Tensor rows(int64_t B) {
  at::Tensor one = at::from_blob(const_cast<float*>(kLogits.data()),
                                 {1, static_cast<int64_t>(kLogits.size())})
                       .clone();
  return one.expand({B, one.size(1)}).contiguous();
}

// Independent reference: softmax(l / T), top-k, then top-p on the renormalised rest.
std::vector<double> expected_probs(double T, int64_t k, double p) {
  const size_t V = kLogits.size();
  std::vector<double> pr(V);
  double mx = *std::max_element(kLogits.begin(), kLogits.end()) / T, z = 0;
  for (size_t i = 0; i < V; ++i) z += pr[i] = std::exp(kLogits[i] / T - mx);
  for (auto& x : pr) x /= z;
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pr[a] > pr[b]; });
  std::vector<bool> keep(V, false);
  size_t kk = (k <= 0 || k >= static_cast<int64_t>(V)) ? V : static_cast<size_t>(k);
  double kept = 0;
  for (size_t r = 0; r < kk; ++r) keep[order[r]] = true, kept += pr[order[r]];
  double before = 0;
  for (size_t r = 0; r < kk; ++r) {
    if (p < 1 && before >= p) keep[order[r]] = false;
    before += pr[order[r]] / kept;
  }
  double s = 0;
  for (size_t i = 0; i < V; ++i) s += keep[i] ? pr[i] : 0;
  std::vector<double> out(V);
  for (size_t i = 0; i < V; ++i) out[i] = keep[i] ? pr[i] / s : 0;
  return out;
}

struct Case {
  double T;
  int64_t k;
  double p;
};

class SamplerMasks : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerMasks, ProbabilitiesMatchHandComputedDistribution) {
  auto c = GetParam();
  SamplingParams sp;
  sp.temperature = c.T, sp.top_k = c.k, sp.top_p = c.p;
  at::Tensor probs = sampling_probs(rows(1), {&sp});
  auto want = expected_probs(c.T, c.k, c.p);
  for (size_t i = 0; i < want.size(); ++i) {
    double got = probs[0][i].item<double>();
    if (want[i] == 0) {
      EXPECT_EQ(got, 0.0) << "token " << i << " must be masked";
    }
    EXPECT_NEAR(got, want[i], 1e-6) << "token " << i;
  }
}

TEST_P(SamplerMasks, FrequenciesMatchDistributionAndMaskedTokensNeverDrawn) {
  auto c = GetParam();
  SamplingParams sp;
  sp.temperature = c.T, sp.top_k = c.k, sp.top_p = c.p;
  const int64_t N = 40000;
  std::vector<SeqRng> rng;
  for (int64_t i = 0; i < N; ++i) rng.emplace_back(7, 0, i);
  std::vector<const SamplingParams*> ps(N, &sp);
  std::vector<SeqRng*> rp;
  for (auto& r : rng) rp.push_back(&r);
  SampleResult r = sample_tokens(rows(N), ps, rp);
  auto want = expected_probs(c.T, c.k, c.p);
  std::vector<int64_t> count(want.size(), 0);
  for (auto t : r.tokens) ++count.at(t);
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0) {
      EXPECT_EQ(count[i], 0) << "masked token " << i << " was drawn";
      continue;
    }
    double sd = std::sqrt(N * want[i] * (1 - want[i]));
    EXPECT_NEAR(static_cast<double>(count[i]), N * want[i], 5 * sd + 1) << "token " << i;
  }
  // The log-prob is log_softmax(logits / T) at the token, before any truncation.
  auto full = expected_probs(c.T, 0, 1.0);
  for (int64_t i = 0; i < 50; ++i)
    EXPECT_NEAR(r.logprobs[i], std::log(full[r.tokens[i]]), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Settings, SamplerMasks,
                         ::testing::Values(Case{1.0, 0, 1.0}, Case{0.7, 3, 1.0},
                                           Case{1.0, 0, 0.8}, Case{1.3, 5, 0.6},
                                           Case{1.0, 1, 1.0}, Case{2.0, 0, 0.05}));

TEST(Sampler, TopKKeepsTiesWithTheKthValue) {
  std::vector<float> l = {1.0f, 2.0f, 2.0f, 0.0f};
  at::Tensor t = at::from_blob(l.data(), {1, 4}).clone();
  SamplingParams sp;
  sp.top_k = 2;
  at::Tensor probs = sampling_probs(t, {&sp});
  EXPECT_EQ(probs[0][0].item<double>(), 0.0);
  EXPECT_NEAR(probs[0][1].item<double>(), 0.5, 1e-7);
  sp.top_k = 3;  // the third value (1.0) is unique: tokens 1, 2, 0 kept
  probs = sampling_probs(t, {&sp});
  EXPECT_GT(probs[0][0].item<double>(), 0.0);
  EXPECT_EQ(probs[0][3].item<double>(), 0.0);
}

TEST(Sampler, GreedyTakesArgmaxAndReportsLogprobAtTemperatureOne) {
  SamplingParams sp;
  sp.temperature = 0;
  SeqRng rng(1, 0, 0);
  SampleResult r = sample_tokens(rows(1), {&sp}, {&rng});
  EXPECT_EQ(r.tokens[0], 5);
  EXPECT_NEAR(r.logprobs[0], std::log(expected_probs(1.0, 0, 1.0)[5]), 1e-6);
}

TEST(Sampler, RowsWithDifferentSettingsInOneBatch) {
  SamplingParams greedy, topk1, hot;
  greedy.temperature = 0;
  topk1.top_k = 1;
  hot.temperature = 5.0;
  SeqRng a(1, 0, 0), b(1, 0, 1), c(1, 0, 2);
  SampleResult r = sample_tokens(rows(3), {&greedy, &topk1, &hot}, {&a, &b, &c});
  EXPECT_EQ(r.tokens[0], 5);
  EXPECT_EQ(r.tokens[1], 5);
  EXPECT_NEAR(r.logprobs[2], std::log(expected_probs(5.0, 0, 1.0)[r.tokens[2]]), 1e-5);
}

TEST(Sampler, SameSeedSameDrawsAndStreamsDifferPerSample) {
  SamplingParams sp;
  auto draw = [&](uint64_t seed, int64_t sample) {
    SeqRng rng(seed, 3, sample);
    std::vector<int64_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(sample_tokens(rows(1), {&sp}, {&rng}).tokens[0]);
    return out;
  };
  EXPECT_EQ(draw(11, 0), draw(11, 0));
  EXPECT_NE(draw(11, 0), draw(11, 1));
  EXPECT_NE(draw(11, 0), draw(12, 0));
}

TEST(Sampler, CpuLoopAndTensorPathDrawTheSameTokens) {
  // The fused CPU loop (kernels on) and the sort/cumsum tensor path (the GPU path, taken
  // on a CPU with kernels off) draw from the same distribution with the same uniforms.
  at::Generator gen = at::detail::createCPUGenerator(5);
  const int64_t B = 48, V = 1000;
  at::Tensor logits = at::randn({B, V}, gen).mul(3.0);
  std::vector<SamplingParams> settings(B);
  for (int64_t b = 0; b < B; ++b) {
    SamplingParams& sp = settings[b];
    sp.temperature = b % 6 == 0 ? 0.0 : 0.5 + 0.1 * (b % 7);
    sp.top_k = b % 3 == 1 ? 1 + b % 40 : 0;
    sp.top_p = b % 4 == 2 ? 0.3 + 0.1 * (b % 6) : 1.0;
  }
  std::vector<const SamplingParams*> params;
  for (auto& sp : settings) params.push_back(&sp);
  auto run = [&](bool kernels) {
    kernels::set_use_kernels(kernels);
    std::vector<SeqRng> rngs;
    for (int64_t b = 0; b < B; ++b) rngs.emplace_back(9, b, 0);
    std::vector<SeqRng*> ptrs;
    for (auto& r : rngs) ptrs.push_back(&r);
    std::vector<SampleResult> out;
    for (int step = 0; step < 5; ++step) out.push_back(sample_tokens(logits, params, ptrs));
    kernels::set_use_kernels(true);
    return out;
  };
  auto fused = run(true), tensor = run(false);
  for (size_t step = 0; step < fused.size(); ++step) {
    EXPECT_EQ(fused[step].tokens, tensor[step].tokens) << "step " << step;
    for (int64_t b = 0; b < B; ++b)
      EXPECT_NEAR(fused[step].logprobs[b], tensor[step].logprobs[b], 1e-5) << "row " << b;
  }
}

TEST(Sampler, BadSettingsAreRejectedByName) {
  SamplingParams sp;
  sp.top_p = 0;
  EXPECT_THROW(sp.validate(), grpo::Error);
  sp.top_p = 1, sp.temperature = -1;
  try {
    sp.validate();
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  }
}

}  // namespace
}  // namespace grpo::rollout
