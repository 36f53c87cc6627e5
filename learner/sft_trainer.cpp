// learner/sft_trainer.cpp: SFT loss and loop (see sft_trainer.h).
#include "learner/sft_trainer.h"

#include "kernels/ops.h"

#include <ATen/Context.h>
#include <ATen/core/Reduction.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/progress.h"
#include "data/checkpoint_meta.h"
#include "data/dataset.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/optim.h"
#include "models/causal_lm.h"
#include "models/model_args.h"
#include "tokenizer/tokenizer.h"

namespace grpo::learner {

namespace {
at::Tensor to_tensor(const std::vector<int64_t>& v, int64_t B, int64_t T) {
  return at::from_blob(const_cast<int64_t*>(v.data()), {B, T}, at::kLong).clone();
}
}  // namespace

SftLoss sft_loss(models::CausalLM& model, const std::vector<data::PackedSeq>& batch,
                 double mtp_loss_weight) {
  GRPO_ENSURE(!batch.empty(), "sft_loss: empty batch");
  const int64_t B = static_cast<int64_t>(batch.size());
  int64_t T = 0;
  for (const auto& s : batch) T = std::max<int64_t>(T, static_cast<int64_t>(s.size()));
  std::vector<int64_t> ids(B * T, 0), pos(B * T, 0), mask(B * T, 0), tgt(B * T, -100);
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = batch[b];
    auto t1 = data::shifted_targets(s, 1);
    for (size_t t = 0; t < s.size(); ++t) {
      ids[b * T + t] = s.ids[t];
      pos[b * T + t] = s.position_ids[t];
      mask[b * T + t] = 1;
      tgt[b * T + t] = t1[t];
    }
  }
  at::Tensor w = model.lm_head_weight();
  auto dev = w.device();
  at::Tensor input = to_tensor(ids, B, T).to(dev), position = to_tensor(pos, B, T).to(dev);
  at::Tensor attn = to_tensor(mask, B, T).to(dev), target = to_tensor(tgt, B, T).to(dev);
  int64_t n_tok = 0;
  for (int64_t x : tgt) n_tok += x != -100;
  GRPO_ENSURE(n_tok > 0, "sft_loss: the batch has no completion tokens to learn");

  int64_t D = model.args().num_nextn_predict_layers;
  bool with_mtp = D > 0 && mtp_loss_weight > 0;
  models::ForwardOutput out = model.forward(input, position, attn, with_mtp);
  at::Tensor logits = model.logits(out.hidden).to(at::kFloat);  // [B, T, V]
  const int64_t V = logits.size(-1);
  at::Tensor ce_sum = at::cross_entropy_loss(logits.reshape({B * T, V}), target.reshape({B * T}),
                                             {}, at::Reduction::Sum, -100);
  at::Tensor loss = ce_sum / static_cast<double>(n_tok);
  SftLoss r;
  r.tokens = n_tok;
  r.ce = loss.item<double>();
  if (with_mtp) {
    at::Tensor mtp_total = at::zeros({}, loss.options());
    for (int64_t k = 0; k < D; ++k) {
      std::vector<int64_t> tk(B * T, -100);
      int64_t nk = 0;
      for (int64_t b = 0; b < B; ++b) {
        auto t = data::shifted_targets(batch[b], k + 2);
        for (size_t i = 0; i < t.size(); ++i) {
          tk[b * T + i] = t[i];
          nk += t[i] != -100;
        }
      }
      if (nk == 0) continue;
      at::Tensor lk = model.logits(out.mtp_hidden[k]).to(at::kFloat).reshape({B * T, V});
      at::Tensor ck = at::cross_entropy_loss(lk, to_tensor(tk, B, T).to(dev).reshape({B * T}), {},
                                             at::Reduction::Sum, -100) / static_cast<double>(nk);
      mtp_total = mtp_total + ck;
    }
    mtp_total = mtp_total / static_cast<double>(D);
    r.mtp_ce = mtp_total.item<double>();
    loss = loss + mtp_loss_weight * mtp_total;
  }
  if (out.aux_loss.defined()) loss = loss + out.aux_loss;
  r.loss = loss;
  return r;
}

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
  kernels::set_use_kernels(cfg.model.use_kernels);  // model.use_kernels: fused CUDA ops or the reference
  if (!cfg.model.path.empty()) return models::load_model(cfg.model.path, cfg.model.dtype, dev);
  GRPO_ENSURE(cfg.model.arch.is_object() && !cfg.model.arch.empty(),
              "model: set model.path (a checkpoint directory) or model.arch (an architecture)");
  nlohmann::json arch = cfg.model.arch;
  if (!arch.contains("vocab_size")) arch["vocab_size"] = vocab_size;
  return models::build_model(arch, static_cast<uint64_t>(cfg.run.seed), cfg.model.dtype, dev);
}

