// tests/core/tb_write_example.cpp: writes a known TensorBoard event file for
// tensorboard_check.py (TensorBoard's own Python reader) to compare against.
#include <cstdio>

#include "core/metrics.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tb_write_example DIR\n");
    return 2;
  }
  auto sink = grpo::make_tensorboard_sink(argv[1]);
  for (int step = 1; step <= 5; ++step)
    sink->write(step, {{"reward/mean", 0.1 * step}, {"loss", 1.0 / step}});
  return 0;
}
