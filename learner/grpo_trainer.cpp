// learner/grpo_trainer.cpp: see grpo_trainer.h. One step: draw this rank's prompts, generate
// G completions each, score them, (DAPO) keep groups with signal and draw more, compute
// advantages, update the policy, publish the new version, log global metrics, checkpoint.
#include "learner/grpo_trainer.h"

#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/progress.h"
#include "learner/advantages.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/optim.h"
#include "learner/policy_update.h"
#include "models/causal_lm.h"

namespace grpo::learner {
using nlohmann::json;

// ---------------------------------------------------------------------------------------
// PromptSampler

PromptSampler::PromptSampler(int64_t num_rows, uint64_t seed, bool shuffle, int rank, int world_size)
    : n_(num_rows), seed_(seed), shuffle_(shuffle), rank_(rank), world_(world_size) {
  GRPO_ENSURE(n_ > 0, "the training data has no rows");
}

const std::vector<int64_t>& PromptSampler::order() {
  if (order_epoch_ != epoch_) {
    order_.resize(static_cast<size_t>(n_));
    std::iota(order_.begin(), order_.end(), 0);
    if (shuffle_) {
      // Own Fisher-Yates over a fixed engine: the permutation is the same on every platform.
      std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch_) + 1);
      for (size_t i = order_.size(); i > 1; --i) {
        size_t j = static_cast<size_t>(rng() % i);
        std::swap(order_[i - 1], order_[j]);
      }
    }
    order_epoch_ = epoch_;
  }
  return order_;
}

std::vector<int64_t> PromptSampler::next(int64_t global_batch) {
  GRPO_CHECK(global_batch % world_ == 0);
  std::vector<int64_t> global;
  global.reserve(static_cast<size_t>(global_batch));
  while (static_cast<int64_t>(global.size()) < global_batch) {
    if (offset_ >= n_) {
      ++epoch_;
      offset_ = 0;
    }
    global.push_back(order()[static_cast<size_t>(offset_++)]);
  }
  if (offset_ >= n_) {  // normalise: a batch that ends an epoch leaves the cursor at the next
    ++epoch_;
    offset_ = 0;
  }
  const int64_t per = global_batch / world_;
  return {global.begin() + rank_ * per, global.begin() + (rank_ + 1) * per};
}

json PromptSampler::state() const {
  return {{"epoch", epoch_}, {"offset", offset_}, {"rows", n_}, {"rank", rank_}, {"world_size", world_}};
}

void PromptSampler::load_state(const json& s) {
  GRPO_ENSURE(s.is_object() && s.contains("epoch") && s.contains("offset"),
              "checkpoint data position is missing or malformed: ", s.dump());
  GRPO_ENSURE(s.value("rows", n_) == n_, "checkpoint data position was saved for ",
              s.value("rows", n_), " training rows, but the data now has ", n_,
              " (resume with the same data.train_file)");
  GRPO_ENSURE(s.value("world_size", world_) == world_ && s.value("rank", rank_) == rank_,
              "checkpoint data position belongs to rank ", s.value("rank", -1), " of ",
              s.value("world_size", -1), ", this is rank ", rank_, " of ", world_);
  epoch_ = s.at("epoch").get<int64_t>();
  offset_ = s.at("offset").get<int64_t>();
  order_epoch_ = -1;
}

// ---------------------------------------------------------------------------------------
// Validation

