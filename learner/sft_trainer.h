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
#include <memory>
#include <string>
#include <vector>

#include "core/job_config.h"
#include "data/sft.h"

namespace grpo {
class Metrics;
}  // namespace grpo
namespace grpo::tok {
class Tokenizer;
}
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

// "auto" -> "cuda" when LibTorch sees a GPU, else "cpu"; other values pass through.
std::string resolve_device(const std::string& device);
// With several ranks, "cuda" becomes "cuda:LOCAL_RANK" (one GPU per rank, as torchrun
// lays them out); any other device (or an explicit index) is returned unchanged.
std::string rank_device(const std::string& device, int local_rank, int world_size);

// The policy of a job: model.path loaded (dtype/device from the config) or model.arch
// built with run.seed; an arch without vocab_size takes `vocab_size` (the tokenizer's).
std::unique_ptr<models::CausalLM> make_policy(const JobConfig& cfg, int64_t vocab_size);

// Tokenizer location of a job: tokenizer.path, else model.path. Throws grpo::Error when
// both are empty.
std::string tokenizer_path_of(const JobConfig& cfg);

struct SftResult {
  int64_t steps = 0;
  double last_loss = 0;
  std::string final_dir;  // <run.output_dir>/final (model + tokenizer + grpo.json)
};

// Runs SFT on sft.train_file with the sft.* settings (AdamW betas, weight decay and
// gradient clipping from trainer.*), logging to `metrics` (may be null) on rank 0 and
// writing <run.output_dir>/final. Collective over `dist`. Throws grpo::Error on bad data
// or settings.
SftResult train_sft(JobConfig& cfg, models::CausalLM& model, const tok::Tokenizer& tok,
                    Distributed& dist, Metrics* metrics);

// Writes grpo.json (task, prompt template, generation settings from cfg) and copies the
// tokenizer files into checkpoint directory `dir`, so `grpo eval`/`generate` need only
// that directory. Call it on rank 0 for every final checkpoint (SFT and RL).
void write_run_meta(const JobConfig& cfg, const std::string& dir);

// The pipeline's first stage for `grpo train`: when sft.enabled, runs SFT with this config
// into <run.output_dir>/sft (metrics there too), then points cfg.model.path at
// <run.output_dir>/sft/final and cfg.run.output_dir at <run.output_dir>/rl, so the RL stage
// starts from the SFT checkpoint and loads its reference model from there. Returns the SFT
// final directory, or "" when sft.enabled is false (cfg untouched). Collective.
std::string run_sft_stage(JobConfig& cfg, Distributed& dist);

}  // namespace grpo::learner
