// rewards/reward.cpp: the reward registry and RewardSet (parallel scoring with isolation).
//
// RewardSet runs one call per (reward, sample) (one per reward for batched rewards) on a
// DeadlineRunner of that reward's own (rewards/deadline_runner.h): a call that runs past
// its timeout_s is abandoned by the runner's watchdog (its sample gets the fallback score,
// whatever it returns later is discarded) and its slot is taken by a fresh thread, so a
// slow or stuck reward neither holds the threads of the other rewards nor stretches the
// step beyond timeout_s * ceil(calls / slots). Calls hold the samples and their result
// slot through shared_ptr, so an abandoned call never touches freed memory.
#include "rewards/reward.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/error.h"
#include "core/log.h"
#include "rewards/builtin_registry.h"
#include "rewards/deadline_runner.h"

namespace grpo::rewards {

// ---------------------------------------------------------------------------------------
// Reward defaults.

std::vector<RewardResult> Reward::score_batch(std::span<const Sample> samples, double) const {
  std::vector<RewardResult> out;
  out.reserve(samples.size());
  for (const Sample& s : samples) {
    try {
      out.push_back(score(s));
    } catch (const std::exception& e) {
      RewardResult r;
      r.status = RewardResult::Status::kThrown;
      r.message = e.what();
      out.push_back(std::move(r));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Registry.

namespace {
struct Registry {
  std::mutex mu;
  std::map<std::string, RewardFactory> factories;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();  // never destroyed: registrars may run during static exit
    detail::AddReward add = [reg](const std::string& name, RewardFactory f) {
      reg->factories[name] = std::move(f);
    };
    detail::register_builtin_rewards(add);
    detail::register_plugin_reward(add);
    detail::register_remote_reward(add);
    detail::register_code_reward(add);
    return reg;
  }();
  return *r;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}
}  // namespace

void register_reward(const std::string& name, RewardFactory factory) {
  GRPO_ENSURE(!name.empty(), "register_reward: empty reward name");
  GRPO_ENSURE(factory, "register_reward: no factory for '", name, "'");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  GRPO_ENSURE(!r.factories.count(name), "register_reward: a reward named '", name,
              "' is already registered");
  r.factories.emplace(name, std::move(factory));
}

std::vector<std::string> reward_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [name, _] : r.factories) out.push_back(name);
  return out;
}

std::unique_ptr<Reward> make_reward(const std::string& name, const Json& args) {
  RewardFactory f;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) f = it->second;
  }
  GRPO_ENSURE(f, "unknown reward '", name, "' (registered: ", join(reward_names()), ")");
  std::unique_ptr<Reward> out = f(args.is_null() ? Json::object() : args);
  GRPO_ENSURE(out, "reward '", name, "': factory returned nothing");
  return out;
}

// ---------------------------------------------------------------------------------------
// Metrics.

