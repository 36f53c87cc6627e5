// rewards/reward.cpp: the reward registry and RewardSet (parallel scoring with isolation).
//
// RewardSet runs one task per (reward, sample) (one per reward for batched rewards) on
// its own ThreadPool. The caller's thread waits on a condition variable and enforces the
// deadlines: a call that has run longer than its timeout_s, or that could not even start
// (every worker busy with abandoned calls) within a batch-wide cap, is abandoned: its
// sample gets the fallback score and whatever it returns later is discarded. Tasks hold
// the batch state through shared_ptr, so an abandoned call never touches freed memory.
#include "rewards/reward.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "rewards/builtin_registry.h"

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

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollInterval{5};

struct RewardSet::Shared {
  std::unique_ptr<ThreadPool> pool;
  std::shared_ptr<std::atomic<int64_t>> abandoned_running =
      std::make_shared<std::atomic<int64_t>>(0);
};

namespace {

// One task: reward r on samples [begin, end).
struct Call {
  size_t r = 0, begin = 0, end = 0;
  bool batched = false;
  // Guarded by BatchState::mu.
  enum { kQueued, kRunning, kDone } state = kQueued;
  Clock::time_point started;
  bool abandoned = false;
  std::vector<RewardResult> results;
  std::string error;  // set when the call threw
};

struct BatchState {
  std::vector<Sample> samples;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Call> calls;
  size_t done = 0;                  // calls in kDone (guarded by mu); the last one wakes the waiter
  Clock::time_point last_progress;  // latest call start or finish (guarded by mu)
};

void run_call(const std::shared_ptr<BatchState>& b, size_t c,
              const std::shared_ptr<const Reward>& reward, double timeout_s,
              const std::shared_ptr<std::atomic<int64_t>>& abandoned_running) {
  Call& call = b->calls[c];
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(b->mu);
    if (call.abandoned) return;  // gave up on it while it was queued
    call.state = Call::kRunning;
    call.started = Clock::now();
    b->last_progress = call.started;
  }
  std::vector<RewardResult> results;
  std::string error;
  try {
    std::span<const Sample> part(b->samples.data() + call.begin, call.end - call.begin);
    if (call.batched) {
      results = reward->score_batch(part, timeout_s);
      if (results.size() != part.size()) {
        error = grpo::str("score_batch returned ", results.size(), " results for ", part.size(),
                          " samples");
      }
    } else {
      results.push_back(reward->score(part[0]));
    }
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "exception without message";
  } catch (...) {
    error = "non-standard exception";
  }
  {
    std::lock_guard<std::mutex> lock(b->mu);
    call.results = std::move(results);
    call.error = std::move(error);
    call.state = Call::kDone;
    b->last_progress = Clock::now();
    if (call.abandoned) abandoned_running->fetch_sub(1);
    last = ++b->done == b->calls.size();
  }
  // Only the last call wakes the waiter; it polls for deadlines meanwhile (scanning every
  // call on each completion would cost O(calls^2) per batch).
  if (last) b->cv.notify_all();
}

double call_limit_s(const RewardSet::Component& comp, bool batched) {
  // A batched reward applies timeout_s to each of its requests, which run concurrently.
  return batched ? 2 * comp.timeout_s + 1 : comp.timeout_s;
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
  shared_->pool = std::make_unique<ThreadPool>(options.num_threads);
}

RewardSet::~RewardSet() {
  if (!shared_) return;
  if (shared_->abandoned_running->load() > 0) {
    log::warn(grpo::str("rewards: ", shared_->abandoned_running->load(),
                        " timed-out reward call(s) still running at shutdown; leaving them"));
    (void)shared_->pool.release();  // joining would wait for them forever
  }
}

