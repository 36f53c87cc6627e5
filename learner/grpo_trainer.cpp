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
#include "core/fs.h"
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

void validate_training(const GrpoOptions& o, int world_size) {
  const auto& u = o.update;
  const int64_t g = o.group_size;
  const int64_t mb = u.per_device_train_batch_size, accum = u.gradient_accumulation_steps;
  std::vector<std::string> clashes;
  if (o.prompts_per_step % world_size != 0) {
    clashes.push_back(str("trainer.prompts_per_step=", o.prompts_per_step,
                          " is not divisible by the ", world_size, " learner ranks (WORLD_SIZE)"));
  } else {
    const int64_t local = o.prompts_per_step / world_size * g;
    if (local % mb != 0) {
      clashes.push_back(str("each rank gets trainer.prompts_per_step / WORLD_SIZE * rollout.num_generations = ",
                            o.prompts_per_step, " / ", world_size, " * ", g, " = ", local,
                            " completions, not a multiple of trainer.per_device_train_batch_size=", mb));
    } else if ((local / mb) % accum != 0) {
      clashes.push_back(str(local / mb, " minibatches per rank (", local,
                            " completions / per_device_train_batch_size ", mb,
                            ") is not a multiple of trainer.gradient_accumulation_steps=", accum));
    }
  }
  if (g < 2 && o.scale_rewards != "batch") {
    clashes.push_back(str("rollout.num_generations=", g, " makes every group-relative advantage 0 "
                          "(need at least 2 answers per prompt)"));
  }
  if (u.loss.delta > 0 && u.loss.delta <= 1 + u.loss.epsilon_high) {
    clashes.push_back(str("trainer.delta=", u.loss.delta, " must exceed 1 + trainer.epsilon_high = ",
                          1 + u.loss.epsilon_high, " (or be 0 to turn the dual clip off)"));
  }
  if (u.loss.epsilon_low >= 1.0) {
    clashes.push_back(str("trainer.epsilon=", u.loss.epsilon_low, " leaves no lower clip bound (needs < 1)"));
  }
  if (o.dynamic_sampling && g < 2) {
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

// One step's prompts, their groups and rewards (this rank's share).
struct StepBatch {
  std::vector<PromptItem> prompts;
  std::vector<rollout::Group> groups;
  std::vector<double> rewards;  // prompt-major
  std::map<std::string, double> reward_metrics;

  // Appends group i of `src` (prompt, answers, rewards).
  void take_group(StepBatch& src, size_t i, int64_t g) {
    prompts.push_back(src.prompts[i]);
    groups.push_back(std::move(src.groups[i]));
    rewards.insert(rewards.end(), src.rewards.begin() + static_cast<long>(i * g),
                   src.rewards.begin() + static_cast<long>((i + 1) * g));
  }
};

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

// The training loop's state and its stages; train_grpo() runs it.
class GrpoLoop {
 public:
  GrpoLoop(const GrpoOptions& o, const TrainerDeps& deps);
  // Loads the checkpoint to resume (or broadcasts rank 0's weights) and writes config.yaml.
  void start(TrainResult& res);
  // One training step; returns its metrics (reduced over ranks).
  std::map<std::string, double> step(int64_t step);
  // Evaluation, logging and the checkpoint after step `done`.
  void finish_step(int64_t done, std::map<std::string, double>& m, bool stopping, TrainResult& res);
  // Closes the progress display.
  void end() {
    if (progress_) progress_->finish();
  }

 private:
  StepBatch draw(int64_t step, double& t_rollout, double& t_reward);
  StepBatch refill_with_signal(StepBatch b, int64_t step, double& t_rollout, double& t_reward,
                               std::map<std::string, double>& m);
  std::vector<double> advantages(const StepBatch& b);
  void add_step_metrics(const StepBatch& b, std::map<std::string, double>& m);

  const GrpoOptions& o_;
  const TrainerDeps& deps_;
  Distributed& dist_;
  const int64_t g_, local_prompts_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<Optimizer> opt_;
  PromptSampler sampler_;
  UpdateOptions uo_;
  std::unique_ptr<Progress> progress_;
  int64_t version_ = 0;
};

GrpoLoop::GrpoLoop(const GrpoOptions& o, const TrainerDeps& deps)
    : o_(o),
      deps_(deps),
      dist_(*deps.dist),
      g_(o.group_size),
      local_prompts_(o.prompts_per_step / deps.dist->world_size()),
      sampler_(deps.data->size(), o.run.seed, o.run.shuffle, deps.dist->rank(), deps.dist->world_size()) {
  const auto& u = o.update;
  const int64_t steps_per_pass =
      local_prompts_ * g_ / u.per_device_train_batch_size / u.gradient_accumulation_steps;
  params_ = trainable_parameters(deps.policy->module(), o.freeze);
  OptimOptions oo = o.optim;
  oo.total_steps = std::max<int64_t>(1, o.max_steps * u.num_iterations * steps_per_pass);
  opt_ = std::make_unique<Optimizer>(params_, oo);
  uo_ = u;
  uo_.device = params_.front().device().str();
}

void GrpoLoop::start(TrainResult& res) {
  std::string resume = o_.resume;
  if (resume == "auto") {
    resume = latest_checkpoint(o_.run.output_dir);
    if (resume.empty()) log::info("trainer.resume=auto: no checkpoint yet, starting fresh");
  }
  if (!resume.empty()) {
    CheckpointState st = load_checkpoint(resume, *deps_.policy, opt_.get(), dist_);
    res.start_step = st.step;
    version_ = st.trainer.value("policy_version", st.step);
    sampler_.load_state(st.rank.value("data", json::object()));
    if (dist_.is_main()) log::info(str("resumed from ", resume, " at step ", st.step));
  } else {
    // Ranks start from rank 0's weights.
    std::vector<at::Tensor> w;
    for (auto& p : params_) w.push_back(p.detach());
    dist_.broadcast(w, 0);
  }
  if (dist_.is_main()) {
    std::filesystem::create_directories(o_.run.output_dir);
    if (!o_.run.config_yaml.empty()) fs::write_atomic(o_.run.output_dir + "/config.yaml", o_.run.config_yaml);
    progress_ = std::make_unique<Progress>("train", o_.max_steps - res.start_step, "tok",
                                           Progress::parse_mode(o_.run.progress));
  }
  res.steps_done = res.start_step;
}

// Draws, generates and scores one global batch; this rank's share.
StepBatch GrpoLoop::draw(int64_t step, double& t_rollout, double& t_reward) {
  StepBatch b;
  for (int64_t row : sampler_.next(o_.prompts_per_step)) b.prompts.push_back(deps_.data->get(row));
  auto t0 = Clock::now();
  b.groups = deps_.rollout->generate(b.prompts, g_, step);
  t_rollout += secs(t0);
  GRPO_ENSURE(b.groups.size() == b.prompts.size(), "rollout returned ", b.groups.size(),
              " groups for ", b.prompts.size(), " prompts");
  for (size_t i = 0; i < b.groups.size(); ++i) {
    GRPO_ENSURE(static_cast<int64_t>(b.groups[i].samples.size()) == g_, "rollout returned ",
                b.groups[i].samples.size(), " completions for prompt row ", b.prompts[i].row,
                ", expected ", g_);
  }
  t0 = Clock::now();
  b.rewards = deps_.scorer->score(b.prompts, b.groups, b.reward_metrics);
  t_reward += secs(t0);
  GRPO_ENSURE(b.rewards.size() == b.prompts.size() * static_cast<size_t>(g_), "scorer returned ",
              b.rewards.size(), " rewards for ", b.prompts.size() * static_cast<size_t>(g_), " completions");
  return b;
}

// DAPO dynamic sampling: keeps groups with signal and draws more global batches (all ranks
// together, so the data cursor stays in step) until every rank is full or the rounds run
// out; then fills up with zero-signal groups (advantage 0: no policy gradient).
StepBatch GrpoLoop::refill_with_signal(StepBatch b, int64_t step, double& t_rollout, double& t_reward,
                                       std::map<std::string, double>& m) {
  StepBatch kept, dropped;
  auto take = [&](StepBatch& src) {
    auto keep = groups_with_signal(src.rewards, g_);
    std::vector<bool> is_kept(src.prompts.size(), false);
    for (int64_t k : keep) is_kept[static_cast<size_t>(k)] = true;
    for (size_t i = 0; i < src.prompts.size(); ++i) {
      const bool room = static_cast<int64_t>(kept.prompts.size()) < local_prompts_;
      (is_kept[i] && room ? kept : dropped).take_group(src, i, g_);
    }
  };
  take(b);
  int64_t rounds = 0;
  while (rounds < o_.max_resample_rounds) {
    const double short_ranks = dist_.all_reduce_sum(std::vector<double>{
        static_cast<int64_t>(kept.prompts.size()) < local_prompts_ ? 1.0 : 0.0})[0];
    if (short_ranks == 0) break;
    ++rounds;
    StepBatch more = draw(step, t_rollout, t_reward);
    take(more);
  }
  int64_t filled = 0;
  for (size_t i = 0; static_cast<int64_t>(kept.prompts.size()) < local_prompts_ && i < dropped.prompts.size(); ++i) {
    kept.take_group(dropped, i, g_);
    ++filled;
  }
  kept.reward_metrics = b.reward_metrics;
  m["dynamic_sampling/rounds"] = static_cast<double>(rounds);
  m["dynamic_sampling/filled_groups"] = static_cast<double>(filled);
  return kept;
}

// Group-relative advantages of this rank's answers (batch scaling uses global moments).
std::vector<double> GrpoLoop::advantages(const StepBatch& b) {
  RewardMoments mom = reward_moments(b.rewards);
  auto s = dist_.all_reduce_sum(std::vector<double>{mom.sum, mom.sum_sq, mom.count});
  RewardMoments global{s[0], s[1], s[2]};
  return compute_advantages(b.rewards, g_, o_.scale_rewards, 1e-4, &global).values;
}

// Completion lengths and truncation of the answers learned from.
void GrpoLoop::add_step_metrics(const StepBatch& b, std::map<std::string, double>& m) {
  double len_sum = 0, len_max = 0, truncated = 0, n = 0;
  for (const auto& grp : b.groups) {
    for (const auto& c : grp.samples) {
      len_sum += static_cast<double>(c.tokens.size());
      len_max = std::max(len_max, static_cast<double>(c.tokens.size()));
      truncated += c.truncated() ? 1 : 0;
      n += 1;
    }
  }
  m["completions/mean_length"] = len_sum / n;
  m["completions/max_length"] = len_max;
  m["completions/clipped_ratio"] = truncated / n;
}

std::map<std::string, double> GrpoLoop::step(int64_t step) {
  auto t_step = Clock::now();
  double t_rollout = 0, t_reward = 0;
  StepBatch b = draw(step, t_rollout, t_reward);
  std::map<std::string, double> m = b.reward_metrics;
  // Raw reward statistics over everything generated this step (before any filtering).
  const RewardMoments mom = reward_moments(b.rewards);
  const int64_t zero_groups = static_cast<int64_t>(b.prompts.size()) -
                              static_cast<int64_t>(groups_with_signal(b.rewards, g_).size());
  if (o_.dynamic_sampling) b = refill_with_signal(std::move(b), step, t_rollout, t_reward, m);

  const std::vector<double> adv = advantages(b);
  const std::vector<Sample> local = samples_of(b.groups, adv);
  GRPO_CHECK(static_cast<int64_t>(local.size()) == local_prompts_ * g_, "completions ", local.size());
  auto t_learn = Clock::now();
  UpdateStats us = update_policy(*deps_.policy, deps_.ref, *opt_, dist_, local, uo_);
  const double learn_s = secs(t_learn);
  ++version_;
  deps_.rollout->publish(*deps_.policy, version_, dist_.is_main());
  dist_.barrier();

  // Metrics: this rank's, then reduced over ranks.
  for (auto& [k, v] : us.scalars) m[k] = v;
  add_step_metrics(b, m);
  m["zero_signal_groups"] = static_cast<double>(zero_groups);
  m["time/rollout_s"] = t_rollout;
  m["time/reward_s"] = t_reward;
  m["time/learn_s"] = learn_s;
  m["tokens"] = us.tokens;
  m["_reward_sum"] = mom.sum;
  m["_reward_sq"] = mom.sum_sq;
  m["_reward_n"] = mom.count;
  m = reduce_metrics(dist_, std::move(m),
                     {"zero_signal_groups", "tokens", "_reward_sum", "_reward_sq", "_reward_n",
                      "dynamic_sampling/filled_groups"});
  const RewardMoments gm{m["_reward_sum"], m["_reward_sq"], m["_reward_n"]};
  m["reward"] = gm.count > 0 ? gm.sum / gm.count : 0.0;
  m["reward_std"] = gm.std_unbiased();
  for (const char* k : {"_reward_sum", "_reward_sq", "_reward_n"}) m.erase(k);
  m["frac_reward_zero_std"] = m["zero_signal_groups"] / static_cast<double>(o_.prompts_per_step);
  if (m.count("rewards/accuracy/mean")) m["accuracy"] = m["rewards/accuracy/mean"];
  if (m.count("rewards/format/mean")) m["format_rate"] = m["rewards/format/mean"];
  const double step_s = secs(t_step);
  m["time/step_s"] = step_s;
  m["tokens_per_s"] = step_s > 0 ? m["tokens"] / step_s : 0.0;
  m["policy_version"] = static_cast<double>(version_);
  m["epoch"] = static_cast<double>(sampler_.epoch());
  return m;
}

void GrpoLoop::finish_step(int64_t done, std::map<std::string, double>& m, bool stopping,
                           TrainResult& res) {
  res.steps_done = done;
  if (deps_.eval_hook && o_.eval_steps > 0 && done % o_.eval_steps == 0) {
    auto ev = deps_.eval_hook(*deps_.policy, done);
    for (auto& [k, v] : ev) m["eval/" + k] = v;
  }
  if (dist_.is_main()) {
    if (deps_.metrics && (done % o_.run.logging_steps == 0 || done == o_.max_steps)) deps_.metrics->log(done, m);
    if (deps_.on_step) deps_.on_step(done, m);
    progress_->update(1, m["tokens"], str("reward ", m["reward"], " kl ", m.count("kl") ? m["kl"] : 0.0));
  }
  if ((o_.run.save_steps > 0 && done % o_.run.save_steps == 0) || done == o_.max_steps || stopping) {
    CheckpointState cs;
    cs.step = done;
    cs.trainer = {{"policy_version", version_}, {"epoch", sampler_.epoch()}};
    cs.rank = {{"data", sampler_.state()}};
    res.last_checkpoint = save_checkpoint(o_.run.output_dir, cs, *deps_.policy, opt_.get(), o_.run.config_yaml,
                                          o_.run.save_total_limit, dist_, deps_.checkpoint_files);
  }
}

}  // namespace

TrainResult train_grpo(const GrpoOptions& o, const TrainerDeps& deps, int64_t stop_after) {
  GRPO_ENSURE(deps.policy && deps.data && deps.rollout && deps.scorer && deps.dist,
              "train_grpo: policy, data, rollout, scorer and dist are required");
  validate_training(o, deps.dist->world_size());
  GRPO_ENSURE(o.update.loss.beta == 0.0 || deps.ref != nullptr, "trainer.beta=", o.update.loss.beta,
              " needs a reference model (beta = 0 runs without one)");
  GrpoLoop loop(o, deps);
  TrainResult res;
  loop.start(res);
  for (int64_t step = res.start_step; step < o.max_steps; ++step) {
    std::map<std::string, double> m = loop.step(step);
    const int64_t done = step + 1;
    const bool stopping = stop_after > 0 && done >= stop_after;
    loop.finish_step(done, m, stopping, res);
    if (stopping) break;
  }
  loop.end();
  return res;
}

}  // namespace grpo::learner