std::map<std::string, double> BatchScores::metrics() const {
  auto mean_std = [](const std::vector<double>& v) {
    if (v.empty()) return std::pair<double, double>{0.0, 0.0};
    double m = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - m) * (x - m);
    return std::pair<double, double>{m, std::sqrt(var / static_cast<double>(v.size()))};
  };
  std::map<std::string, double> out;
  auto [m, s] = mean_std(total);
  out["reward"] = m;
  out["reward_std"] = s;
  for (size_t r = 0; r < names.size(); ++r) {
    const std::string p = "rewards/" + names[r] + "/";
    auto [cm, cs] = mean_std(components[r]);
    out[p + "mean"] = cm;
    out[p + "std"] = cs;
    out[p + "thrown"] = static_cast<double>(failures[r].thrown);
    out[p + "timed_out"] = static_cast<double>(failures[r].timed_out);
    out[p + "nan"] = static_cast<double>(failures[r].nan);
    out[p + "data_errors"] = static_cast<double>(failures[r].data_errors);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// RewardSet.

struct RewardSet::Shared {
  std::vector<std::unique_ptr<DeadlineRunner>> runners;  // [R]: one per component
};

namespace {

// One call: reward r on samples [begin, end) (all of them for a batched reward).
struct CallSpan {
  size_t r = 0, begin = 0, end = 0;
  bool batched = false;
};

// What a call produced; written by the call (maybe after it was abandoned), read only
// when the runner resolved it kDone.
struct CallResult {
  std::vector<RewardResult> results;
  std::string error;  // set when the call threw or returned the wrong number of results
};

using SampleList = std::shared_ptr<const std::vector<Sample>>;

void run_call(const SampleList& samples, const CallSpan& span, const Reward& reward,
              double timeout_s, CallResult& out) {
  try {
    std::span<const Sample> part(samples->data() + span.begin, span.end - span.begin);
    if (span.batched) {
      out.results = reward.score_batch(part, timeout_s);
      if (out.results.size() != part.size()) {
        out.error = grpo::str("score_batch returned ", out.results.size(), " results for ",
                              part.size(), " samples");
      }
    } else {
      out.results.push_back(reward.score(part[0]));
    }
  } catch (const std::exception& e) {
    out.error = e.what();
    if (out.error.empty()) out.error = "exception without message";
  } catch (...) {
    out.error = "non-standard exception";
  }
}

double call_limit_s(const RewardSet::Component& comp, bool batched) {
  // A batched reward applies timeout_s to each of its requests, which run concurrently.
  return batched ? 2 * comp.timeout_s + 1 : comp.timeout_s;
}

std::vector<CallSpan> plan_calls(const std::vector<RewardSet::Component>& comps, size_t n) {
  std::vector<CallSpan> spans;
  for (size_t r = 0; r < comps.size(); ++r) {
    if (comps[r].reward->batched()) {
      spans.push_back({r, 0, n, true});
    } else {
      for (size_t i = 0; i < n; ++i) spans.push_back({r, i, i + 1, false});
    }
  }
  return spans;
}

BatchScores empty_scores(const std::vector<RewardSet::Component>& comps, size_t n) {
  BatchScores out;
  for (const auto& c : comps) {
    out.names.push_back(c.name);
    out.weights.push_back(c.weight);
  }
  out.total.assign(n, 0.0);
  out.components.assign(comps.size(), std::vector<double>(n, 0.0));
  out.details.assign(comps.size(), std::vector<Json>(n));
  out.failures.assign(comps.size(), FailureCounts{});
  out.data_error.assign(n, false);
  out.errors.assign(n, {});
  return out;
}

enum class Failure { kThrown, kTimedOut, kNaN, kDataError };

// Gives sample i the fallback (0 for a data error), counts and logs the failure once.
void record_failure(BatchScores& out, const RewardSet::Component& comp, size_t r, size_t i,
                    Failure kind, const std::string& why) {
  static constexpr const char* kKind[] = {"thrown", "timed_out", "nan", "data_errors"};
  static constexpr const char* kSaid[] = {"threw", "timed out", "returned NaN", "data error"};
  static constexpr int64_t FailureCounts::*kCounter[] = {
      &FailureCounts::thrown, &FailureCounts::timed_out, &FailureCounts::nan,
      &FailureCounts::data_errors};
  const auto k = static_cast<size_t>(kind);
  const bool data = kind == Failure::kDataError;
  out.components[r][i] = data ? 0.0 : comp.fallback_score;  // data errors are never rewarded
  if (data) out.data_error[i] = true;
  ++(out.failures[r].*kCounter[k]);
  out.errors[i].push_back(grpo::str(comp.name, ": ", kSaid[k], ": ", why));
  log::once(grpo::str("reward/", comp.name, "/", kKind[k]), log::Level::kWarn,
            grpo::str("reward '", comp.name, "' ", kSaid[k], " (scored ", out.components[r][i],
                      "): ", why, "; later cases are only counted in rewards/", comp.name, "/",
                      kKind[k]));
}

// One sample's result from a call that returned.
void record_result(BatchScores& out, const RewardSet::Component& comp, size_t r, size_t i,
                   const RewardResult& res) {
  out.details[r][i] = res.details;
  switch (res.status) {
    case RewardResult::Status::kOk:
      if (std::isfinite(res.score)) {
        out.components[r][i] = res.score;
      } else {
        record_failure(out, comp, r, i, Failure::kNaN, grpo::str("returned ", res.score));
      }
      break;
    case RewardResult::Status::kThrown:
      record_failure(out, comp, r, i, Failure::kThrown, res.message);
      break;
    case RewardResult::Status::kTimedOut:
      record_failure(out, comp, r, i, Failure::kTimedOut, res.message);
      break;
    case RewardResult::Status::kDataError:
      record_failure(out, comp, r, i, Failure::kDataError, res.message);
      break;
  }
}

// Every sample of one call, by the runner's verdict on it.
void record_call(BatchScores& out, const RewardSet::Component& comp, const CallSpan& span,
                 DeadlineRunner::Outcome outcome, const CallResult& res) {
  for (size_t i = span.begin; i < span.end; ++i) {
    if (outcome == DeadlineRunner::Outcome::kTimedOut) {
      record_failure(out, comp, span.r, i, Failure::kTimedOut,
                     grpo::str("no result within ", call_limit_s(comp, span.batched), " s"));
    } else if (outcome == DeadlineRunner::Outcome::kNotStarted) {
      record_failure(out, comp, span.r, i, Failure::kTimedOut,
                     "not started: every slot of this reward is held by a call that never "
                     "returned");
    } else if (!res.error.empty()) {
      record_failure(out, comp, span.r, i, Failure::kThrown, res.error);
    } else {
      record_result(out, comp, span.r, i, res.results[i - span.begin]);
    }
  }
}

}  // namespace

RewardSet::RewardSet(const std::vector<cfg::RewardEntry>& entries, RewardSetOptions options) {
  GRPO_ENSURE(!entries.empty(), "rewards: the list is empty; name at least one reward");
  std::vector<Component> comps;
  for (size_t i = 0; i < entries.size(); ++i) {
    const cfg::RewardEntry& e = entries[i];
    Component c;
    try {
      c.reward = make_reward(e.name, e.args);
    } catch (const grpo::Error& err) {
      throw grpo::Error(grpo::str("rewards[", i, "] (", e.name, "): ", err.what()));
    }
    c.name = e.args.is_object() && e.args.contains("label") && e.args["label"].is_string()
                 ? e.args["label"].get<std::string>()
                 : e.name;
    c.weight = e.weight;
    c.timeout_s = e.timeout_s;
    c.fallback_score = e.fallback_score;
    comps.push_back(std::move(c));
  }
  init(std::move(comps), options);
}

RewardSet::RewardSet(std::vector<Component> components, RewardSetOptions options) {
  init(std::move(components), options);
}

void RewardSet::init(std::vector<Component> components, RewardSetOptions options) {
  GRPO_ENSURE(!components.empty(), "rewards: the list is empty; name at least one reward");
  std::map<std::string, int> seen;
  for (size_t i = 0; i < components.size(); ++i) {
    Component& c = components[i];
    GRPO_ENSURE(c.reward, "rewards[", i, "] (", c.name, "): no reward object");
    GRPO_ENSURE(std::isfinite(c.weight), "rewards[", i, "] (", c.name, "): weight must be finite");
    GRPO_ENSURE(std::isfinite(c.fallback_score), "rewards[", i, "] (", c.name,
                "): fallback_score must be finite");
    GRPO_ENSURE(c.timeout_s > 0 && std::isfinite(c.timeout_s), "rewards[", i, "] (", c.name,
                "): timeout_s must be > 0, got ", c.timeout_s);
    int n = ++seen[c.name];
    if (n > 1) c.name += "_" + std::to_string(n);
  }
  components_ = std::move(components);
  shared_ = std::make_shared<Shared>();
  for (const Component& c : components_) {
    DeadlineRunnerOptions o;
    o.slots = c.reward->slots() ? c.reward->slots() : options.num_threads;
    o.max_abandoned = options.max_abandoned;
    o.name = "reward '" + c.name + "'";
    shared_->runners.push_back(std::make_unique<DeadlineRunner>(o));
  }
}

RewardSet::~RewardSet() = default;

BatchScores RewardSet::score(std::vector<Sample> batch) const {
  const size_t n = batch.size();
  BatchScores out = empty_scores(components_, n);
  if (n == 0) return out;
  auto samples = std::make_shared<const std::vector<Sample>>(std::move(batch));
  const std::vector<CallSpan> spans = plan_calls(components_, n);
  std::vector<std::shared_ptr<CallResult>> results(spans.size());
  std::vector<std::vector<DeadlineRunner::Call>> calls(components_.size());
  for (size_t c = 0; c < spans.size(); ++c) {
    const Component& comp = components_[spans[c].r];
    results[c] = std::make_shared<CallResult>();
    calls[spans[c].r].push_back(
        {[samples, span = spans[c], reward = comp.reward, timeout = comp.timeout_s,
          res = results[c]] { run_call(samples, span, *reward, timeout, *res); },
         call_limit_s(comp, spans[c].batched)});
  }
  // Every reward's calls run at once, each on its own runner; deadlines are enforced by
  // the runners' watchdogs, so waiting on them in turn costs no extra time.
  std::vector<std::shared_ptr<DeadlineRunner::Batch>> tickets;
  for (size_t r = 0; r < components_.size(); ++r) {
    tickets.push_back(shared_->runners[r]->submit(std::move(calls[r])));
  }
  size_t c = 0;
  for (size_t r = 0; r < components_.size(); ++r) {
    for (DeadlineRunner::Outcome o : shared_->runners[r]->wait(tickets[r])) {
      record_call(out, components_[r], spans[c], o, *results[c]);
      ++c;
    }
  }
  for (size_t r = 0; r < components_.size(); ++r) {
    for (size_t i = 0; i < n; ++i) out.total[i] += components_[r].weight * out.components[r][i];
  }
  return out;
}

}  // namespace grpo::rewards
