// rollout/sampler.h: next-token sampling (temperature, top-k, top-p) for a batch of rows
// that may each use different settings, with one random stream per sequence.
// Design: every sequence owns a SeqRng seeded from (request seed, prompt index, sample
// index), and the draw is an inverse-CDF lookup of one uniform from that stream, so a
// sequence samples the same tokens whether it is decoded alone or in any batch (given the
// same logits). The reported log-prob is log_softmax(logits / T) at the sampled token,
// before the top-k/top-p truncation: the quantity the learner recomputes. T = 0 is greedy
// and reports the log-prob under T = 1.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace grpo::rollout {

// Settings of one request. Plain value; copy freely.
struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // (0, 1]; 1: off
  int64_t top_k = 0;         // 0: off
  int64_t max_new_tokens = 256;
  std::vector<int64_t> eos_ids;    // any ends a completion (kept in it); reason "eos"
  std::vector<std::string> stop;   // stop strings (kept in the completion); reason "stop"
  uint64_t seed = 0;

  // Throws grpo::Error naming the bad field (negative temperature, top_p outside (0,1], ...).
  void validate() const;
};

// A small counter-based random stream (splitmix64). Cheap to copy; not thread-safe.
class SeqRng {
 public:
  SeqRng() = default;
  // Stream for sample `sample_index` of prompt `prompt_index` under request seed `seed`.
  SeqRng(uint64_t seed, int64_t prompt_index, int64_t sample_index);
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();

 private:
  uint64_t state_ = 0;
};

// Result of one sampling step for B rows.
struct SampleResult {
  std::vector<int64_t> tokens;   // [B]
  std::vector<float> logprobs;   // [B] log_softmax(logits / T)[token] (T = 1 when greedy)
};

// Samples one token per row. logits: [B, V] float32 (any device); params[b] and rngs[b]
// belong to row b (rngs advance by one draw for non-greedy rows). On a CPU (with
// kernels::use_kernels()) the draw runs as one loop per row over the log-probs (a partial
// sort for top-k/top-p); elsewhere as sort/cumsum/searchsorted tensor ops. Both draw from
// the same distribution with the same uniform, so they pick the same token except on
// exact ties of probability. Not thread-safe for the rngs. Throws grpo::Error on shape
// mismatch.
SampleResult sample_tokens(const at::Tensor& logits, const std::vector<const SamplingParams*>& params,
                           const std::vector<SeqRng*>& rngs);

// The distribution rows are drawn from: softmax(logits / T) restricted to the top-k, then
// to the top-p nucleus of that, renormalised. logits: [B, V] float32 -> [B, V] float64 on
// the logits' device (a one-hot argmax row for T = 0). Used by sample_tokens and by tests.
at::Tensor sampling_probs(const at::Tensor& logits, const std::vector<const SamplingParams*>& params);

}  // namespace grpo::rollout