void validate_training(const JobConfig& cfg, int world_size) {
  const auto& t = cfg.trainer;
  const int64_t g = cfg.rollout.num_generations;
  std::vector<std::string> clashes;
  if (t.prompts_per_step % world_size != 0) {
    clashes.push_back(str("trainer.prompts_per_step=", t.prompts_per_step,
                          " is not divisible by the ", world_size, " learner ranks (WORLD_SIZE)"));
  } else {
    const int64_t local = t.prompts_per_step / world_size * g;
    if (local % t.per_device_train_batch_size != 0) {
      clashes.push_back(str("each rank gets trainer.prompts_per_step / WORLD_SIZE * rollout.num_generations = ",
                            t.prompts_per_step, " / ", world_size, " * ", g, " = ", local,
                            " completions, not a multiple of trainer.per_device_train_batch_size=",
                            t.per_device_train_batch_size));
    } else if ((local / t.per_device_train_batch_size) % t.gradient_accumulation_steps != 0) {
      clashes.push_back(str(local / t.per_device_train_batch_size, " minibatches per rank (", local,
                            " completions / per_device_train_batch_size ", t.per_device_train_batch_size,
                            ") is not a multiple of trainer.gradient_accumulation_steps=",
                            t.gradient_accumulation_steps));
    }
  }
  if (g < 2 && t.scale_rewards != "batch") {
    clashes.push_back(str("rollout.num_generations=", g, " makes every group-relative advantage 0 "
                          "(need at least 2 answers per prompt)"));
  }
  if (t.delta > 0 && t.delta <= 1 + t.epsilon_high) {
    clashes.push_back(str("trainer.delta=", t.delta, " must exceed 1 + trainer.epsilon_high = ",
                          1 + t.epsilon_high, " (or be 0 to turn the dual clip off)"));
  }
  if (t.epsilon >= 1.0) {
    clashes.push_back(str("trainer.epsilon=", t.epsilon, " leaves no lower clip bound (needs < 1)"));
  }
  if (t.dynamic_sampling && g < 2) {
    clashes.push_back(str("trainer.dynamic_sampling needs rollout.num_generations >= 2, got ", g));
  }
  if (!clashes.empty()) {
    std::string msg = "settings that cannot work together:";
    for (const auto& c : clashes) msg += "\n  - " + c;
    throw ConfigError(msg);
  }
}

// ---------------------------------------------------------------------------------------
// The loop

namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

struct StepBatch {
  std::vector<PromptItem> prompts;
  std::vector<std::vector<GeneratedCompletion>> groups;
  std::vector<double> rewards;  // prompt-major
  std::map<std::string, double> reward_metrics;
};

// Draws, generates and scores one global batch; this rank's share.
StepBatch draw(PromptSampler& sampler, PromptSource& data, CompletionSource& rollout,
               CompletionScorer& scorer, int64_t global_batch, int64_t g, int64_t step,
               double& t_rollout, double& t_reward) {
  StepBatch b;
  for (int64_t row : sampler.next(global_batch)) b.prompts.push_back(data.get(row));
  auto t0 = Clock::now();
  b.groups = rollout.generate(b.prompts, g, step);
  t_rollout += secs(t0);
  GRPO_ENSURE(b.groups.size() == b.prompts.size(), "rollout returned ", b.groups.size(),
              " groups for ", b.prompts.size(), " prompts");
  for (size_t i = 0; i < b.groups.size(); ++i) {
    GRPO_ENSURE(static_cast<int64_t>(b.groups[i].size()) == g, "rollout returned ",
                b.groups[i].size(), " completions for prompt row ", b.prompts[i].row, ", expected ", g);
  }
  t0 = Clock::now();
  b.rewards = scorer.score(b.prompts, b.groups, b.reward_metrics);
  t_reward += secs(t0);
  GRPO_ENSURE(b.rewards.size() == b.prompts.size() * static_cast<size_t>(g), "scorer returned ",
              b.rewards.size(), " rewards for ", b.prompts.size() * static_cast<size_t>(g), " completions");
  return b;
}

// Means over ranks of every scalar (sums for keys in `summed`), max for *_max keys.
std::map<std::string, double> reduce_metrics(Distributed& dist, std::map<std::string, double> m,
                                             const std::vector<std::string>& summed) {
  if (dist.world_size() == 1) return m;
  auto counts = dist.all_gather(static_cast<int64_t>(m.size()));
  if (std::any_of(counts.begin(), counts.end(), [&](int64_t c) { return c != counts[0]; })) {
    log::once("learner_metric_keys", log::Level::kWarn,
              "learner ranks report different metric keys; logging rank 0's values only");
    return m;
  }
  std::vector<double> v;
  for (auto& [k, x] : m) v.push_back(x);
  auto s = dist.all_reduce_sum(v);
  size_t i = 0;
  for (auto& [k, x] : m) {
    bool sum = std::find(summed.begin(), summed.end(), k) != summed.end();
    x = sum ? s[i] : s[i] / dist.world_size();
    ++i;
  }
  for (auto& [k, x] : m) {
    if (k.size() > 4 && k.compare(k.size() - 4, 4, "_max") == 0) {
      auto all = dist.all_gather(static_cast<int64_t>(std::llround(x * 1e6)));
      x = static_cast<double>(*std::max_element(all.begin(), all.end())) / 1e6;
    }
  }
  return m;
}

}  // namespace

