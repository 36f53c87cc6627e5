// job/assembly.cpp: see assembly.h.
#include "job/assembly.h"

#include <ATen/Context.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "data/checkpoint_meta.h"
#include "data/template.h"
#include "job/options.h"
#include "kernels/ops.h"
#include "learner/distributed.h"
#include "learner/sft_trainer.h"
#include "models/causal_lm.h"
#include "tokenizer/tokenizer.h"
#include "rollout/client.h"
#include "rollout/server.h"

namespace grpo::job {

std::string resolve_device(const std::string& device) {
  if (device == "auto") return at::hasCUDA() ? "cuda" : "cpu";
  return device;
}

std::string rank_device(const std::string& device, int local_rank, int world_size) {
  if (device == "cuda" && world_size > 1) return "cuda:" + std::to_string(local_rank);
  return device;
}

std::unique_ptr<models::CausalLM> make_policy(const JobConfig& cfg, int64_t vocab_size) {
  std::string dev = resolve_device(cfg.run.device);
  kernels::set_use_kernels(cfg.model.use_kernels);  // model.use_kernels: fused ops or the reference
  if (!cfg.model.path.empty()) return models::load_model(cfg.model.path, cfg.model.dtype, dev);
  GRPO_ENSURE(cfg.model.arch.is_object() && !cfg.model.arch.empty(),
              "model: set model.path (a checkpoint directory) or model.arch (an architecture)");
  nlohmann::json arch = cfg.model.arch;
  if (!arch.contains("vocab_size") && vocab_size > 0) arch["vocab_size"] = vocab_size;
  return models::build_model(arch, static_cast<uint64_t>(cfg.run.seed), cfg.model.dtype, dev);
}

std::string tokenizer_path_of(const JobConfig& cfg) {
  if (!cfg.tokenizer.path.empty()) return cfg.tokenizer.path;
  GRPO_ENSURE(!cfg.model.path.empty(), "set tokenizer.path (or model.path holding tokenizer.json)");
  return cfg.model.path;
}

void write_run_meta(const JobConfig& cfg, const std::string& dir) {
  data::CheckpointMeta meta;
  meta.task = cfg.data.task;
  meta.prompt_template = template_options(cfg);
  meta.generation = nlohmann::json{{"max_new_tokens", cfg.rollout.max_completion_length},
                                   {"temperature", cfg.rollout.temperature},
                                   {"top_p", cfg.rollout.top_p},
                                   {"top_k", cfg.rollout.top_k},
                                   {"stop", cfg.rollout.stop}};
  data::write_checkpoint_meta(dir, meta, tokenizer_path_of(cfg));
}

namespace {

// What WorkerInfo reports as the model.
std::string model_name(const JobConfig& cfg) {
  if (!cfg.model.path.empty()) return cfg.model.path;
  return cfg.model.arch.value("model_type", std::string("model")) + " (model.arch, seed " +
         std::to_string(cfg.run.seed) + ")";
}

// Stop-string decoding and EOS from the job's tokenizer. Ids the tokenizer lacks (a model
// vocabulary padded past it) decode to nothing.
void add_tokenizer(rollout::WorkerOptions& o, std::shared_ptr<const tok::Tokenizer> tok) {
  const int32_t tv = tok->vocab_size();
  o.decode = [tok, tv](std::span<const int32_t> ids) {
    std::vector<int32_t> known;
    for (int32_t i : ids)
      if (i >= 0 && i < tv) known.push_back(i);
    return tok->decode(known);
  };
  if (auto e = tok->eos_id()) o.default_eos_ids.push_back(*e);
}

}  // namespace

std::unique_ptr<rollout::WorkerServer> make_worker(const JobConfig& cfg, const std::string& listen,
                                                   const std::string& token) {
  rollout::WorkerOptions o = worker_options(cfg, listen);
  if (!token.empty()) o.auth_token = token;
  o.model_name = model_name(cfg);
  std::shared_ptr<const tok::Tokenizer> tok;
  if (!cfg.tokenizer.path.empty() || !cfg.model.path.empty()) {
    tok = std::make_shared<const tok::Tokenizer>(tok::Tokenizer::from_file(tokenizer_path_of(cfg)));
    add_tokenizer(o, tok);
  }
  GRPO_ENSURE(!cfg.model.arch.empty() || !cfg.model.path.empty(),
              "rollout worker: set model.path or model.arch");
  auto model = make_policy(cfg, tok ? tok->vocab_size() : 0);
  return std::make_unique<rollout::WorkerServer>(std::move(model), std::move(o));
}

std::unique_ptr<rollout::LocalWorkers> start_local_workers(const JobConfig& cfg) {
  rollout::LocalWorkerOptions o;
  o.num_workers = cfg.rollout.num_local_workers;
  o.mode = cfg.rollout.local_mode;
  o.auth_token = auth_token(cfg);
  // The workers' own config: loopback without TLS; the token travels in the environment.
  JobConfig wc = cfg;
  wc.rollout.auth_token.clear();
  wc.rollout.auth_token_env = "GRPO_ROLLOUT_TOKEN";
  wc.rollout.tls = false;
  o.config_yaml = wc.to_yaml();
  o.make_worker = [wc](const std::string& listen, const std::string& token) {
    return make_worker(wc, listen, token);
  };
  return std::make_unique<rollout::LocalWorkers>(std::move(o));
}

std::vector<data::SftExample> load_sft_examples(const JobConfig& cfg, const tok::Tokenizer& tok) {
  GRPO_ENSURE(!cfg.sft.train_file.empty(), "sft.train_file is empty: set it to a JSONL file of "
                                           "{prompt, completion} or {messages} rows");
  data::Task task = data::parse_task(cfg.data.task);
  data::TemplateOptions topt = template_options(cfg);
  data::PromptTemplate tmpl(topt, task, &tok);
  data::ChatFormat chat = data::ChatFormat::kChatML;
  if (topt.name == "chat") {
    chat = data::parse_chat_format(tmpl.options().chat_format);
  } else if (tok.token_to_id("<｜User｜>")) {
    chat = data::ChatFormat::kDeepSeek;
  }
  return data::load_sft_examples(cfg.sft.train_file, tmpl, tok, chat);
}

std::string run_sft_stage(JobConfig& cfg, learner::Distributed& dist, bool resuming) {
  if (!cfg.sft.enabled) return "";
  const std::string root = cfg.run.output_dir;
  const std::string final_dir = root + "/sft/final";
  if (!resuming) {
    JobConfig sft_cfg = cfg;
    sft_cfg.run.output_dir = root + "/sft";
    tok::Tokenizer tok = tok::Tokenizer::from_file(tokenizer_path_of(cfg));
    auto model = make_policy(sft_cfg, tok.vocab_size());
    std::unique_ptr<Metrics> metrics;
    if (dist.is_main()) {
      sft_cfg.write_effective(sft_cfg.run.output_dir);
      metrics = std::make_unique<Metrics>(
          Metrics::for_run(sft_cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard));
    }
    learner::SftOptions so = sft_options(sft_cfg);
    so.checkpoint_files = [&sft_cfg](const std::string& d) { write_run_meta(sft_cfg, d); };
    learner::train_sft(so, load_sft_examples(sft_cfg, tok), *model, dist, metrics.get());
  }
  if (cfg.tokenizer.path.empty()) cfg.tokenizer.path = final_dir;
  cfg.model.path = final_dir;
  cfg.run.output_dir = root + "/rl";
  return final_dir;
}

}  // namespace grpo::job
