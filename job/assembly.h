// job/assembly.h: the pieces a job is assembled from, built from its config: the device,
// the policy, the tokenizer, a rollout worker, local workers, the SFT stage of a pipeline,
// and the files every checkpoint carries. `grpo train|sft|rollout-worker` and the tests
// call these, so the learner and the workers build the same model from the same keys.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/job_config.h"
#include "data/sft.h"

namespace grpo::tok {
class Tokenizer;
}
namespace grpo::models {
class CausalLM;
}
namespace grpo::rollout {
class WorkerServer;
class LocalWorkers;
}  // namespace grpo::rollout
namespace grpo::learner {
class Distributed;
}

namespace grpo::job {

// "auto" -> "cuda" when LibTorch sees a GPU, else "cpu"; other values pass through.
std::string resolve_device(const std::string& device);
// With several ranks, "cuda" becomes "cuda:LOCAL_RANK" (one GPU per rank, as torchrun
// lays them out); any other device (or an explicit index) is returned unchanged.
std::string rank_device(const std::string& device, int local_rank, int world_size);

// The policy of a job on run.device: model.path loaded (model.dtype) or model.arch built
// with run.seed; an arch without vocab_size takes `vocab_size` (the tokenizer's). Sets the
// process-wide kernel switch from model.use_kernels. Throws grpo::Error naming the key.
std::unique_ptr<models::CausalLM> make_policy(const JobConfig& cfg, int64_t vocab_size);

// Tokenizer location of a job: tokenizer.path, else model.path. Throws grpo::Error when
// both are empty.
std::string tokenizer_path_of(const JobConfig& cfg);

// Writes grpo.json (task, prompt template, generation settings from cfg) and copies the
// tokenizer files into checkpoint directory `dir`, so `grpo eval`/`generate` need only
// that directory. Call it on rank 0 for every checkpoint (SFT and RL).
void write_run_meta(const JobConfig& cfg, const std::string& dir);

// The rollout worker of a job config listening on `listen`, with `token` as its secret
// when given (else the config's): the policy as make_policy builds it, the tokenizer (when
// the job has one) for stop strings and EOS, and the rollout section's auth/TLS/limits.
// Throws grpo::Error naming the bad key or file.
std::unique_ptr<rollout::WorkerServer> make_worker(const JobConfig& cfg, const std::string& listen,
                                                   const std::string& token = "");

// Starts rollout.num_local_workers workers of this job on loopback (rollout.local_mode),
// sharing the job's auth token or a fresh one. Throws grpo::Error if one fails to start.
std::unique_ptr<rollout::LocalWorkers> start_local_workers(const JobConfig& cfg);

// The SFT rows of sft.train_file, rendered with the job's template and tokenised (chat
// format from data.template or the tokenizer). Throws grpo::Error naming the file/row.
std::vector<data::SftExample> load_sft_examples(const JobConfig& cfg, const tok::Tokenizer& tok);

// The pipeline's first stage for `grpo train`: when sft.enabled, runs SFT with this config
// into <run.output_dir>/sft (metrics there too), then points cfg.model.path at
// <run.output_dir>/sft/final and cfg.run.output_dir at <run.output_dir>/rl, so the RL stage
// starts from the SFT checkpoint and loads its reference model from there. On a resumed
// run the SFT stage is not run again; cfg is pointed at its output all the same. Returns
// the SFT final directory, or "" when sft.enabled is false (cfg untouched). Collective.
std::string run_sft_stage(JobConfig& cfg, learner::Distributed& dist, bool resuming);

}  // namespace grpo::job
