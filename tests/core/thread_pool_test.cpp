// tests/core/thread_pool_test.cpp
#include <gtest/gtest.h>

#include <atomic>

#include "core/thread_pool.h"

namespace grpo {
namespace {

TEST(ThreadPool, RunsEveryTaskAndCarriesExceptions) {
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  pool.parallel_for(100, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 4950);
  auto f = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(f.get(), std::runtime_error);
  EXPECT_EQ(pool.submit([] { return 7; }).get(), 7);
}

}  // namespace
}  // namespace grpo