std::string tokenizer_path_of(const JobConfig& cfg) {
  if (!cfg.tokenizer.path.empty()) return cfg.tokenizer.path;
  GRPO_ENSURE(!cfg.model.path.empty(), "set tokenizer.path (or model.path holding tokenizer.json)");
  return cfg.model.path;
}

SftResult train_sft(JobConfig& cfg, models::CausalLM& model, const tok::Tokenizer& tok,
                    Distributed& dist, Metrics* metrics) {
  const auto& s = cfg.sft;
  GRPO_ENSURE(!s.train_file.empty(), "sft.train_file is empty: set it to a JSONL file of "
                                     "{prompt, completion} or {messages} rows");
  data::Task task = data::parse_task(cfg.data.task);
  data::TemplateOptions topt{cfg.data.template_name, cfg.data.prompt_template, cfg.data.system_prompt, ""};
  data::PromptTemplate tmpl(topt, task, &tok);
  data::ChatFormat chat = data::ChatFormat::kChatML;
  if (topt.name == "chat") chat = data::parse_chat_format(tmpl.options().chat_format);
  else if (tok.token_to_id("<｜User｜>")) chat = data::ChatFormat::kDeepSeek;
  auto examples = data::load_sft_examples(s.train_file, tmpl, tok, chat);
  int64_t dropped = 0;
  auto seqs = data::pack_examples(examples, s.max_seq_length, s.packing, &dropped);
  GRPO_ENSURE(!seqs.empty(), "sft: every example of ", s.train_file, " is longer than sft.max_seq_length=",
              s.max_seq_length);
  if (dropped > 0) {
    log::warn(str("sft: dropped ", dropped, " of ", examples.size(), " examples longer than sft.max_seq_length=",
                  s.max_seq_length));
  }
  const int64_t world = dist.world_size(), rank = dist.rank();
  const int64_t global_batch = s.per_device_train_batch_size * world;
  const int64_t per_epoch = std::max<int64_t>(1, static_cast<int64_t>(seqs.size()) / global_batch);
  const int64_t total = s.max_steps > 0 ? s.max_steps : per_epoch * s.num_train_epochs;

  std::vector<at::Tensor> params;
  for (auto& p : model.module().parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  OptimOptions oo = OptimOptions::from(cfg.trainer, total);
  oo.learning_rate = s.learning_rate;
  oo.scheduler = s.lr_scheduler_type;
  oo.warmup_steps = s.warmup_steps;
  Optimizer opt(params, oo);
  data::Sampler sampler(seqs.size(), static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle);

  if (dist.is_main()) {
    log::info(str("sft: ", examples.size(), " examples in ", seqs.size(), " sequences (packing ",
                  s.packing ? "on" : "off", ", max_seq_length ", s.max_seq_length, "), ", total,
                  " steps of ", global_batch, " sequences on ", world, " rank(s)"));
  }
  Progress progress("sft", total, "tok", Progress::parse_mode(cfg.run.progress));
  model.module().train();
  SftResult res;
  const std::string cfg_yaml = cfg.to_yaml();
  for (int64_t step = 0; step < total; ++step) {
    auto idx = sampler.next(static_cast<size_t>(global_batch));
    std::vector<data::PackedSeq> mine;
    for (int64_t i = rank * s.per_device_train_batch_size; i < (rank + 1) * s.per_device_train_batch_size; ++i) {
      mine.push_back(seqs[idx[i]]);
    }
    double lr = opt.next_lr();
    SftLoss l = sft_loss(model, mine, s.mtp_loss_weight);
    l.loss.backward();
    dist.all_reduce_gradients(params);
    double gn = opt.step();
    std::vector<double> red = dist.all_reduce_sum({l.ce, l.mtp_ce, static_cast<double>(l.tokens)});
    res.last_loss = red[0] / world;
    res.steps = step + 1;
    if (dist.is_main()) {
      std::map<std::string, double> m{{"sft/loss", red[0] / world},
                                      {"sft/grad_norm", gn},
                                      {"sft/learning_rate", lr},
                                      {"sft/tokens", red[2]},
                                      {"sft/epoch", static_cast<double>(sampler.epoch())}};
      if (red[1] != 0) m["sft/mtp_loss"] = red[1] / world;
      if (metrics && (step % cfg.trainer.logging_steps == 0 || step + 1 == total)) metrics->log(step + 1, m);
      progress.update(1, red[2], str("loss ", std::to_string(red[0] / world).substr(0, 6)));
    }
    if (cfg.trainer.save_steps > 0 && (step + 1) % cfg.trainer.save_steps == 0 && step + 1 < total) {
      CheckpointState st;
      st.step = step + 1;
      st.trainer = nlohmann::json{{"stage", "sft"}};
      st.rank = nlohmann::json{{"data", sampler.state()}};
      save_checkpoint(cfg.run.output_dir, st, model, &opt, cfg_yaml, cfg.trainer.save_total_limit, dist,
                      [&](const std::string& d) { write_run_meta(cfg, d); });
    }
  }
  if (dist.is_main()) progress.finish(str("loss ", res.last_loss));
  res.final_dir = (std::filesystem::path(cfg.run.output_dir) / "final").string();
  if (dist.is_main()) {
    models::save_model(model, res.final_dir);
    write_run_meta(cfg, res.final_dir);
    log::info(str("sft: wrote ", res.final_dir));
  }
  dist.barrier();
  return res;
}

void write_run_meta(const JobConfig& cfg, const std::string& dir) {
  data::CheckpointMeta meta;
  meta.task = cfg.data.task;
  meta.prompt_template = {cfg.data.template_name, cfg.data.prompt_template, cfg.data.system_prompt, ""};
  meta.generation = nlohmann::json{{"max_new_tokens", cfg.rollout.max_completion_length},
                                   {"temperature", cfg.rollout.temperature},
                                   {"top_p", cfg.rollout.top_p},
                                   {"top_k", cfg.rollout.top_k},
                                   {"stop", cfg.rollout.stop}};
  data::write_checkpoint_meta(dir, meta, tokenizer_path_of(cfg));
}

std::string run_sft_stage(JobConfig& cfg, Distributed& dist) {
  if (!cfg.sft.enabled) return "";
  JobConfig sft_cfg = cfg;
  const std::filesystem::path root(cfg.run.output_dir);
  sft_cfg.run.output_dir = (root / "sft").string();
  tok::Tokenizer tok = tok::Tokenizer::from_file(tokenizer_path_of(cfg));
  auto model = make_policy(sft_cfg, tok.vocab_size());
  std::unique_ptr<Metrics> metrics;
  if (dist.is_main()) {
    sft_cfg.write_effective(sft_cfg.run.output_dir);
    metrics = std::make_unique<Metrics>(
        Metrics::for_run(sft_cfg.run.output_dir, cfg.run.jsonl, cfg.run.tensorboard));
  }
  SftResult r = train_sft(sft_cfg, *model, tok, dist, metrics.get());
  if (cfg.tokenizer.path.empty()) cfg.tokenizer.path = r.final_dir;
  cfg.model.path = r.final_dir;
  cfg.run.output_dir = (root / "rl").string();
  return r.final_dir;
}

}  // namespace grpo::learner
