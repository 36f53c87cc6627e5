// tests/rollout/toy_model.h: a deterministic, table-free test CausalLM for the engine's
// scheduler tests. Its "KV cache" is the list of tokens in each slot; the logits of a
// slot are a fixed function of that whole history, so prefix sharing, slot copies and
// batching mistakes change the output, while the numbers themselves never depend on
// which rows share a batch (exactly batch-invariant, unlike a real model's matmuls).
#pragma once
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>

#include <cmath>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "models/causal_lm.h"

namespace grpo::rollout::testing {

class ToyCache : public models::KVCache {
 public:
  ToyCache(int64_t slots, int64_t max_len) : seqs_(slots), max_len_(max_len) {}
  int64_t num_slots() const override { return static_cast<int64_t>(seqs_.size()); }
  int64_t max_len() const override { return max_len_; }
  int64_t length(int64_t slot) const override { return static_cast<int64_t>(seqs_.at(slot).size()); }
  void copy_slot(int64_t src, int64_t dst) override { seqs_.at(dst) = seqs_.at(src); }
  void reset(int64_t slot) override { seqs_.at(slot).clear(); }
  int64_t bytes() const override { return 0; }
  std::vector<std::vector<int64_t>> seqs_;
  int64_t max_len_;
};

class ToyModel : public models::CausalLM {
 public:
  // vocab V; `eos` gets a logit boost once a sequence has `eos_after` tokens (-1: never).
  explicit ToyModel(int64_t vocab, int64_t eos = -1, int64_t eos_after = -1, double scale = 3.0)
      : vocab_(vocab), eos_(eos), eos_after_(eos_after), scale_(scale) {
    head_ = at::zeros({vocab, 4});
  }
  models::ForwardOutput forward(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                bool) override {
    throw std::logic_error("ToyModel::forward is not used by the engine");
  }
  at::Tensor logits(const at::Tensor&) override { throw std::logic_error("unused"); }
  at::Tensor lm_head_weight() override { return head_; }
  std::unique_ptr<models::KVCache> make_cache(int64_t n, int64_t max_len) override {
    return std::make_unique<ToyCache>(n, max_len);
  }
  at::Tensor decode(models::KVCache& cache, const std::vector<int64_t>& slots,
                    const at::Tensor& ids) override {
    auto& c = static_cast<ToyCache&>(cache);
    const int64_t B = ids.size(0), T = ids.size(1);
    GRPO_CHECK(static_cast<int64_t>(slots.size()) == B);
    at::Tensor out = at::empty({B, vocab_});
    auto acc = ids.accessor<int64_t, 2>();
    if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    ++calls_;
    if (T > 1) ++prefills_;
    rows_ += B;
    for (int64_t b = 0; b < B; ++b) {
      auto& seq = c.seqs_.at(slots[b]);
      for (int64_t t = 0; t < T; ++t) seq.push_back(acc[b][t]);
      GRPO_CHECK(static_cast<int64_t>(seq.size()) <= c.max_len_, "toy cache overflow");
      uint64_t h = 1469598103934665603ULL;
      for (int64_t x : seq) h = (h ^ static_cast<uint64_t>(x + 1)) * 1099511628211ULL;
      float* row = out[b].data_ptr<float>();
      for (int64_t v = 0; v < vocab_; ++v)
        row[v] = static_cast<float>(scale_ * std::sin(0.001 * static_cast<double>(h % 100003) +
                                                      1.7 * static_cast<double>(v)));
      if (eos_ >= 0 && eos_after_ >= 0 && static_cast<int64_t>(seq.size()) >= eos_after_)
        row[eos_] += 100.0f;
    }
    return out;
  }
  torch::nn::Module& module() override { return module_; }
  const models::ModelArgs& args() const override { throw std::logic_error("unused"); }
  std::vector<std::pair<std::string, at::Tensor>> state() override { return {{"lm_head.weight", head_}}; }

  int64_t delay_us_ = 0;  // sleep per decode call (simulates a slow model)
  int64_t calls_ = 0;     // decode calls
  int64_t prefills_ = 0;  // calls with T > 1 (prompt prefills)
  int64_t rows_ = 0;   // rows decoded (prefill counts 1 per prompt)

 private:
  int64_t vocab_, eos_, eos_after_;
  double scale_;
  at::Tensor head_;
  torch::nn::Module module_;
};

}  // namespace grpo::rollout::testing
