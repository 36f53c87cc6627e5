// learner/distributed.cpp: the c10d process group behind learner::Distributed.
// Rendezvous through a TCPStore on MASTER_ADDR:MASTER_PORT (rank 0 hosts it); collectives
// through ProcessGroupGloo for CPU tensors and, when the build has NCCL (GRPO_HAVE_NCCL: a
// CUDA LibTorch and nccl.h) and the job runs on CUDA, through ProcessGroupNCCL for CUDA
// tensors, which then never leave the GPU. Both groups share the store (different
// prefixes), as torch's "cpu:gloo,cuda:nccl" default does. Without NCCL, CUDA tensors are
// staged through CPU copies (one per bucket) so the same Gloo group still serves GPU ranks.
#include "learner/distributed.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/error.h"

#ifdef GRPO_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef GRPO_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace grpo::learner {
namespace {

const char* env_or(const char* a, const char* b) {
  const char* v = std::getenv(a);
  if (v == nullptr && b != nullptr) v = std::getenv(b);
  return v;
}

int parse_int(const char* name, const char* v, int lo, int hi) {
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  GRPO_ENSURE(end != v && *end == '\0' && x >= lo && x <= hi, "environment variable ", name, "='",
              v, "' is not an integer in [", lo, ", ", hi, "]");
  return static_cast<int>(x);
}

}  // namespace

DistEnv DistEnv::from_env() {
  DistEnv e;
  if (const char* v = env_or("WORLD_SIZE", "SLURM_NTASKS")) e.world_size = parse_int("WORLD_SIZE", v, 1, 1 << 20);
  if (const char* v = env_or("RANK", "SLURM_PROCID")) e.rank = parse_int("RANK", v, 0, 1 << 20);
  if (const char* v = env_or("LOCAL_RANK", "SLURM_LOCALID")) e.local_rank = parse_int("LOCAL_RANK", v, 0, 1 << 20);
  if (const char* v = std::getenv("MASTER_ADDR")) e.master_addr = v;
  if (const char* v = std::getenv("MASTER_PORT")) e.master_port = parse_int("MASTER_PORT", v, 1, 65535);
  GRPO_ENSURE(e.rank < e.world_size, "RANK=", e.rank, " is not below WORLD_SIZE=", e.world_size);
  return e;
}

struct Distributed::Impl {
  DistEnv env;
  std::string backend = "none";
#ifdef GRPO_HAVE_GLOO
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
#ifdef GRPO_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;  // set when the job runs on CUDA
#endif
  // The group that reduces `t` in place: NCCL for a CUDA tensor when present, else Gloo.
  c10d::Backend* group_for(const at::Tensor& t) {
#ifdef GRPO_HAVE_NCCL
    if (nccl && t.is_cuda()) return nccl.get();
#endif
    (void)t;
    return pg.get();
  }
  bool native(const at::Tensor& t) {  // reduced where it lies (no CPU staging)
    return t.is_contiguous() && (t.is_cpu() || group_for(t) != pg.get());
  }
  void wait(const char* op, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw Error(str("distributed ", op, " failed on rank ", env.rank, " of ", env.world_size,
                      ": ", e.what()));
    }
  }
#endif
};

Distributed::Distributed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Distributed::~Distributed() = default;

std::unique_ptr<Distributed> Distributed::single() {
  return std::unique_ptr<Distributed>(new Distributed(std::make_unique<Impl>()));
}

std::unique_ptr<Distributed> Distributed::create(const DistEnv& env, const std::string& device,
                                                 double timeout_s) {
  auto impl = std::make_unique<Impl>();
  impl->env = env;
  if (env.world_size == 1) return std::unique_ptr<Distributed>(new Distributed(std::move(impl)));
#ifdef GRPO_HAVE_GLOO
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = env.world_size;
    so.waitWorkers = true;
    so.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Loopback for a single host, the hostname's interface otherwise.
    if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("grpo_learner", impl->store);
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world_size, opts);
#ifdef GRPO_HAVE_NCCL
    if (device.rfind("cuda", 0) == 0) {
      // One GPU per rank: LOCAL_RANK picks it (callers put the model on cuda:LOCAL_RANK).
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank));
      auto nopts = c10d::ProcessGroupNCCL::Options::create();
      nopts->timeout = timeout;
      auto nstore = c10::make_intrusive<c10d::PrefixStore>("grpo_learner_nccl", impl->store);
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(nstore, env.rank, env.world_size, nopts);
      impl->backend = "nccl";
    }
