// job/options.h: the one place where a job config becomes the libraries' options.
//
//   JobConfig cfg = JobConfig::load(path, overrides);
//   learner::GrpoOptions go = job::grpo_options(cfg);   // trainer/rollout/run/data keys
//   rollout::ClientOptions co = job::client_options(cfg, addresses);
//
// Design: rollout/, learner/ and data/ never see JobConfig; each takes a small options
// struct of its own. Every mapping from config keys to an options field is written once,
// here, so a key means the same thing everywhere (the options' comments name the keys).
// Pure functions of the config (plus the environment for the auth token); thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job_config.h"
#include "data/template.h"
#include "learner/eval.h"
#include "learner/grpo_trainer.h"
#include "learner/optim.h"
#include "learner/policy_update.h"
#include "learner/sft_trainer.h"
#include "rollout/client.h"
#include "rollout/sampler.h"
#include "rollout/server.h"

namespace grpo::job {

// The shared secret of a job: rollout.auth_token, else the environment variable named by
// rollout.auth_token_env (empty when neither is set).
std::string auth_token(const JobConfig& cfg);

// rollout.* connection settings for the learner's client of `addresses`.
rollout::ClientOptions client_options(const JobConfig& cfg, std::vector<std::string> addresses);

// rollout.* sampling settings; `eos_id` (the tokenizer's) ends answers; seed left 0.
rollout::SamplingParams sampling_params(const JobConfig& cfg, std::optional<int32_t> eos_id);

// rollout.* server settings of a worker listening on `listen` (decode/eos/name: the caller).
rollout::WorkerOptions worker_options(const JobConfig& cfg, const std::string& listen);

// trainer.* AdamW, schedule and clipping; total_steps is left to the trainer.
learner::OptimOptions optim_options(const JobConfig& cfg);

// trainer.* loss and minibatch settings of one policy update (device: the caller's).
learner::UpdateOptions update_options(const JobConfig& cfg);

// run.* and trainer.* settings every training loop shares, with the effective config YAML.
learner::RunOptions run_options(JobConfig& cfg);

// The GRPO loop's settings.
learner::GrpoOptions grpo_options(JobConfig& cfg);

// The SFT loop's settings (sft.*, with AdamW betas, weight decay and clipping from
// trainer.*).
learner::SftOptions sft_options(JobConfig& cfg);

// data.* prompt template.
data::TemplateOptions template_options(const JobConfig& cfg);

// eval.* settings of periodic evaluation during training (stop strings: rollout.stop).
learner::EvalOptions eval_options(const JobConfig& cfg);

}  // namespace grpo::job
