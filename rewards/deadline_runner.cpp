// rewards/deadline_runner.cpp: slots as detached worker threads, a watchdog thread that
// abandons overrunning calls and replaces their slot, batches resolved under one mutex.
// The watchdog only scans the calls now running (at most `slots` of them), so a batch of
// many cheap calls costs one queue push and pop per call, no scan of the whole batch.
#include "rewards/deadline_runner.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace grpo::rewards {

using Clock = std::chrono::steady_clock;
using Outcome = DeadlineRunner::Outcome;
constexpr double kMaxLimitS = 1e7;  // ~4 months; keeps now + limit far from overflow

class DeadlineRunner::Batch {
 public:
  std::vector<Outcome> outcomes;
  size_t unresolved = 0;
  std::condition_variable cv;  // waits under Core::mu
};

namespace {
struct Job {
  std::function<void()> fn;
  Clock::duration limit{};
  std::shared_ptr<DeadlineRunner::Batch> batch;
  size_t index = 0;
  enum { kQueued, kRunning, kResolved } state = kQueued;
  Clock::time_point deadline;
  bool abandoned = false;  // resolved kTimedOut while running
  bool replaced = false;   // a new worker took its slot
};
}  // namespace

struct DeadlineRunner::Core {
  std::mutex mu;
  std::condition_variable work_cv;   // workers: a job was queued, or stop
  std::condition_variable watch_cv;  // watchdog: an earlier deadline, or stop
  std::condition_variable exit_cv;   // destructor: a worker or the watchdog exited
  std::deque<std::shared_ptr<Job>> queue;
  std::vector<std::shared_ptr<Job>> running;  // started, not returned, not abandoned
  size_t live = 0;                            // workers not held by an abandoned call
  size_t abandoned = 0;                       // abandoned calls still running
  size_t max_abandoned = 0;
  bool stop = false;
  bool watchdog_running = false;
  Clock::time_point watch_wake = Clock::time_point::max();
  std::string name;
};

namespace {
using Core = DeadlineRunner::Core;

void resolve(Job& job, Outcome outcome) {
  job.state = Job::kResolved;
  job.batch->outcomes[job.index] = outcome;
  if (--job.batch->unresolved == 0) job.batch->cv.notify_all();
}

// Jobs still queued are refused: no worker is left to run them. Caller holds c.mu.
void refuse_queued(Core& c) {
  for (auto& job : c.queue) {
    if (job->state == Job::kQueued) resolve(*job, Outcome::kNotStarted);
  }
  c.queue.clear();
}

void worker_loop(std::shared_ptr<Core> c);

// Starts one worker thread. Caller holds c->mu. False when the system refuses a thread.
bool spawn_worker(const std::shared_ptr<Core>& c) {
  try {
    std::thread(worker_loop, c).detach();
  } catch (const std::system_error&) {
    return false;
  }
  ++c->live;
  return true;
}

// Runs a job outside the lock; returns with the lock held again.
void run_job(Core& c, std::unique_lock<std::mutex>& lock, const std::shared_ptr<Job>& job) {
  job->state = Job::kRunning;
  job->deadline = Clock::now() + job->limit;
  c.running.push_back(job);
  if (job->deadline < c.watch_wake) c.watch_cv.notify_one();
  lock.unlock();
  try {
    job->fn();
  } catch (...) {  // the contract says fn does not throw; never let it end the thread
  }
  job->fn = nullptr;  // release its captures outside the lock
  lock.lock();
}

void worker_loop(std::shared_ptr<Core> c) {
  std::unique_lock<std::mutex> lock(c->mu);
  for (;;) {
    c->work_cv.wait(lock, [&] { return c->stop || !c->queue.empty(); });
    if (c->queue.empty()) break;  // stopping
    std::shared_ptr<Job> job = std::move(c->queue.front());
    c->queue.pop_front();
    if (job->state != Job::kQueued) continue;
    run_job(*c, lock, job);
    if (job->abandoned) {
      --c->abandoned;
      if (job->replaced) return;  // another worker holds this slot now
      ++c->live;                  // the slot was not replaced: serve again
      continue;
    }
    c->running.erase(std::find(c->running.begin(), c->running.end(), job));
    resolve(*job, Outcome::kDone);
  }
  --c->live;
  c->exit_cv.notify_all();
}

// Abandons a running job whose deadline passed and frees its slot. Caller holds c->mu.
void abandon(const std::shared_ptr<Core>& c, Job& job) {
  job.abandoned = true;
  resolve(job, Outcome::kTimedOut);
  ++c->abandoned;
  --c->live;
  if (c->abandoned <= c->max_abandoned && !c->stop) job.replaced = spawn_worker(c);
  if (!job.replaced) {
    log::warn(grpo::str(c->name, ": ", c->abandoned,
                        " timed-out call(s) still running; their slots are not replaced"));
  }
  if (c->live == 0) refuse_queued(*c);
}

void watchdog_loop(std::shared_ptr<Core> c) {
  std::unique_lock<std::mutex> lock(c->mu);
  while (!c->stop || !c->running.empty()) {
    Clock::time_point now = Clock::now(), next = Clock::time_point::max();
    for (size_t i = 0; i < c->running.size();) {
      std::shared_ptr<Job> job = c->running[i];
      if (now >= job->deadline) {
        c->running[i] = c->running.back();
        c->running.pop_back();
        abandon(c, *job);
      } else {
        next = std::min(next, job->deadline);
        ++i;
      }
    }
    c->watch_wake = next;
    if (next == Clock::time_point::max()) {
      c->watch_cv.wait(lock);
    } else {
      c->watch_cv.wait_until(lock, next);
    }
  }
  c->watchdog_running = false;
  c->exit_cv.notify_all();
}

}  // namespace

