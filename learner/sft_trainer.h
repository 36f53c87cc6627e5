// learner/sft_trainer.h: cold-start supervised fine-tuning (`grpo sft`, and the first
// stage of an SFT-then-RL pipeline).
// Design: examples come from data/ already tokenised and packed (positions restart per
// example, data::shifted_targets gives -100 on prompt tokens and across example
// boundaries), so the loss here is a plain token-mean cross-entropy over the targets that
// are not -100: prompt tokens carry no loss by construction. When the model has MTP
// modules, module k adds mtp_loss_weight / D times its cross-entropy on the targets
// k + 2 tokens ahead (DeepSeek-V3 eq. 24-25). The optimiser, schedule, gradient
// all-reduce, checkpoints and metrics are the learner's shared machinery (optim.h,
// distributed.h, checkpoint.h, core/metrics.h).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/sft.h"
#include "learner/optim.h"
#include "learner/run_options.h"

namespace grpo {
class Metrics;
}  // namespace grpo
namespace grpo::models {
class CausalLM;
}

namespace grpo::learner {

class Distributed;

struct SftLoss {
  at::Tensor loss;      // scalar to backpropagate: ce + mtp_weight * mtp_ce
  double ce = 0;        // next-token cross-entropy (token mean)
  double mtp_ce = 0;    // mean over MTP modules of their cross-entropy (0 without MTP)
  int64_t tokens = 0;   // tokens that carry loss (next-token targets)
};

// Loss of `batch` (right-padded into one [B, T] tensor on the model's device). Sequences
// may be packed. Throws grpo::Error for an empty batch or one without any loss token.
SftLoss sft_loss(models::CausalLM& model, const std::vector<data::PackedSeq>& batch,
                 double mtp_loss_weight);

// The SFT loop's settings (job/ builds them; names in comments are the config keys).
struct SftOptions {
  std::string train_file;                   // sft.train_file (named in messages)
  int64_t num_train_epochs = 1;             // sft.num_train_epochs
  int64_t max_steps = 0;                    // sft.max_steps (0: run the epochs)
  int64_t per_device_train_batch_size = 8;  // sft.per_device_train_batch_size
  int64_t max_seq_length = 512;             // sft.max_seq_length
  bool packing = true;                      // sft.packing
  double mtp_loss_weight = 0.3;             // sft.mtp_loss_weight
  OptimOptions optim;                       // sft.* schedule, trainer.* AdamW (total_steps: set here)
  RunOptions run;                           // outputs, logging, saving, data order
  // Called on rank 0 with each checkpoint directory and final/ to add the tokenizer,
  // template and generation settings. May be empty.
  std::function<void(const std::string& dir)> checkpoint_files;
};

struct SftResult {
  int64_t steps = 0;
  double last_loss = 0;
  std::string final_dir;  // <run.output_dir>/final (model + what checkpoint_files adds)
};

// Runs SFT on the tokenised `examples` (data::load_sft_examples), logging to `metrics`
// (may be null) on rank 0 and writing <run.output_dir>/final. Collective over `dist`. Throws
// grpo::Error when no example fits max_seq_length.
SftResult train_sft(const SftOptions& o, const std::vector<data::SftExample>& examples,
                    models::CausalLM& model, Distributed& dist, Metrics* metrics);

}  // namespace grpo::learner
