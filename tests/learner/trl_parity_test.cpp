// tests/learner/trl_parity_test.cpp: the C++ GRPO loss and its gradients against TRL's own
// GRPOTrainer._compute_loss on a tiny Qwen3 (fixtures from scripts/make_trl_fixtures.py):
// per-token log-probs, loss (rel err <= 1e-5) and every parameter's gradient (relative
// norm of the difference <= 1e-4) for each loss_type, with/without KL and clipping, GSPO
// sequence ratios and the dual clip.
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>

#include <cmath>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "learner/loss.h"
#include "learner/policy_update.h"
#include "test_batch.h"
#include "models/causal_lm.h"
#include "models/safetensors.h"

namespace {
const std::string kDir = std::string(GRPO_SOURCE_DIR) + "/tests/learner/fixtures/trl";

struct Fixture {
  std::unique_ptr<grpo::models::CausalLM> model;
  grpo::learner::PackedBatch batch;
  at::Tensor old_lp, ref_lp, trl_cur;
  nlohmann::json meta;
};

Fixture load() {
  Fixture f;
  f.model = grpo::models::load_model(kDir + "/model", "float32", "cpu");
  grpo::models::SafetensorsFile in(kDir + "/inputs.safetensors");
  at::Tensor prompt = in.get("prompt_ids"), comp = in.get("completion_ids"),
             mask = in.get("completion_mask"), adv = in.get("advantages");
  grpo::test::TestBatch cs;
  for (int64_t i = 0; i < prompt.size(0); ++i) {
    std::vector<int32_t> p, c;
    for (int64_t j = 0; j < prompt.size(1); ++j) p.push_back(prompt[i][j].item<int32_t>());
    for (int64_t j = 0; j < comp.size(1); ++j) {
      if (mask[i][j].item<int64_t>()) c.push_back(comp[i][j].item<int32_t>());
    }
    cs.add(p, c, adv[i].item<double>());
  }
  f.batch = grpo::learner::pack(cs.view(), 0, cs.size(), "cpu", false);
  f.old_lp = in.get("old_logps").clone();
  f.ref_lp = in.get("ref_logps").clone();
  f.trl_cur = in.get("current_logps").clone();
  f.meta = nlohmann::json::parse(grpo::fs::read_file(kDir + "/cases.json"));
  return f;
}
}  // namespace

TEST(TrlParity, PerTokenLogprobsMatchTrlFusedHead) {
  Fixture f = load();
  double temp = f.meta["temperature"].get<double>();
  auto lp = grpo::learner::completion_logprobs(*f.model, f.batch, temp, /*chunk_tokens=*/5, false).logp;
  ASSERT_EQ(lp.sizes(), f.trl_cur.sizes());
  double err = at::abs(lp.detach() - f.trl_cur * f.batch.mask).max().item<double>();
  EXPECT_LT(err, 1e-5);
}

TEST(TrlParity, LossAndEveryGradientMatchTrlForEachCase) {
  Fixture f = load();
  double temp = f.meta["temperature"].get<double>();
  auto params = f.model->state();
  ASSERT_GT(f.meta["cases"].size(), 10u);
  for (const auto& c : f.meta["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    for (auto& [n, p] : params) {
      if (p.requires_grad()) p.mutable_grad() = at::Tensor();
    }
    grpo::learner::LossOptions o;
    o.loss_type = c["loss_type"];
    o.beta = c["beta"];
    o.epsilon_low = c["epsilon"];
    o.epsilon_high = c["epsilon_high"];
    o.delta = c["delta"].is_null() ? 0.0 : c["delta"].get<double>();
    o.importance_sampling_level = c["importance_sampling_level"];
    o.max_completion_length = f.meta["max_completion_length"];
    auto cur = grpo::learner::completion_logprobs(*f.model, f.batch, temp, 5, false);
    auto out = grpo::learner::grpo_loss(cur.logp, f.old_lp, f.ref_lp, f.batch.advantages,
                                        f.batch.mask, {}, o);
    double want = c["loss"];
    EXPECT_LE(std::abs(out.loss.item<double>() - want), 1e-5 * std::abs(want)) << out.loss.item<double>() << " vs " << want;
    EXPECT_NEAR(out.clip_region, c["clip_region"].get<double>(), 1e-6);
    if (o.beta != 0) {
      EXPECT_NEAR(out.kl, c["kl"].get<double>(), 1e-6 * std::max(1.0, std::abs(c["kl"].get<double>())));
    }
    out.loss.backward();
    grpo::models::SafetensorsFile g(kDir + "/grads_" + c["name"].get<std::string>() + ".safetensors");
    int checked = 0;
    for (auto& [name, p] : params) {
      if (!g.contains(name)) continue;
      ASSERT_TRUE(p.grad().defined()) << name;
      at::Tensor ref = g.get(name);
      double rel = (p.grad() - ref).norm().item<double>() / std::max(1e-30, ref.norm().item<double>());
      EXPECT_LE(rel, 1e-4) << name;
      ++checked;
    }
    EXPECT_EQ(checked, static_cast<int>(g.names().size()));
  }
}
