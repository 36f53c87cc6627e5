// rollout/sampler.cpp: batched sampling with per-row settings (see sampler.h).
// Masks follow Hugging Face's logits warpers: temperature, then top-k (ties with the k-th
// value kept), then top-p on the renormalised top-k mass (a token is kept while the mass
// strictly above it is below top_p; the most likely token is always kept).
#include "rollout/sampler.h"

#include <ATen/ops/cumsum.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/searchsorted.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace grpo::rollout {

void SamplingParams::validate() const {
  GRPO_ENSURE(std::isfinite(temperature) && temperature >= 0,
              "sampling.temperature must be >= 0, got ", temperature);
  GRPO_ENSURE(top_p > 0 && top_p <= 1, "sampling.top_p must be in (0, 1], got ", top_p);
  GRPO_ENSURE(top_k >= 0, "sampling.top_k must be >= 0 (0: off), got ", top_k);
  GRPO_ENSURE(max_new_tokens >= 1, "sampling.max_new_tokens must be >= 1, got ", max_new_tokens);
  for (const auto& s : stop) GRPO_ENSURE(!s.empty(), "sampling.stop has an empty stop string");
}

namespace {
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Row tensors [B, 1] built from host values on `device`.
template <class T>
at::Tensor column(const std::vector<T>& v, at::ScalarType st, const at::Device& device) {
  auto host = at::from_blob(const_cast<T*>(v.data()), {static_cast<int64_t>(v.size()), 1},
                            at::TensorOptions().dtype(st))
                  .clone();
  return host.to(device);
}

void check_rows(const at::Tensor& logits, size_t n_params) {
  GRPO_ENSURE(logits.defined() && logits.dim() == 2, "sampler: logits must be [B, V], got ",
              logits.defined() ? logits.sizes() : at::IntArrayRef{});
  GRPO_ENSURE(static_cast<size_t>(logits.size(0)) == n_params, "sampler: ", logits.size(0),
              " logit rows but ", n_params, " parameter rows");
}

// Masked (top-k, top-p) probabilities in sorted order for the non-greedy rows.
// lp: [B, V] log_softmax(logits / T). Returns {probs sorted desc (unnormalised), sort index}.
std::pair<at::Tensor, at::Tensor> masked_sorted(const at::Tensor& lp,
                                                const std::vector<const SamplingParams*>& params) {
  const int64_t B = lp.size(0), V = lp.size(1);
  auto [vals, idx] = lp.to(at::kDouble).sort(/*dim=*/1, /*descending=*/true);
  at::Tensor p = vals.exp();
  std::vector<int64_t> kth(B);
  std::vector<double> top_p(B);
  for (int64_t b = 0; b < B; ++b) {
    int64_t k = params[b]->top_k;
    kth[b] = (k <= 0 || k >= V) ? V - 1 : k - 1;
    top_p[b] = params[b]->top_p >= 1.0 ? 2.0 : params[b]->top_p;  // 2: keeps everything
  }
  at::Tensor kth_val = vals.gather(1, column(kth, at::kLong, lp.device()));
  at::Tensor keep = vals.ge(kth_val);
  at::Tensor pk = p * keep;
  pk = pk / pk.sum(1, /*keepdim=*/true);
  at::Tensor before = at::cumsum(pk, 1) - pk;
  keep = keep.logical_and(before.lt(column(top_p, at::kDouble, lp.device())));
  return {p * keep, idx};
}

bool any_mask(const std::vector<const SamplingParams*>& params, int64_t V) {
  for (auto* p : params)
    if ((p->top_k > 0 && p->top_k < V) || p->top_p < 1.0) return true;
  return false;
}

at::Tensor scaled_log_softmax(const at::Tensor& logits,
                              const std::vector<const SamplingParams*>& params) {
  std::vector<float> temps(params.size());
  bool all_one = true;
  for (size_t b = 0; b < params.size(); ++b) {
    temps[b] = params[b]->temperature > 0 ? static_cast<float>(params[b]->temperature) : 1.0f;
    all_one = all_one && temps[b] == 1.0f;
  }
  at::Tensor x = logits.to(at::kFloat);
  if (!all_one) x = x / column(temps, at::kFloat, logits.device());
  return at::log_softmax(x, 1);
}
}  // namespace

