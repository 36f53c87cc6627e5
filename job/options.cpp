// job/options.cpp: config keys -> options fields (see options.h).
#include "job/options.h"

#include <cstdlib>

namespace grpo::job {

std::string auth_token(const JobConfig& cfg) {
  if (!cfg.rollout.auth_token.empty()) return cfg.rollout.auth_token;
  if (!cfg.rollout.auth_token_env.empty())
    if (const char* v = std::getenv(cfg.rollout.auth_token_env.c_str())) return v;
  return "";
}

rollout::ClientOptions client_options(const JobConfig& cfg, std::vector<std::string> addresses) {
  rollout::ClientOptions o;
  o.addresses = std::move(addresses);
  o.auth_token = auth_token(cfg);
  o.tls = cfg.rollout.tls;
  o.tls_ca = cfg.rollout.tls_ca;
  o.request_timeout_s = cfg.rollout.request_timeout_s;
  o.max_message_mb = cfg.rollout.max_message_mb;
  return o;
}

rollout::SamplingParams sampling_params(const JobConfig& cfg, std::optional<int32_t> eos_id) {
  rollout::SamplingParams sp;
  sp.temperature = cfg.rollout.temperature;
  sp.top_p = cfg.rollout.top_p;
  sp.top_k = cfg.rollout.top_k;
  sp.max_new_tokens = cfg.rollout.max_completion_length;
  sp.stop = cfg.rollout.stop;
  if (eos_id) sp.eos_ids.push_back(*eos_id);
  return sp;
}

rollout::WorkerOptions worker_options(const JobConfig& cfg, const std::string& listen) {
  rollout::WorkerOptions o;
  o.listen = listen;
  o.auth_token = auth_token(cfg);
  o.tls = cfg.rollout.tls;
  o.tls_cert = cfg.rollout.tls_cert;
  o.tls_key = cfg.rollout.tls_key;
  o.max_message_mb = cfg.rollout.max_message_mb;
  o.max_batch_seqs = cfg.rollout.max_batch_seqs;
  return o;
}

learner::OptimOptions optim_options(const JobConfig& cfg) {
  const auto& t = cfg.trainer;
  learner::OptimOptions o;
  o.learning_rate = t.learning_rate;
  o.beta1 = t.adam_beta1;
  o.beta2 = t.adam_beta2;
  o.eps = t.adam_epsilon;
  o.weight_decay = t.weight_decay;
  o.scheduler = t.lr_scheduler_type;
  o.warmup_steps = t.warmup_steps;
  o.max_grad_norm = t.max_grad_norm;
  return o;
}

learner::UpdateOptions update_options(const JobConfig& cfg) {
  const auto& t = cfg.trainer;
  learner::UpdateOptions u;
  u.loss.loss_type = t.loss_type;
  u.loss.importance_sampling_level = t.importance_sampling_level;
  u.loss.beta = t.beta;
  u.loss.epsilon_low = t.epsilon;
  u.loss.epsilon_high = t.epsilon_high;
  u.loss.delta = t.delta;
  u.loss.max_completion_length = cfg.rollout.max_completion_length;
  // Log-probs are taken at the sampling temperature (greedy sampling: T = 1).
  u.temperature = cfg.rollout.temperature > 0 ? cfg.rollout.temperature : 1.0;
  u.logprob_chunk = t.logprob_chunk;
  u.per_device_train_batch_size = t.per_device_train_batch_size;
  u.gradient_accumulation_steps = t.gradient_accumulation_steps;
  u.num_iterations = t.num_iterations;
  u.mask_truncated_completions = t.mask_truncated_completions;
  u.group_by_length = t.group_by_length;
  u.skip_zero_advantage = t.skip_zero_advantage;
  u.rollout_is_correction = t.rollout_is_correction;
  u.rollout_is_cap = t.rollout_is_cap;
  u.moe_bias_update_rate = t.moe_bias_update_rate;
  u.bf16_autocast = t.bf16;
  return u;
}

learner::RunOptions run_options(JobConfig& cfg) {
  learner::RunOptions o;
  o.output_dir = cfg.run.output_dir;
  o.progress = cfg.run.progress;
  o.config_yaml = cfg.to_yaml();
  o.seed = static_cast<uint64_t>(cfg.run.seed);
  o.shuffle = cfg.data.shuffle;
  o.logging_steps = cfg.trainer.logging_steps;
  o.save_steps = cfg.trainer.save_steps;
  o.save_total_limit = cfg.trainer.save_total_limit;
  return o;
}

learner::GrpoOptions grpo_options(JobConfig& cfg) {
  const auto& t = cfg.trainer;
  learner::GrpoOptions o;
  o.max_steps = t.max_steps;
  o.prompts_per_step = t.prompts_per_step;
  o.group_size = cfg.rollout.num_generations;
  o.scale_rewards = t.scale_rewards;
  o.dynamic_sampling = t.dynamic_sampling;
  o.max_resample_rounds = t.max_resample_rounds;
  o.update = update_options(cfg);
  o.optim = optim_options(cfg);
  o.freeze = t.freeze;
  o.eval_steps = t.eval_steps;
  o.resume = t.resume;
  o.run = run_options(cfg);
  return o;
}

learner::SftOptions sft_options(JobConfig& cfg) {
  const auto& s = cfg.sft;
  learner::SftOptions o;
  o.train_file = s.train_file;
  o.num_train_epochs = s.num_train_epochs;
  o.max_steps = s.max_steps;
  o.per_device_train_batch_size = s.per_device_train_batch_size;
  o.max_seq_length = s.max_seq_length;
  o.packing = s.packing;
  o.mtp_loss_weight = s.mtp_loss_weight;
  o.optim = optim_options(cfg);
  o.optim.learning_rate = s.learning_rate;
  o.optim.scheduler = s.lr_scheduler_type;
  o.optim.warmup_steps = s.warmup_steps;
  o.run = run_options(cfg);
  return o;
}

data::TemplateOptions template_options(const JobConfig& cfg) {
  return {cfg.data.template_name, cfg.data.prompt_template, cfg.data.system_prompt, ""};
}

learner::EvalOptions eval_options(const JobConfig& cfg) {
  learner::EvalOptions eo;
  eo.samples = cfg.eval.samples;
  eo.temperature = cfg.eval.temperature;
  eo.max_new_tokens = cfg.eval.max_new_tokens;
  eo.limit = cfg.eval.limit;
  eo.stop = cfg.rollout.stop;
  eo.seed = static_cast<uint64_t>(cfg.run.seed);
  eo.progress = "off";
  return eo;
}

}  // namespace grpo::job