DeadlineRunner::DeadlineRunner(DeadlineRunnerOptions options) : core_(std::make_shared<Core>()) {
  slots_ = options.slots ? options.slots : std::max<size_t>(4, std::thread::hardware_concurrency());
  core_->max_abandoned = options.max_abandoned;
  core_->name = options.name;
  std::lock_guard<std::mutex> lock(core_->mu);
  for (size_t i = 0; i < slots_; ++i) {
    GRPO_ENSURE(spawn_worker(core_), options.name, ": cannot start worker thread ", i);
  }
  std::thread(watchdog_loop, core_).detach();
  core_->watchdog_running = true;
}

DeadlineRunner::~DeadlineRunner() {
  std::unique_lock<std::mutex> lock(core_->mu);
  core_->stop = true;
  core_->work_cv.notify_all();
  core_->watch_cv.notify_all();
  core_->exit_cv.wait(lock, [&] { return core_->live == 0 && !core_->watchdog_running; });
}

std::shared_ptr<DeadlineRunner::Batch> DeadlineRunner::submit(std::vector<Call> calls) {
  auto batch = std::make_shared<Batch>();
  batch->outcomes.assign(calls.size(), Outcome::kNotStarted);
  std::lock_guard<std::mutex> lock(core_->mu);
  if (core_->live == 0) return batch;  // every slot is held by an abandoned call
  batch->unresolved = calls.size();
  for (size_t i = 0; i < calls.size(); ++i) {
    auto job = std::make_shared<Job>();
    job->fn = std::move(calls[i].fn);
    job->limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
        calls[i].limit_s > 0 ? std::min(calls[i].limit_s, kMaxLimitS) : 0.0));
    job->batch = batch;
    job->index = i;
    core_->queue.push_back(std::move(job));
  }
  core_->work_cv.notify_all();
  return batch;
}

std::vector<Outcome> DeadlineRunner::wait(const std::shared_ptr<Batch>& batch) {
  std::unique_lock<std::mutex> lock(core_->mu);
  batch->cv.wait(lock, [&] { return batch->unresolved == 0; });
  return batch->outcomes;
}

size_t DeadlineRunner::abandoned_running() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->abandoned;
}

}  // namespace grpo::rewards
