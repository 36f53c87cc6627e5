// rollout/sampler.cpp: batched sampling with per-row settings (see sampler.h).
// Masks follow Hugging Face's logits warpers: temperature, then top-k (ties with the k-th
// value kept), then top-p on the renormalised top-k mass (a token is kept while the mass
// strictly above it is below top_p; the most likely token is always kept).
#include "rollout/sampler.h"

#include <ATen/Parallel.h>
#include <ATen/ops/cumsum.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/searchsorted.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"

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

// One row of the CPU sampler. p: [V] probabilities softmax(logits / T) of the row; u: the
// row's uniform. Same semantics as the tensor path: the masks of masked_sorted (top-k with
// ties to the k-th value kept, then top-p on the renormalised top-k mass) and an
// inverse-CDF draw with cumulative sums in double, `right` bisection (the first index
// whose cumulative mass exceeds u * total).
int64_t sample_row(const float* p, int64_t V, const SamplingParams& sp, double u,
                   std::vector<int64_t>& order) {
  const bool top_k = sp.top_k > 0 && sp.top_k < V, top_p = sp.top_p < 1.0;
  if (!top_k && !top_p) {
    double total = 0.0;
#pragma omp simd reduction(+ : total)
    for (int64_t v = 0; v < V; ++v) total += p[v];
    const double target = u * total;
    double c = 0.0;
    for (int64_t v = 0; v < V; ++v) {
      c += p[v];
      if (c > target) return v;
    }
    return V - 1;
  }
  // More probable first; equal ones by index.
  auto desc = [p](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  order.resize(V);
  for (int64_t v = 0; v < V; ++v) order[v] = v;
  int64_t n = V;  // candidates kept by top-k (ties with the k-th value included)
  if (top_k) {
    std::nth_element(order.begin(), order.begin() + (sp.top_k - 1), order.end(), desc);
    const float kth = p[order[sp.top_k - 1]];
    n = static_cast<int64_t>(std::partition(order.begin(), order.end(),
                                            [&](int64_t v) { return p[v] >= kth; }) -
                             order.begin());
  }
  double kept_mass = 0.0;  // the top-k mass that top-p renormalises by
  for (int64_t i = 0; i < n; ++i) kept_mass += p[order[i]];
  int64_t m = n;  // the kept prefix of `order`, most probable first
  if (!top_p) {
    std::sort(order.begin(), order.begin() + n, desc);
  } else {
    // Sort a growing prefix until it holds the whole nucleus (usually a few tokens).
    int64_t sorted = 0, want = std::min<int64_t>(n, 64);
    for (;;) {
      std::partial_sort(order.begin() + sorted, order.begin() + want, order.begin() + n, desc);
      sorted = want;
      double before = 0.0;
      m = -1;
      for (int64_t i = 0; i < sorted; ++i) {
        if (!(before / kept_mass < sp.top_p)) {
          m = i;
          break;
        }
        before += p[order[i]];
      }
      if (m >= 0) break;
      if (sorted == n) {
        m = n;
        break;
      }
      want = std::min<int64_t>(n, want * 4);
    }
    m = std::max<int64_t>(m, 1);  // the most likely token always stays
  }
  double total = 0.0;
  for (int64_t i = 0; i < m; ++i) total += p[order[i]];
  const double target = u * total;
  double c = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    c += p[order[i]];
    if (c > target) return order[i];
  }
  return order[m - 1];
}

// The CPU path of sample_tokens: one vectorised ATen softmax over [B, V], then one loop per
// row (parallel over rows) instead of sorting and cumulating [B, V] double tensors. The
// reported log-prob is log(p[token]), within float rounding of log_softmax (a drawn token
// has p > 0; the greedy one has p >= 1/V).
SampleResult sample_cpu(const at::Tensor& logits, const std::vector<const SamplingParams*>& params,
                        const std::vector<SeqRng*>& rngs) {
  const int64_t B = logits.size(0), V = logits.size(1);
  std::vector<float> temps(B);
  bool all_one = true;
  for (int64_t b = 0; b < B; ++b) {
    temps[b] = params[b]->temperature > 0 ? static_cast<float>(params[b]->temperature) : 1.0f;
    all_one = all_one && temps[b] == 1.0f;
  }
  at::Tensor x = logits.to(at::kFloat);
  if (!all_one) x = x / column(temps, at::kFloat, logits.device());
  at::Tensor p = at::softmax(x, 1).contiguous();  // [B, V] float
  std::vector<double> u(B, 0.0);
  for (int64_t b = 0; b < B; ++b)
    if (params[b]->temperature > 0) u[b] = rngs[b]->uniform();
  SampleResult r;
  r.tokens.resize(B);
  r.logprobs.resize(B);
  const float* pp = p.const_data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> order;
    for (int64_t b = b0; b < b1; ++b) {
      const float* row = pp + b * V;
      const int64_t tok = params[b]->temperature > 0
                              ? sample_row(row, V, *params[b], u[b], order)
                              : std::max_element(row, row + V) - row;  // first maximum
      r.tokens[b] = tok;
      r.logprobs[b] = std::log(row[tok]);
    }
  });
  return r;
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
  if (logits.device().is_cpu() && kernels::use_kernels()) return sample_cpu(logits, params, rngs);
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
    // A row without top-k/top-p draws over the vocabulary in id order, a masked row over
    // its kept tokens in descending order; so a row's draw never depends on the settings
    // of the other rows in the batch (and equals the CPU loop's).
    auto draw = [&](const at::Tensor& cdf) {
      at::Tensor target = column(u, at::kDouble, dev) * cdf.narrow(1, V - 1, 1);
      return at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true)
          .clamp_max(V - 1);
    };
    std::vector<uint8_t> greedy(B), masked(B);
    bool any_plain = false;
    for (int64_t b = 0; b < B; ++b) {
      greedy[b] = params[b]->temperature > 0 ? 0 : 1;
      masked[b] = any_mask({params[b]}, V) ? 1 : 0;
      any_plain = any_plain || (!greedy[b] && !masked[b]);
    }
    at::Tensor drawn;
    if (any_plain) drawn = draw(at::cumsum(lp.to(at::kDouble).exp(), 1));
    if (any_mask(params, V)) {
      auto [pm, sidx] = masked_sorted(lp, params);
      at::Tensor from_sorted = sidx.gather(1, draw(at::cumsum(pm, 1)));
      at::Tensor m = column(masked, at::kByte, dev).to(at::kBool);
      drawn = drawn.defined() ? from_sorted.where(m, drawn) : from_sorted;
    }
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
