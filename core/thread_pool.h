// core/thread_pool.h: a fixed-size pool of worker threads with a FIFO queue, used for
// reward scoring and data preparation. Tasks return futures; exceptions travel in them.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <type_traits>
#include <vector>

namespace grpo {

class ThreadPool {
 public:
  // Starts `num_threads` workers (0 means std::thread::hardware_concurrency()).
  explicit ThreadPool(size_t num_threads = 0);
  // Finishes every queued task, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Queues f(); the future carries its result or exception. Thread-safe.
  template <class F>
  auto submit(F&& f) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    std::future<R> fut = task->get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace([task] { (*task)(); });
    }
    cv_.notify_one();
    return fut;
  }

  // Runs body(i) for i in [0, n) on the pool and waits; rethrows the first exception.
  void parallel_for(size_t n, const std::function<void(size_t)>& body);

 private:
  void loop();
  std::vector<std::thread> workers_;
  std::queue<std::function<void()>> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace grpo