#endif
  } catch (const std::exception& e) {
    throw Error(str("could not join the learner group as rank ", env.rank, " of ", env.world_size,
                    " at ", env.master_addr, ":", env.master_port, ": ", e.what()));
  }
  if (impl->backend == "none") impl->backend = "gloo";
  (void)device;
  return std::unique_ptr<Distributed>(new Distributed(std::move(impl)));
#else
  throw Error(str("WORLD_SIZE=", env.world_size,
                  " needs the c10d Gloo backend, but this build has no gloo headers "
                  "(apt-get install libgloo-dev and rebuild)"));
#endif
}

int Distributed::rank() const { return impl_->env.rank; }
int Distributed::world_size() const { return impl_->env.world_size; }
int Distributed::local_rank() const { return impl_->env.local_rank; }
std::string Distributed::backend() const { return impl_->backend; }

void Distributed::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  if (world_size() == 1 || tensors.empty()) return;
#ifdef GRPO_HAVE_GLOO
  for (auto& t : tensors) {
    // Gloo reduces CPU tensors; without NCCL, CUDA tensors go through a CPU copy.
    at::Tensor buf = impl_->native(t) ? t : t.to(at::kCPU).contiguous();
    std::vector<at::Tensor> one{buf};
    impl_->wait("all_reduce", impl_->group_for(buf)->allreduce(one));
    if (!buf.is_same(t)) t.copy_(buf);
  }
#endif
}

std::vector<double> Distributed::all_reduce_sum(const std::vector<double>& values) {
  if (world_size() == 1 || values.empty()) return values;
  at::Tensor t = at::empty({static_cast<int64_t>(values.size())}, at::kDouble);
  for (size_t i = 0; i < values.size(); ++i) t.data_ptr<double>()[i] = values[i];
  std::vector<at::Tensor> v{t};
  all_reduce_sum(v);
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = t.data_ptr<double>()[i];
  return out;
}

void Distributed::all_reduce_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  if (world_size() == 1) return;
  // Buckets of same-dtype gradients, in parameter order (the same on every rank).
  size_t i = 0;
  while (i < params.size()) {
    std::vector<size_t> idx;
    int64_t bytes = 0;
    auto dtype = params[i].scalar_type();
    while (i < params.size() && params[i].scalar_type() == dtype &&
           (idx.empty() || bytes + params[i].numel() * params[i].element_size() <= bucket_bytes)) {
      bytes += params[i].numel() * params[i].element_size();
      idx.push_back(i++);
    }
    // The bucket lives where the group reduces it: on the GPU with NCCL, else on the CPU.
    const at::Device where = backend() == "nccl" ? params[idx[0]].device() : at::Device(at::kCPU);
    std::vector<at::Tensor> flat;
    flat.reserve(idx.size());
    for (size_t k : idx) {
      const at::Tensor& g = params[k].grad();
      flat.push_back(g.defined() ? g.reshape({-1}).to(where)
                                 : at::zeros({params[k].numel()}, params[k].options().device(where)));
    }
    std::vector<at::Tensor> bucket{at::cat(flat)};
    all_reduce_sum(bucket);
    bucket[0].div_(static_cast<double>(world_size()));
    int64_t off = 0;
    for (size_t k : idx) {
      const at::Tensor& p = params[k];
      at::Tensor part = bucket[0].narrow(0, off, p.numel()).view(p.sizes());
      off += p.numel();
      at::Tensor g = p.grad();
      if (!g.defined()) {
        p.mutable_grad() = part.to(p.device()).clone();
      } else {
        g.copy_(part);
      }
    }
  }
}

void Distributed::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (world_size() == 1 || tensors.empty()) return;
#ifdef GRPO_HAVE_GLOO
  for (auto& t : tensors) {
    at::Tensor buf = impl_->native(t) ? t : t.to(at::kCPU).contiguous();
    std::vector<at::Tensor> one{buf};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->wait("broadcast", impl_->group_for(buf)->broadcast(one, o));
    if (!buf.is_same(t)) t.copy_(buf);
  }
#endif
}

std::vector<int64_t> Distributed::all_gather(int64_t v) {
  std::vector<int64_t> out(static_cast<size_t>(world_size()), 0);
  if (world_size() == 1) {
    out[0] = v;
    return out;
  }
  at::Tensor t = at::zeros({world_size()}, at::kLong);
  t.data_ptr<int64_t>()[rank()] = v;
  std::vector<at::Tensor> one{t};
  all_reduce_sum(one);
  for (int r = 0; r < world_size(); ++r) out[static_cast<size_t>(r)] = t.data_ptr<int64_t>()[r];
  return out;
}

void Distributed::barrier() {
  if (world_size() == 1) return;
#ifdef GRPO_HAVE_GLOO
  impl_->wait("barrier", impl_->pg->barrier());
#endif
}

}  // namespace grpo::learner
