// learner/sft_trainer.cpp: SFT loss and loop (see sft_trainer.h).
#include "learner/sft_trainer.h"

#include "kernels/ops.h"

#include <ATen/core/Reduction.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>

#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/optim.h"
#include "models/causal_lm.h"
#include "models/model_args.h"

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

namespace {

void log_plan(const SftOptions& o, size_t examples, size_t seqs, int64_t total, int64_t global_batch,
              int64_t world) {
  log::info(str("sft: ", examples, " examples in ", seqs, " sequences (packing ",
                o.packing ? "on" : "off", ", max_seq_length ", o.max_seq_length, "), ", total,
                " steps of ", global_batch, " sequences on ", world, " rank(s)"));
}

}  // namespace

SftResult train_sft(const SftOptions& o, const std::vector<data::SftExample>& examples,
                    models::CausalLM& model, Distributed& dist, Metrics* metrics) {
  int64_t dropped = 0;
  auto seqs = data::pack_examples(examples, o.max_seq_length, o.packing, &dropped);
  GRPO_ENSURE(!seqs.empty(), "sft: every example of ", o.train_file,
              " is longer than sft.max_seq_length=", o.max_seq_length);
  if (dropped > 0) {
    log::warn(str("sft: dropped ", dropped, " of ", examples.size(),
                  " examples longer than sft.max_seq_length=", o.max_seq_length));
  }
  const int64_t world = dist.world_size(), rank = dist.rank();
  const int64_t mb = o.per_device_train_batch_size;
  const int64_t global_batch = mb * world;
  const int64_t per_epoch = std::max<int64_t>(1, static_cast<int64_t>(seqs.size()) / global_batch);
  const int64_t total = o.max_steps > 0 ? o.max_steps : per_epoch * o.num_train_epochs;

  std::vector<at::Tensor> params;
  for (auto& p : model.module().parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  OptimOptions oo = o.optim;
  oo.total_steps = std::max<int64_t>(1, total);
  Optimizer opt(params, oo);
  data::Sampler sampler(seqs.size(), o.run.seed, o.run.shuffle);
  if (dist.is_main()) log_plan(o, examples.size(), seqs.size(), total, global_batch, world);
  Progress progress("sft", total, "tok", Progress::parse_mode(o.run.progress));
  model.module().train();
  SftResult res;
  for (int64_t step = 0; step < total; ++step) {
    auto idx = sampler.next(static_cast<size_t>(global_batch));
    std::vector<data::PackedSeq> mine;
    for (int64_t i = rank * mb; i < (rank + 1) * mb; ++i) mine.push_back(seqs[idx[i]]);
    double lr = opt.next_lr();
    SftLoss l = sft_loss(model, mine, o.mtp_loss_weight);
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
      if (metrics && (step % o.run.logging_steps == 0 || step + 1 == total)) metrics->log(step + 1, m);
      progress.update(1, red[2], str("loss ", std::to_string(red[0] / world).substr(0, 6)));
    }
    if (o.run.save_steps > 0 && (step + 1) % o.run.save_steps == 0 && step + 1 < total) {
      CheckpointState st;
      st.step = step + 1;
      st.trainer = nlohmann::json{{"stage", "sft"}};
      st.rank = nlohmann::json{{"data", sampler.state()}};
      save_checkpoint(o.run.output_dir, st, model, &opt, o.run.config_yaml, o.run.save_total_limit, dist,
                      o.checkpoint_files);
    }
  }
  if (dist.is_main()) progress.finish(str("loss ", res.last_loss));
  res.final_dir = o.run.output_dir + "/final";
  if (dist.is_main()) {
    models::save_model(model, res.final_dir);
    if (o.checkpoint_files) o.checkpoint_files(res.final_dir);
    log::info(str("sft: wrote ", res.final_dir));
  }
  dist.barrier();
  return res;
}

}  // namespace grpo::learner
