// learner/policy_update.h: one GRPO update of the policy from a batch of scored
// completions: learner log-probs (old, and reference when beta > 0), then num_iterations
// passes of minibatch updates with gradient accumulation, DDP gradient averaging, clipping,
// AdamW, and the MoE bias upkeep.
// Design: the learner reads completions where the rollout left them (rollout::Group: the
// prompt once, its answers); a Sample points at one answer and its group's prompt, and
// minibatches are packed right-padded, each row starting at position 0, so no left padding and no
// position ids are needed. Per-token log-probs go through kernels::token_logprobs on the
// gathered hidden states of the completion positions only (chunked over tokens), so the
// [N, T, V] logits never exist.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "learner/loss.h"
#include "rollout/completion.h"

namespace grpo::models {
class CausalLM;
}

namespace grpo::learner {

class Optimizer;
class Distributed;

// One answer to learn from: a view of a rollout completion and its group's prompt (both
// owned by the caller's groups, which must outlive the update), with its advantage. The
// completion's logprobs are the worker's (empty if unknown).
struct Sample {
  const rollout::TokenIds* prompt = nullptr;
  const rollout::Completion* completion = nullptr;
  double advantage = 0.0;
};

// Views of every answer of `groups`, group-major, with advantages[i] for the i-th answer.
// Throws grpo::Error when the counts differ.
std::vector<Sample> samples_of(const std::vector<rollout::Group>& groups,
                               const std::vector<double>& advantages);

// A packed minibatch (right-padded; row i = prompt_i ++ completion_i ++ pad).
struct PackedBatch {
  at::Tensor input_ids;       // [B, T] int64
  at::Tensor attention_mask;  // [B, T] int64
  at::Tensor gather_index;    // [B, C] int64: position whose hidden state predicts token j
  at::Tensor targets;         // [B, C] int64 completion tokens (0 in padding)
  at::Tensor mask;            // [B, C] fp32: 1 for real completion tokens
  at::Tensor rollout_logps;   // [B, C] fp32 or undefined when some completion lacks them
  at::Tensor advantages;      // [B] fp32
};

// Packs completions [begin, end) on `device`. `mask_truncated`: truncated completions get
// an all-zero mask. Throws grpo::Error on an empty prompt or completion.
PackedBatch pack(const std::vector<Sample>& all, size_t begin, size_t end,
                 const std::string& device, bool mask_truncated);

// Per-token log-probs of the completion tokens under `model`, softmax(logits / T).
// Returns (logp [B, C] fp32, entropy [B, C] fp32 or undefined, expert_load [L_moe, E] int64
// or undefined). Differentiable unless grad mode is off. Zero at padding.
struct TokenLogprobs {
  at::Tensor logp, entropy, expert_load;
};
TokenLogprobs completion_logprobs(models::CausalLM& model, const PackedBatch& b,
                                  double temperature, int64_t chunk_tokens, bool with_entropy);

struct UpdateOptions {
  LossOptions loss;             // loss_type, beta, clip range, ... (normalisers set per step)
  double temperature = 1.0;     // sampling temperature (log-probs use logits / T)
  int64_t logprob_chunk = 4096;
  int64_t per_device_train_batch_size = 16;
  int64_t gradient_accumulation_steps = 1;
  int64_t num_iterations = 1;
  bool mask_truncated_completions = false;
  // Within each optimiser step's window, minibatches take completions in order of length,
  // so a minibatch pads to lengths close to its own (the gradient of the window is the same
  // sum). Ignored for `bnpo`, whose per-minibatch token mean depends on the split.
  bool group_by_length = true;
  // Completions with advantage exactly 0 are left out of the minibatches (their gradient is
  // 0; the loss normalisers still count them), when beta == 0, the loss is not bnpo and
  // moe_bias_update_rate == 0. Then entropy, clip ratios and MoE load describe the
  // completions learned on.
  bool skip_zero_advantage = true;
  bool rollout_is_correction = false;
  double rollout_is_cap = 2.0;
  double moe_bias_update_rate = 0.0;
  bool bf16_autocast = false;   // CUDA only
  std::string device = "cpu";
};

// Averages of one update (over microbatches / optimiser steps), TRL-style names.
struct UpdateStats {
  std::map<std::string, double> scalars;  // loss, kl, entropy, clip_ratio/*, grad_norm, lr, ...
  int64_t optimizer_steps = 0;
  double tokens = 0;  // completion tokens learned from (this rank)
};

// Runs the update on this rank's completions. Collective (all ranks call it with the same
// number of completions). `ref` may be null when beta == 0. Throws grpo::Error when the
// completion count does not split into minibatches and accumulation windows (naming the
// numbers). Not thread-safe.
UpdateStats update_policy(models::CausalLM& policy, models::CausalLM* ref, Optimizer& opt,
                          Distributed& dist, const std::vector<Sample>& local,
                          const UpdateOptions& o);

}  // namespace grpo::learner
