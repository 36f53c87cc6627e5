// core/sections/trainer.h: `trainer:` the GRPO objective and optimisation. Names follow
// TRL's GRPOConfig where the meaning is the same.
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct TrainerConfig {
  int64_t max_steps = 100;
  int64_t prompts_per_step = 8;             // B prompts per step, across all ranks
  int64_t per_device_train_batch_size = 16; // completions per minibatch on one rank
  int64_t gradient_accumulation_steps = 1;
  int64_t num_iterations = 1;               // passes over each generated batch (TRL's mu)
  double learning_rate = 1e-6;
  std::string lr_scheduler_type = "constant";
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.99, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  double beta = 0.0;                         // KL coefficient; 0: no reference model
  double epsilon = 0.2;
  double epsilon_high = 0.2;
  double delta = 0.0;                        // dual clip for negative advantages (0: off)
  std::string loss_type = "grpo";
  std::string scale_rewards = "group";
  std::string importance_sampling_level = "token";
  bool mask_truncated_completions = false;
  bool group_by_length = true;               // minibatches of similar lengths (not bnpo)
  bool skip_zero_advantage = true;           // no forward/backward for zero-advantage answers
  bool dynamic_sampling = false;
  int64_t max_resample_rounds = 4;
  bool rollout_is_correction = false;        // TIS on the worker/learner mismatch
  double rollout_is_cap = 2.0;
  double moe_bias_update_rate = 1e-3;        // aux-loss-free gamma; 0: off
  int64_t logging_steps = 1;
  int64_t save_steps = 50;
  int64_t save_total_limit = 3;
  int64_t eval_steps = 0;                    // 0: no periodic evaluation
  int64_t logprob_chunk = 4096;              // vocab chunk for per-token log-probs
  bool bf16 = true;                          // autocast on CUDA
  std::string resume;                        // checkpoint directory to resume from
  std::vector<std::string> freeze;           // ECMAScript regexes of parameter names not trained
  void visit(Visitor& v) {
    v.field("max_steps", max_steps, {.doc = "training steps: one rollout batch each, num_iterations x minibatches/gradient_accumulation_steps optimiser updates", .range = Range{1, 1e12}});
    v.field("prompts_per_step", prompts_per_step, {.doc = "prompts drawn per step across all ranks", .range = Range{1, 1e9}});
    v.field("per_device_train_batch_size", per_device_train_batch_size, {.doc = "completions per minibatch per rank", .range = Range{1, 1e9}});
    v.field("gradient_accumulation_steps", gradient_accumulation_steps, {.doc = "minibatches per optimiser step", .range = Range{1, 1e9}});
    v.field("num_iterations", num_iterations, {.doc = "passes over each generated batch", .range = Range{1, 1e6}});
    v.field("learning_rate", learning_rate, {.doc = "peak learning rate", .range = Range{0, 10}});
    v.field("lr_scheduler_type", lr_scheduler_type, {.doc = "schedule after warm-up", .one_of = {"constant", "cosine", "linear"}});
    v.field("warmup_steps", warmup_steps, {.doc = "linear warm-up steps", .range = Range{0, 1e12}});
    v.field("weight_decay", weight_decay, {.doc = "AdamW weight decay", .range = Range{0, 10}});
    v.field("adam_beta1", adam_beta1, {.doc = "AdamW beta1", .range = Range{0, 1, false, true}});
    v.field("adam_beta2", adam_beta2, {.doc = "AdamW beta2", .range = Range{0, 1, false, true}});
    v.field("adam_epsilon", adam_epsilon, {.doc = "AdamW epsilon", .range = Range{0, 1, true}});
    v.field("max_grad_norm", max_grad_norm, {.doc = "clip gradients to this global norm (0: off)", .range = Range{0, 1e9}});
    v.field("beta", beta, {.doc = "KL coefficient (k3 estimator); 0 loads no reference model", .range = Range{0, 1e6}});
    v.field("epsilon", epsilon, {.doc = "lower clip: ratio >= 1 - epsilon", .range = Range{0, 1}});
    v.field("epsilon_high", epsilon_high, {.doc = "upper clip: ratio <= 1 + epsilon_high", .range = Range{0, 1e3}});
    v.field("delta", delta, {.doc = "dual-clip bound for negative advantages (0: off; must exceed 1 + epsilon_high)", .range = Range{0, 1e6}});
    v.field("loss_type", loss_type, {.doc = "token aggregation", .one_of = {"grpo", "bnpo", "dapo", "dr_grpo"}});
    v.field("scale_rewards", scale_rewards, {.doc = "advantage scaling", .one_of = {"group", "batch", "none"}});
    v.field("importance_sampling_level", importance_sampling_level, {.doc = "token ratios (GRPO) or sequence ratios (GSPO)", .one_of = {"token", "sequence"}});
    v.field("mask_truncated_completions", mask_truncated_completions, {.doc = "no loss on answers cut at max_completion_length"});
    v.field("group_by_length", group_by_length, {.doc = "order each optimiser step's completions by length before splitting them into minibatches, so each pads less (same update up to rounding; ignored for bnpo)"});
    v.field("skip_zero_advantage", skip_zero_advantage, {.doc = "leave answers whose advantage is 0 (groups of equal rewards) out of the learner's minibatches: their gradient is 0 and the loss still averages over them, so the update is the same up to rounding with less work (only when beta is 0, loss_type is not bnpo and moe_bias_update_rate is 0)"});
    v.field("dynamic_sampling", dynamic_sampling, {.doc = "DAPO: drop groups whose rewards are all equal and draw more"});
    v.field("max_resample_rounds", max_resample_rounds, {.doc = "extra rounds of drawing under dynamic sampling", .range = Range{0, 1000}});
    v.field("rollout_is_correction", rollout_is_correction, {.doc = "truncated importance sampling on worker vs learner log-probs"});
    v.field("rollout_is_cap", rollout_is_cap, {.doc = "cap of that importance weight", .range = Range{1, 1e6}});
    v.field("moe_bias_update_rate", moe_bias_update_rate, {.doc = "aux-loss-free balancing gamma (0: off)", .range = Range{0, 1}});
    v.field("logging_steps", logging_steps, {.doc = "log metrics every N steps", .range = Range{1, 1e9}});
    v.field("save_steps", save_steps, {.doc = "checkpoint every N steps (0: only at the end)", .range = Range{0, 1e12}});
    v.field("save_total_limit", save_total_limit, {.doc = "keep the last N checkpoints", .range = Range{1, 1e6}});
    v.field("eval_steps", eval_steps, {.doc = "evaluate every N steps (0: off)", .range = Range{0, 1e12}});
    v.field("logprob_chunk", logprob_chunk, {.doc = "vocabulary chunk for per-token log-probs", .range = Range{1, 1e9}});
    v.field("bf16", bf16, {.doc = "bf16 autocast on CUDA"});
    v.field("resume", resume, {.doc = "checkpoint directory to resume from, or auto (the latest under run.output_dir)"});
    v.field("freeze", freeze, {.doc = "parameters left untrained: regexes searched in the Hugging Face parameter names (e.g. 'mlp\\.gate\\.weight' for the MoE routers, 'embed_tokens')"});
  }
};

