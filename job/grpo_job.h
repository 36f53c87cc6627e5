// job/grpo_job.h: `grpo train` as a library call: the GRPO loop (learner/grpo_trainer.h)
// wired to the real pieces of a job config: JSONL task rows rendered by the data template
// and tokenised; completions from rollout workers (remote ones listed in rollout.workers,
// else local workers started here); the configured RewardSet; metrics to JSONL and
// TensorBoard; periodic evaluation on data.eval_file; the SFT stage first when
// sft.enabled. Multi-process with torchrun-style RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT.
#pragma once
#include <cstdint>
#include <string>

#include "core/job_config.h"
#include "learner/sft_trainer.h"

namespace grpo::job {

struct GrpoJobResult {
  int64_t start_step = 0, steps_done = 0;
  std::string last_checkpoint;
  std::string final_dir;  // rank 0: <output_dir>/final; other ranks: empty
};

// Runs the job `cfg` (trainer.resume as given). Collective over the ranks of the
// environment. Throws grpo::Error / ConfigError with a clear message.
GrpoJobResult run_grpo_job(JobConfig cfg);

// `grpo sft`: SFT of the job's policy on sft.train_file into run.output_dir (metrics,
// config.yaml, checkpoints, final/ with the tokenizer and run settings). Collective;
// final_dir is empty on ranks other than 0.
learner::SftResult run_sft_job(JobConfig cfg);

}  // namespace grpo::job
