// learner/loss.h: the GRPO family of policy losses (GRPO, BNPO, DAPO, Dr. GRPO, GSPO
// sequence ratios, dual clip) with the k3 KL penalty, on per-token log-probs.
// Design: one pure function of tensors, mirroring TRL's GRPOTrainer._compute_loss term by
// term so the parity fixtures (tests/learner/fixtures, scripts/make_trl_fixtures.py) hold
// to fp32 rounding. How the batch is split over ranks and accumulation steps enters only
// through LossOptions' normalisers, which the trainer computes.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace grpo::learner {

struct LossOptions {
  std::string loss_type = "grpo";  // grpo | bnpo | dapo | dr_grpo
  std::string importance_sampling_level = "token";  // token | sequence (GSPO)
  double beta = 0.0;          // k3 KL coefficient; 0: logp_ref unused
  double epsilon_low = 0.2;   // ratio >= 1 - epsilon_low
  double epsilon_high = 0.2;  // ratio <= 1 + epsilon_high
  double delta = 0.0;         // dual clip: unclipped ratio capped at delta (0: off)
  int64_t max_completion_length = 256;  // dr_grpo denominator
  // grpo, bnpo, dr_grpo: the loss is divided by this (gradient accumulation steps).
  double accumulation_divisor = 1.0;
  // grpo, dr_grpo: > 0 replaces N * accumulation_divisor as the count of sequences the
  // loss is averaged over, for a minibatch that is part of a larger window (the learner
  // leaves zero-advantage completions out of its minibatches but not out of the average).
  double sequence_divisor = 0.0;
  // dapo: the loss is sum(per-token loss) / dapo_normalizer. For a global-token mean
  // under DDP gradient averaging: global tokens of the optimiser step / world_size.
  // <= 0: this batch's own token count.
  double dapo_normalizer = 0.0;
};

struct LossOutput {
  at::Tensor loss;        // scalar fp32, differentiable w.r.t. logp
  double policy_loss = 0; // loss before the accumulation divisor
  // Means over the masked tokens of this batch (sequence level: over sequences).
  double kl = 0;          // k3 estimate; 0 when beta == 0
  double clip_low = 0;    // ratio < 1 - eps_low with A < 0
  double clip_high = 0;   // ratio > 1 + eps_high with A > 0
  double clip_region = 0; // either
  double tokens = 0;      // masked tokens in this batch
};

// Per-token policy loss and its aggregation.
//  logp:       [N, T] fp32, log pi_theta of the completion tokens (differentiable)
//  logp_old:   [N, T] fp32, log-probs of the policy that produced the batch (no grad)
//  logp_ref:   [N, T] fp32 reference log-probs, or undefined when beta == 0
//  advantages: [N] fp32
//  mask:       [N, T] fp32 or bool, 1 for completion tokens that count
//  is_weight:  [N, T] fp32 truncated importance weight multiplying the policy term
//              (rollout-vs-learner correction), or undefined
// Throws grpo::Error for an unknown loss_type/level, or shapes that disagree (naming them).
LossOutput grpo_loss(const at::Tensor& logp, const at::Tensor& logp_old, const at::Tensor& logp_ref,
                     const at::Tensor& advantages, const at::Tensor& mask,
                     const at::Tensor& is_weight, const LossOptions& opt);

// The truncated importance weight min(exp(logp_learner - logp_rollout), cap), detached.
//  logp_learner, logp_rollout: [N, T] fp32.
at::Tensor truncated_is_weight(const at::Tensor& logp_learner, const at::Tensor& logp_rollout,
                               double cap);

}  // namespace grpo::learner