TrainResult train_grpo(JobConfig& cfg, const TrainerDeps& deps, int64_t stop_after) {
  GRPO_ENSURE(deps.policy && deps.data && deps.rollout && deps.scorer && deps.dist,
              "train_grpo: policy, data, rollout, scorer and dist are required");
  auto& t = cfg.trainer;
  Distributed& dist = *deps.dist;
  const int world = dist.world_size();
  validate_training(cfg, world);
  GRPO_ENSURE(t.beta == 0.0 || deps.ref != nullptr, "trainer.beta=", t.beta,
              " needs a reference model (beta = 0 runs without one)");
  const int64_t g = cfg.rollout.num_generations;
  const int64_t local_prompts = t.prompts_per_step / world;
  const int64_t local_n = local_prompts * g;
  const int64_t steps_per_pass = local_n / t.per_device_train_batch_size / t.gradient_accumulation_steps;

  models::CausalLM& policy = *deps.policy;
  std::vector<at::Tensor> params = trainable_parameters(policy.module(), t.freeze);
  const std::string device = params.front().device().str();
  Optimizer opt(params, OptimOptions::from(t, t.max_steps * t.num_iterations * steps_per_pass));
  PromptSampler sampler(deps.data->size(), static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle,
                        dist.rank(), world);

  TrainResult res;
  int64_t version = 0;
  std::string resume = t.resume;
  if (resume == "auto") {
    resume = latest_checkpoint(cfg.run.output_dir);
    if (resume.empty()) log::info("trainer.resume=auto: no checkpoint yet, starting fresh");
  }
  if (!resume.empty()) {
    CheckpointState st = load_checkpoint(resume, policy, &opt, dist);
    res.start_step = st.step;
    version = st.trainer.value("policy_version", st.step);
    sampler.load_state(st.rank.value("data", json::object()));
    if (dist.is_main()) log::info(str("resumed from ", resume, " at step ", st.step));
  } else {
    // Ranks start from rank 0's weights.
    std::vector<at::Tensor> w;
    for (auto& p : params) w.push_back(p.detach());
    dist.broadcast(w, 0);
  }
  if (dist.is_main()) {
    std::filesystem::create_directories(cfg.run.output_dir);
    cfg.write_effective(cfg.run.output_dir);
  }
  const std::string config_yaml = cfg.to_yaml();

  UpdateOptions uo;
  uo.loss.loss_type = t.loss_type;
  uo.loss.importance_sampling_level = t.importance_sampling_level;
  uo.loss.beta = t.beta;
  uo.loss.epsilon_low = t.epsilon;
  uo.loss.epsilon_high = t.epsilon_high;
  uo.loss.delta = t.delta;
  uo.loss.max_completion_length = cfg.rollout.max_completion_length;
  uo.temperature = cfg.rollout.temperature > 0 ? cfg.rollout.temperature : 1.0;
  uo.logprob_chunk = t.logprob_chunk;
  uo.per_device_train_batch_size = t.per_device_train_batch_size;
  uo.gradient_accumulation_steps = t.gradient_accumulation_steps;
  uo.num_iterations = t.num_iterations;
  uo.mask_truncated_completions = t.mask_truncated_completions;
  uo.group_by_length = t.group_by_length;
  uo.skip_zero_advantage = t.skip_zero_advantage;
  uo.rollout_is_correction = t.rollout_is_correction;
  uo.rollout_is_cap = t.rollout_is_cap;
  uo.moe_bias_update_rate = t.moe_bias_update_rate;
  uo.bf16_autocast = t.bf16;
  uo.device = device;

  std::unique_ptr<Progress> progress;
  if (dist.is_main()) {
    progress = std::make_unique<Progress>("train", t.max_steps - res.start_step, "tok",
                                          Progress::parse_mode(cfg.run.progress));
  }
  int64_t step = res.start_step;
  res.steps_done = step;
  for (; step < t.max_steps; ++step) {
    auto t_step = Clock::now();
    double t_rollout = 0, t_reward = 0;
    StepBatch b = draw(sampler, *deps.data, *deps.rollout, *deps.scorer, t.prompts_per_step, g,
                       step, t_rollout, t_reward);
    std::map<std::string, double> m = b.reward_metrics;

    // Raw reward statistics over everything generated this step (before any filtering).
    RewardMoments mom = reward_moments(b.rewards);
    int64_t zero_groups = static_cast<int64_t>(b.prompts.size()) - static_cast<int64_t>(groups_with_signal(b.rewards, g).size());

    if (t.dynamic_sampling) {
      // Keep groups with signal; draw more global batches (all ranks together, so the data
      // cursor stays in step) until every rank is full or the rounds run out.
      StepBatch kept;
      StepBatch dropped;
      auto take = [&](StepBatch& src) {
        auto keep = groups_with_signal(src.rewards, g);
        std::vector<bool> is_kept(src.prompts.size(), false);
        for (int64_t k : keep) is_kept[static_cast<size_t>(k)] = true;
        for (size_t i = 0; i < src.prompts.size(); ++i) {
          StepBatch& dst = is_kept[i] && static_cast<int64_t>(kept.prompts.size()) < local_prompts ? kept : dropped;
          dst.prompts.push_back(src.prompts[i]);
          dst.groups.push_back(src.groups[i]);
          dst.rewards.insert(dst.rewards.end(), src.rewards.begin() + static_cast<long>(i * g),
                             src.rewards.begin() + static_cast<long>((i + 1) * g));
        }
      };
      take(b);
      int64_t rounds = 0;
      while (rounds < t.max_resample_rounds) {
        double short_ranks = dist.all_reduce_sum(std::vector<double>{
            static_cast<int64_t>(kept.prompts.size()) < local_prompts ? 1.0 : 0.0})[0];
        if (short_ranks == 0) break;
        ++rounds;
        StepBatch more = draw(sampler, *deps.data, *deps.rollout, *deps.scorer, t.prompts_per_step, g,
                              step, t_rollout, t_reward);
        take(more);
      }
      int64_t filled = 0;
      for (size_t i = 0; static_cast<int64_t>(kept.prompts.size()) < local_prompts && i < dropped.prompts.size(); ++i) {
        // Out of rounds: fill with zero-signal groups (advantage 0: no policy gradient).
        kept.prompts.push_back(dropped.prompts[i]);
        kept.groups.push_back(dropped.groups[i]);
        kept.rewards.insert(kept.rewards.end(), dropped.rewards.begin() + static_cast<long>(i * g),
                            dropped.rewards.begin() + static_cast<long>((i + 1) * g));
        ++filled;
      }
      kept.reward_metrics = b.reward_metrics;
      b = std::move(kept);
      m["dynamic_sampling/rounds"] = static_cast<double>(rounds);
      m["dynamic_sampling/filled_groups"] = static_cast<double>(filled);
    }

    // Advantages.
    RewardMoments global_mom = reward_moments(b.rewards);
    {
      auto s = dist.all_reduce_sum(std::vector<double>{global_mom.sum, global_mom.sum_sq, global_mom.count});
      global_mom = RewardMoments{s[0], s[1], s[2]};
    }
    Advantages adv = compute_advantages(b.rewards, g, t.scale_rewards, 1e-4, &global_mom);
    std::vector<Completion> local;
    local.reserve(static_cast<size_t>(local_n));
    double len_sum = 0, len_max = 0, truncated = 0;
    for (size_t i = 0; i < b.groups.size(); ++i) {
      for (size_t j = 0; j < b.groups[i].size(); ++j) {
        const auto& gc = b.groups[i][j];
        Completion c;
        c.prompt_ids = b.prompts[i].ids;
        c.completion_ids = gc.ids;
        c.rollout_logps = gc.logps;
        c.truncated = gc.truncated;
        c.advantage = adv.values[i * static_cast<size_t>(g) + j];
        len_sum += static_cast<double>(gc.ids.size());
        len_max = std::max(len_max, static_cast<double>(gc.ids.size()));
        truncated += gc.truncated ? 1 : 0;
        local.push_back(std::move(c));
      }
    }
    GRPO_CHECK(static_cast<int64_t>(local.size()) == local_n, "completions ", local.size(), " vs ", local_n);

    auto t_learn = Clock::now();
    UpdateStats us = update_policy(policy, deps.ref, opt, dist, local, uo);
    double learn_s = secs(t_learn);
    ++version;
    deps.rollout->publish(policy, version, dist.is_main());
    dist.barrier();

    // Metrics: this rank's, then reduced over ranks.
    for (auto& [k, v] : us.scalars) m[k] = v;
    m["reward"] = mom.count > 0 ? mom.sum / mom.count : 0.0;
    m["completions/mean_length"] = len_sum / static_cast<double>(local_n);
    m["completions/max_length"] = len_max;
    m["completions/clipped_ratio"] = truncated / static_cast<double>(local_n);
    m["zero_signal_groups"] = static_cast<double>(zero_groups);
    m["time/rollout_s"] = t_rollout;
    m["time/reward_s"] = t_reward;
    m["time/learn_s"] = learn_s;
    m["tokens"] = us.tokens;
    std::map<std::string, double> extra = {{"reward_sum", mom.sum}, {"reward_sq", mom.sum_sq}, {"reward_n", mom.count}};
    for (auto& [k, v] : extra) m["_" + k] = v;
    m = reduce_metrics(dist, std::move(m),
                       {"zero_signal_groups", "tokens", "_reward_sum", "_reward_sq", "_reward_n",
                        "dynamic_sampling/filled_groups"});
    {
      RewardMoments gm{m["_reward_sum"], m["_reward_sq"], m["_reward_n"]};
      m["reward"] = gm.count > 0 ? gm.sum / gm.count : 0.0;
      m["reward_std"] = gm.std_unbiased();
      m.erase("_reward_sum");
      m.erase("_reward_sq");
      m.erase("_reward_n");
    }
    m["frac_reward_zero_std"] = m["zero_signal_groups"] / static_cast<double>(t.prompts_per_step);
    if (m.count("rewards/accuracy/mean")) m["accuracy"] = m["rewards/accuracy/mean"];
    if (m.count("rewards/format/mean")) m["format_rate"] = m["rewards/format/mean"];
    double step_s = secs(t_step);
    m["time/step_s"] = step_s;
    m["tokens_per_s"] = step_s > 0 ? m["tokens"] / step_s : 0.0;
    m["policy_version"] = static_cast<double>(version);
    m["epoch"] = static_cast<double>(sampler.epoch());

    const int64_t done = step + 1;
    res.steps_done = done;
    if (deps.eval_hook && t.eval_steps > 0 && done % t.eval_steps == 0) {
      auto ev = deps.eval_hook(policy, done);
      for (auto& [k, v] : ev) m["eval/" + k] = v;
    }
    if (dist.is_main()) {
      if (deps.metrics && (done % t.logging_steps == 0 || done == t.max_steps)) deps.metrics->log(done, m);
      if (deps.on_step) deps.on_step(done, m);
      progress->update(1, m["tokens"], str("reward ", m["reward"], " kl ", m.count("kl") ? m["kl"] : 0.0));
    }
    const bool stopping = stop_after > 0 && done >= stop_after;
    if ((t.save_steps > 0 && done % t.save_steps == 0) || done == t.max_steps || stopping) {
      CheckpointState cs;
      cs.step = done;
      cs.trainer = {{"policy_version", version}, {"epoch", sampler.epoch()}};
      cs.rank = {{"data", sampler.state()}};
      res.last_checkpoint = save_checkpoint(cfg.run.output_dir, cs, policy, &opt, config_yaml,
                                            t.save_total_limit, dist, deps.checkpoint_files);
    }
    if (stopping) break;
  }
  if (progress) progress->finish();
  return res;
}

}  // namespace grpo::learner
