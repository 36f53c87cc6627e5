// rewards/deadline_runner.h: runs calls that may overrun or never return, each with a time
// limit, on a fixed number of slots; collects what finished in time and abandons the rest.
//
// Shared by RewardSet (one runner per reward, so a stuck reward never holds the threads of
// another) and by the code sandbox (a runner whose slots are the programs run at once).
//
// Design: every slot is a detached worker thread; a watchdog thread abandons a call that
// has run past its limit, resolves it as kTimedOut at once and starts a replacement
// worker, so an abandoned call never holds a slot. The abandoned thread keeps running its
// call (C++ cannot kill a thread) and exits when the call returns. Abandoned threads are
// counted; past `max_abandoned` no replacement is started, and when no slot is left the
// queued calls are refused at once (kNotStarted) instead of waiting for ever. Hence the
// wall time of a batch of N calls of limit L is at most about L * ceil(N / slots) (plus
// the watchdog's reaction, ~1 ms), whatever the calls do.
//
// Calls must own (through shared_ptr captures) everything they touch: an abandoned call
// keeps running after wait() has returned and after the runner is destroyed.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace grpo::rewards {

struct DeadlineRunnerOptions {
  size_t slots = 0;             // calls running at once; 0 = hardware concurrency, at least 4
  size_t max_abandoned = 64;    // abandoned calls still running beyond which slots are not replaced
  std::string name = "runner";  // for logs
};

class DeadlineRunner {
 public:
  enum class Outcome {
    kDone,        // the call returned within its limit
    kTimedOut,    // it ran past its limit and was abandoned (it may still be running)
    kNotStarted,  // refused: every slot is held by an abandoned call
  };
  struct Call {
    std::function<void()> fn;  // must not throw (an exception is swallowed, outcome kDone)
    double limit_s = 10.0;     // counted from the call's start, not from submission
  };
  class Batch;  // calls submitted together; opaque

  // Starts the slots and the watchdog. Throws std::system_error when no thread can start.
  explicit DeadlineRunner(DeadlineRunnerOptions options = {});
  // Stops the idle workers and the watchdog (waits for calls not abandoned: none are
  // running unless wait() is running too). Abandoned calls are left to finish on their own.
  ~DeadlineRunner();
  DeadlineRunner(const DeadlineRunner&) = delete;
  DeadlineRunner& operator=(const DeadlineRunner&) = delete;

  // Queues the calls (FIFO, after calls queued earlier) and returns at once. Thread-safe.
  std::shared_ptr<Batch> submit(std::vector<Call> calls);
  // Blocks until every call of `batch` is resolved; returns one outcome per call, in
  // order. A call resolved kDone has returned and will not run again: what it wrote can
  // be read. Thread-safe; call once per batch.
  std::vector<Outcome> wait(const std::shared_ptr<Batch>& batch);
  // submit + wait.
  std::vector<Outcome> run(std::vector<Call> calls) { return wait(submit(std::move(calls))); }

  size_t slots() const { return slots_; }
  // Calls abandoned after their limit that have not returned yet.
  size_t abandoned_running() const;

  struct Core;  // shared with the worker threads; defined in the .cpp

 private:
  size_t slots_;
  std::shared_ptr<Core> core_;
};

}  // namespace grpo::rewards