SeqRng::SeqRng(uint64_t seed, int64_t prompt_index, int64_t sample_index) {
  uint64_t x = seed;
  state_ = splitmix(x);
  state_ ^= static_cast<uint64_t>(prompt_index) * 0xD1B54A32D192ED03ULL;
  uint64_t y = state_;
  state_ = splitmix(y) ^ (static_cast<uint64_t>(sample_index) * 0x8CB92BA72F3D8DD7ULL);
}

uint64_t SeqRng::next_u64() { return splitmix(state_); }

double SeqRng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

at::Tensor sampling_probs(const at::Tensor& logits,
                          const std::vector<const SamplingParams*>& params) {
  check_rows(logits, params.size());
  const int64_t B = logits.size(0), V = logits.size(1);
  at::Tensor lp = scaled_log_softmax(logits, params);
  auto [pm, idx] = masked_sorted(lp, params);
  pm = pm / pm.sum(1, true);
  at::Tensor out = at::zeros_like(pm).scatter(1, idx, pm);
  at::Tensor am = logits.argmax(1).cpu();
  for (int64_t b = 0; b < B; ++b) {
    if (params[b]->temperature > 0) continue;
    at::Tensor row = out[b];
    row.zero_();
    row[am[b].item<int64_t>()] = 1.0;
  }
  (void)V;
  return out;
}

SampleResult sample_tokens(const at::Tensor& logits,
                           const std::vector<const SamplingParams*>& params,
                           const std::vector<SeqRng*>& rngs) {
  check_rows(logits, params.size());
  GRPO_ENSURE(rngs.size() == params.size(), "sampler: ", rngs.size(), " rngs for ",
              params.size(), " rows");
  const int64_t B = logits.size(0), V = logits.size(1);
  const at::Device dev = logits.device();
  at::Tensor lp = scaled_log_softmax(logits, params);  // [B, V] float

  bool any_sampled = false;
  std::vector<double> u(B, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    if (params[b]->temperature > 0) {
      any_sampled = true;
      u[b] = rngs[b]->uniform();
    }
  }
  at::Tensor tokens = lp.argmax(1, /*keepdim=*/true);  // greedy rows (and a default)
  if (any_sampled) {
    at::Tensor cdf, idx;
    if (any_mask(params, V)) {
      auto [pm, sidx] = masked_sorted(lp, params);
      cdf = at::cumsum(pm, 1);
      idx = sidx;
    } else {
      cdf = at::cumsum(lp.to(at::kDouble).exp(), 1);
    }
    at::Tensor target = column(u, at::kDouble, dev) * cdf.narrow(1, V - 1, 1);
    at::Tensor pos = at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true)
                         .clamp_max(V - 1);
    at::Tensor drawn = idx.defined() ? idx.gather(1, pos) : pos;
    std::vector<uint8_t> greedy(B);
    for (int64_t b = 0; b < B; ++b) greedy[b] = params[b]->temperature > 0 ? 0 : 1;
    at::Tensor g = column(greedy, at::kByte, dev).to(at::kBool);
    tokens = tokens.where(g, drawn);
  }
  at::Tensor tok_lp = lp.gather(1, tokens);
  at::Tensor tok_cpu = tokens.reshape({B}).to(at::kCPU, at::kLong).contiguous();
  at::Tensor lp_cpu = tok_lp.reshape({B}).to(at::kCPU, at::kFloat).contiguous();
  SampleResult r;
  r.tokens.assign(tok_cpu.data_ptr<int64_t>(), tok_cpu.data_ptr<int64_t>() + B);
  r.logprobs.assign(lp_cpu.data_ptr<float>(), lp_cpu.data_ptr<float>() + B);
  return r;
}

}  // namespace grpo::rollout
