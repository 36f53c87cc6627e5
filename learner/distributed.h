// learner/distributed.h: data-parallel collectives for the learner ranks, on LibTorch's
// c10d (TCPStore rendezvous; Gloo for CPU tensors, NCCL for CUDA tensors when built in).
// Design: one small object wraps the process group so the rest of the learner (and the
// SFT trainer) calls all_reduce_gradients()/broadcast()/barrier() and never sees c10d.
// With world_size 1 no process group exists and every collective is a no-op, so single-
// process code paths are the same code.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace grpo::learner {

// Launch settings read from the variables torchrun and Slurm set.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (falling back to
  // SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). Missing variables mean a single process.
  // Throws grpo::Error naming the variable when one is malformed or out of range.
  static DistEnv from_env();
};

// Not thread-safe: call collectives from one thread, in the same order on every rank.
// Every collective throws grpo::Error (naming the rank and the operation) when a peer is
// lost or the timeout passes.
class Distributed {
 public:
  // Joins the group described by `env`. `device` is "cpu" or "cuda": the backend used for
  // the tensors the learner will reduce (Gloo for cpu; NCCL for cuda when compiled in,
  // otherwise Gloo). Blocks until all ranks arrive or `timeout_s` passes.
  static std::unique_ptr<Distributed> create(const DistEnv& env, const std::string& device = "cpu",
                                             double timeout_s = 300.0);
  // A single-process group (no communication).
  static std::unique_ptr<Distributed> single();
  ~Distributed();

  int rank() const;
  int world_size() const;
  int local_rank() const;
  bool is_main() const { return rank() == 0; }
  // Name of the backend in use: "none", "gloo" or "nccl".
  std::string backend() const;

  // In-place sum over ranks of each tensor (any dtype the backend supports).
  void all_reduce_sum(std::vector<at::Tensor>& tensors);
  // Sum over ranks of a few scalars (float64), returned in the same order.
  std::vector<double> all_reduce_sum(const std::vector<double>& values);
  // Averages the gradients of `params` over ranks: grads are flattened into buckets of at
  // most `bucket_bytes`, all-reduced, divided by world_size and copied back. A parameter
  // without a gradient takes part as zeros (and gets a zero gradient), so every rank
  // reduces the same layout.
  void all_reduce_gradients(const std::vector<at::Tensor>& params,
                            int64_t bucket_bytes = 32ll << 20);
  // Copies `root`'s tensors into every rank's tensors (same shapes and dtypes).
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  // Every rank's value of `v`, in rank order.
  std::vector<int64_t> all_gather(int64_t v);
  // Waits until every rank arrives.
  void barrier();

 private:
  struct Impl;
  explicit Distributed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpo::learner