struct SftConfig {
  bool enabled = false;
  std::string train_file;
  int64_t num_train_epochs = 1;
  int64_t max_steps = 0;          // 0: run the epochs
  int64_t per_device_train_batch_size = 8;
  int64_t max_seq_length = 512;
  bool packing = true;
  double learning_rate = 1e-4;
  int64_t warmup_steps = 0;
  std::string lr_scheduler_type = "cosine";
  double mtp_loss_weight = 0.3;
  void visit(Visitor& v) {
    v.field("enabled", enabled, {.doc = "run cold-start SFT before RL"});
    v.field("train_file", train_file, {.doc = "JSONL {prompt, completion} or {messages}"});
    v.field("num_train_epochs", num_train_epochs, {.doc = "epochs over the SFT data", .range = Range{1, 1e6}});
    v.field("max_steps", max_steps, {.doc = "stop after N steps (0: run the epochs)", .range = Range{0, 1e12}});
    v.field("per_device_train_batch_size", per_device_train_batch_size, {.doc = "sequences per step per rank", .range = Range{1, 1e9}});
    v.field("max_seq_length", max_seq_length, {.doc = "packed sequence length", .range = Range{8, 1e9}});
    v.field("packing", packing, {.doc = "pack several rows into one sequence"});
    v.field("learning_rate", learning_rate, {.doc = "peak learning rate", .range = Range{0, 10}});
    v.field("warmup_steps", warmup_steps, {.doc = "linear warm-up steps", .range = Range{0, 1e12}});
    v.field("lr_scheduler_type", lr_scheduler_type, {.doc = "schedule after warm-up", .one_of = {"constant", "cosine", "linear"}});
    v.field("mtp_loss_weight", mtp_loss_weight, {.doc = "weight of the multi-token-prediction loss", .range = Range{0, 100}});
  }
};

struct EvalConfig {
  std::string data_file;
  int64_t samples = 1;            // K for pass@K; 1 and temperature 0: greedy pass@1
  double temperature = 0.0;
  int64_t max_new_tokens = 256;
  int64_t limit = 0;              // 0: all rows
  void visit(Visitor& v) {
    v.field("data_file", data_file, {.doc = "JSONL rows to evaluate on"});
    v.field("samples", samples, {.doc = "samples per row (pass@K)", .range = Range{1, 1e6}});
    v.field("temperature", temperature, {.doc = "0: greedy", .range = Range{0, 100}});
    v.field("max_new_tokens", max_new_tokens, {.doc = "answer length limit", .range = Range{1, 1e7}});
    v.field("limit", limit, {.doc = "evaluate only the first N rows (0: all)", .range = Range{0, 1e12}});
  }
};
}  // namespace grpo::cfg