BatchScores RewardSet::score(std::vector<Sample> batch) const {
  const size_t n = batch.size(), num_rewards = components_.size();
  BatchScores out;
  for (const auto& c : components_) {
    out.names.push_back(c.name);
    out.weights.push_back(c.weight);
  }
  out.total.assign(n, 0.0);
  out.components.assign(num_rewards, std::vector<double>(n, 0.0));
  out.details.assign(num_rewards, std::vector<Json>(n));
  out.failures.assign(num_rewards, FailureCounts{});
  out.data_error.assign(n, false);
  out.errors.assign(n, {});
  if (n == 0) return out;

  auto b = std::make_shared<BatchState>();
  b->samples = std::move(batch);
  for (size_t r = 0; r < num_rewards; ++r) {
    if (components_[r].reward->batched()) {
      Call c;
      c.r = r, c.begin = 0, c.end = n, c.batched = true;
      b->calls.push_back(std::move(c));
    } else {
      for (size_t i = 0; i < n; ++i) {
        Call c;
        c.r = r, c.begin = i, c.end = i + 1;
        b->calls.push_back(std::move(c));
      }
    }
  }
  // Calls that cannot start: every worker may be stuck in calls abandoned earlier. When
  // no call has started or finished for the longest call limit, the queued ones are
  // given up on too.
  double max_limit = 0;
  for (const auto& c : components_)
    max_limit = std::max(max_limit, call_limit_s(c, c.reward->batched()));
  const auto stall_limit =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_limit));
  b->last_progress = Clock::now();

  for (size_t c = 0; c < b->calls.size(); ++c) {
    const Component& comp = components_[b->calls[c].r];
    shared_->pool->submit(
        [b, c, reward = comp.reward, timeout = comp.timeout_s,
         counter = shared_->abandoned_running] { run_call(b, c, reward, timeout, counter); });
  }

  // Wait, enforcing deadlines. timed_out[c] marks calls given up on.
  std::vector<char> resolved(b->calls.size(), 0), timed_out(b->calls.size(), 0);
  size_t left = b->calls.size(), first = 0;
  {
    std::unique_lock<std::mutex> lock(b->mu);
    while (left > 0) {
      Clock::time_point now = Clock::now(), next = Clock::time_point::max();
      while (first < resolved.size() && resolved[first]) ++first;
      for (size_t c = first; c < b->calls.size(); ++c) {
        if (resolved[c]) continue;
        Call& call = b->calls[c];
        if (call.state == Call::kDone) {
          resolved[c] = 1, --left;
          continue;
        }
        Clock::time_point deadline = b->last_progress + stall_limit;
        if (call.state == Call::kRunning) {
          const Component& comp = components_[call.r];
          deadline =
              call.started + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(call_limit_s(comp, call.batched)));
        }
        if (now >= deadline) {
          call.abandoned = true;
          if (call.state == Call::kRunning) shared_->abandoned_running->fetch_add(1);
          resolved[c] = timed_out[c] = 1, --left;
        } else {
          next = std::min(next, deadline);
        }
      }
      if (left > 0) {
        // Wake at the next deadline, when every call is done, or at the poll interval
        // (which bounds how late a timeout or a call finishing after one is noticed).
        next = std::min(next, Clock::now() + kPollInterval);
        b->cv.wait_until(lock, next, [&] { return b->done == b->calls.size(); });
      }
    }
  }

  // Everything resolved; abandoned calls no longer write the fields read below except
  // `results`/`error` of calls marked timed_out, which are not read.
  auto fail = [&](size_t r, size_t i, const char* kind, int64_t FailureCounts::*counter,
                  const std::string& why) {
    const Component& comp = components_[r];
    out.components[r][i] = comp.fallback_score;
    ++(out.failures[r].*counter);
    const std::string_view said = kind == std::string_view("thrown")      ? "threw"
                                  : kind == std::string_view("timed_out") ? "timed out"
                                  : kind == std::string_view("nan")       ? "returned NaN"
                                                                          : "data error";
    out.errors[i].push_back(grpo::str(comp.name, ": ", said, ": ", why));
    const bool data = kind == std::string_view("data_errors");
    log::once(
        grpo::str("reward/", comp.name, "/", kind), log::Level::kWarn,
        grpo::str("reward '", comp.name, "' ", said, " (scored ", data ? 0.0 : comp.fallback_score,
                  "): ", why, "; later cases are only counted in rewards/", comp.name, "/", kind));
  };
  std::lock_guard<std::mutex> lock(b->mu);
  for (size_t c = 0; c < b->calls.size(); ++c) {
    const Call& call = b->calls[c];
    const Component& comp = components_[call.r];
    for (size_t i = call.begin; i < call.end; ++i) {
      if (timed_out[c]) {
        fail(call.r, i, "timed_out", &FailureCounts::timed_out,
             grpo::str("no result within ", call_limit_s(comp, call.batched), " s"));
        continue;
      }
      if (!call.error.empty()) {
        fail(call.r, i, "thrown", &FailureCounts::thrown, call.error);
        continue;
      }
      const RewardResult& res = call.results[i - call.begin];
      out.details[call.r][i] = res.details;
      switch (res.status) {
        case RewardResult::Status::kOk:
          if (!std::isfinite(res.score)) {
            fail(call.r, i, "nan", &FailureCounts::nan, grpo::str("returned ", res.score));
          } else {
            out.components[call.r][i] = res.score;
          }
          break;
        case RewardResult::Status::kThrown:
          fail(call.r, i, "thrown", &FailureCounts::thrown, res.message);
          break;
        case RewardResult::Status::kTimedOut:
          fail(call.r, i, "timed_out", &FailureCounts::timed_out, res.message);
          break;
        case RewardResult::Status::kDataError:
          fail(call.r, i, "data_errors", &FailureCounts::data_errors, res.message);
          out.components[call.r][i] = 0.0;  // never rewarded, whatever the fallback
          out.data_error[i] = true;
          break;
      }
    }
  }
  for (size_t r = 0; r < num_rewards; ++r) {
    for (size_t i = 0; i < n; ++i) out.total[i] += components_[r].weight * out.components[r][i];
  }
  return out;
}

}  // namespace grpo::rewards
