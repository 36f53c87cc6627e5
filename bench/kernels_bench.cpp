// bench/kernels_bench.cpp: speed of the fused kernels against the hardware's own limits
// and against the unfused LibTorch sequence each replaces, measured in the same run.
// First the card's ceilings: device-to-device copy bandwidth (GB/s, read + write) and the
// bf16 matmul rate of LibTorch's cuBLAS (TFLOP/s). Then per kernel: median time over
// repetitions (CUDA events), achieved GB/s (bytes the kernel must move at least) or
// TFLOP/s, the fraction of the ceiling, the unfused time and the speed-up. Prints a
// Markdown table (bench/RESULTS.md format). Without a GPU it says so, measures the
// token_logprobs peak-memory ratio on the CPU (chunked vs naive), times the fused CPU loops
// against the references at decode shapes, and exits 0.
// Usage: kernels_bench [--quick]
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <malloc.h>
#include <sys/wait.h>
#include <torch/csrc/autograd/autograd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu_ops.h"
#include "kernels/ops.h"
#include "kernels/reference.h"
#include <ATen/Parallel.h>
#include <chrono>
#ifdef GRPO_CUDA
#include <c10/cuda/CUDACachingAllocator.h>

#include "kernels/cuda_ops.h"
#include <cuda_runtime_api.h>
#endif

namespace gk = grpo::kernels;

namespace {
// ------------------------------------------------------------------ CPU peak memory
// Peak resident set (VmHWM, KiB) of this process; reset with /proc/self/clear_refs "5".
int64_t vm_hwm_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}
int64_t vm_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Runs fn in a child process after the inputs exist; returns the extra peak RSS in MiB
// (peak during fn minus RSS before it), or -1 when the kernel gives no per-process peak.
double child_peak_mib(const std::function<void()>& setup, const std::function<void()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    // Blocks >= 1 MiB always come from mmap and go back on free, so RSS tracks live
    // tensors (glibc's dynamic threshold would otherwise keep freed chunks resident).
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    setup();
    std::ofstream("/proc/self/clear_refs") << "5";
    const int64_t before = vm_rss_kib();
    fn();
    const double mib = (vm_hwm_kib() - before) / 1024.0;
    if (write(fds[1], &mib, sizeof mib) != sizeof mib) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  double mib = -1;
  if (read(fds[0], &mib, sizeof mib) != sizeof mib) mib = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return mib;
}

void cpu_logprob_memory(bool quick) {
  // A realistic vocabulary (DeepSeek-V3: 129280), hidden and tokens scaled to this machine.
  const int64_t n = quick ? 512 : 1024, h = 64, v = 129280, chunk = quick ? 32 : 64;
  at::Tensor hidden, weight, targets;
  auto setup = [&] {
    auto g = at::detail::createCPUGenerator(7);
    {  // warm-up: library buffers and thread pools first touched here, not in the measure
      at::Tensor h0 = at::randn({64, h}, g).requires_grad_(true);
      at::Tensor w0 = at::randn({4096, h}, g).requires_grad_(true);
      at::Tensor t0 = at::randint(0, 4096, {64}, g, at::TensorOptions().dtype(at::kLong));
      auto [lp, ent] = gk::token_logprobs(h0, w0, t0, 1.0, 16, true);
      at::Tensor logp = at::log_softmax(at::mm(h0, w0.t()), -1);
      torch::autograd::grad({lp.sum().add(ent.sum()).add(logp.sum())}, {h0, w0});
    }
    hidden = at::randn({n, h}, g).requires_grad_(true);
    weight = at::randn({v, h}, g).mul(0.05).requires_grad_(true);
    targets = at::randint(0, v, {n}, g, at::TensorOptions().dtype(at::kLong));
  };
  auto chunked = [&] {
    auto [lp, ent] = gk::token_logprobs(hidden, weight, targets, 1.0, chunk, true);
    torch::autograd::grad({lp.sum().add(ent.sum())}, {hidden, weight});
  };
  auto naive = [&] {
    at::Tensor logp = at::log_softmax(at::mm(hidden, weight.t()), -1);
    at::Tensor lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
    at::Tensor ent = logp.exp().mul(logp).sum(-1).neg();
    torch::autograd::grad({lp.sum().add(ent.sum())}, {hidden, weight});
  };
  const double m_chunk = child_peak_mib(setup, chunked), m_naive = child_peak_mib(setup, naive);
  const double logits_mib = double(n) * v * 4 / (1 << 20);
  std::printf("\n## token_logprobs peak memory on the CPU (fwd + bwd, fp32)\n\n");
  std::printf("N=%lld tokens, H=%lld, V=%lld, chunk=%lld; one [N, V] fp32 logits = %.0f MiB\n\n",
              (long long)n, (long long)h, (long long)v, (long long)chunk, logits_mib);
  std::printf("| path | extra peak RSS (MiB) |\n|---|---|\n");
  std::printf("| chunked token_logprobs | %.0f |\n| naive log_softmax + autograd | %.0f |\n", m_chunk,
              m_naive);
  std::printf("\nratio chunked / naive = %.3f (goal <= 0.1)\n", m_chunk / m_naive);
  // Analytic figure for the shape (16k tokens, 128k vocabulary, chunk 1024,
  // bf16 model): naive keeps fp32 logits, log-probs and their gradient alive at once.
  const double N = 16384, V = 129280, C = 1024;
  const double naive_b = 3 * N * V * 4, chunk_b = C * V * (2 + 4 * 3);
  std::printf("analytic at N=16384, V=129280, chunk=1024: naive >= %.1f GiB, chunked ~ %.2f GiB "
              "(ratio %.3f)\n", naive_b / (1 << 30), chunk_b / (1 << 30), chunk_b / naive_b);
}

#ifdef GRPO_CUDA
// ------------------------------------------------------------------ GPU timing
struct Timer {
  cudaEvent_t a, b;
  Timer() { cudaEventCreate(&a); cudaEventCreate(&b); }
  ~Timer() { cudaEventDestroy(a); cudaEventDestroy(b); }
};

// Median milliseconds of fn over `reps` runs after `warm` warm-ups.
double time_ms(const std::function<void()>& fn, int reps = 20, int warm = 3) {
  for (int i = 0; i < warm; ++i) fn();
  cudaDeviceSynchronize();
  Timer t;
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(t.a);
    fn();
    cudaEventRecord(t.b);
    cudaEventSynchronize(t.b);
    float x = 0;
    cudaEventElapsedTime(&x, t.a, t.b);
    ms.push_back(x);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

at::TensorOptions cu(at::ScalarType t) { return at::TensorOptions().dtype(t).device(at::kCUDA); }
at::Tensor rnd(at::IntArrayRef s, at::ScalarType t, double scale = 1.0) {
  return at::randn(s, cu(at::kFloat)).mul(scale).to(t);
}

struct Ceil {
  double gbps = 0, tflops = 0;
};

void row_bw(const char* name, double ms, double bytes, double unfused_ms, const Ceil& c) {
  const double gbps = bytes / ms / 1e6;
  std::printf("| %s | %.3f | %.0f GB/s | %.0f%% of copy | %.3f | %.2fx |\n", name, ms, gbps,
              100 * gbps / c.gbps, unfused_ms, unfused_ms / ms);
}
void row_flops(const char* name, double ms, double flops, double unfused_ms, const Ceil& c) {
  const double tf = flops / ms / 1e9;
  std::printf("| %s | %.3f | %.0f TFLOP/s | %.0f%% of matmul | %.3f | %.2fx |\n", name, ms, tf,
              100 * tf / c.tflops, unfused_ms, unfused_ms / ms);
}

int64_t peak_bytes_during(const std::function<void()>& fn) {
  const int dev = 0;
  cudaDeviceSynchronize();
  c10::cuda::CUDACachingAllocator::resetPeakStats(dev);
  const int64_t base = c10::cuda::CUDACachingAllocator::getDeviceStats(dev)
                           .allocated_bytes[0].current;
  fn();
  cudaDeviceSynchronize();
  return c10::cuda::CUDACachingAllocator::getDeviceStats(dev).allocated_bytes[0].peak - base;
}

void gpu_bench(bool quick) {
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("# grpo kernels benchmark\n\nGPU: %s (%d SMs)\n\n", prop.name,
              prop.multiProcessorCount);
  Ceil c;
  {  // copy bandwidth: 1 GiB device-to-device, read + write
    const int64_t bytes = int64_t{1} << 30;
    at::Tensor a = at::empty({bytes}, cu(at::kByte)), b = at::empty({bytes}, cu(at::kByte));
    const double ms = time_ms([&] { b.copy_(a); });
    c.gbps = 2.0 * bytes / ms / 1e6;
  }
  {  // bf16 matmul rate
    const int64_t m = 8192;
    at::Tensor a = rnd({m, m}, at::kBFloat16), b = rnd({m, m}, at::kBFloat16);
    const double ms = time_ms([&] { at::mm(a, b); });
    c.tflops = 2.0 * m * m * m / ms / 1e9;
  }
  std::printf("Ceilings measured now: copy %.0f GB/s (read+write), bf16 matmul %.0f TFLOP/s\n\n",
              c.gbps, c.tflops);
  std::printf("| kernel (shape) | ms | achieved | of ceiling | unfused ms | speed-up |\n");
  std::printf("|---|---|---|---|---|---|\n");
  const int64_t tokens = quick ? 4096 : 16384, hid = 7168;
  {  // add_rms_norm forward
    at::Tensor x = rnd({tokens, hid}, at::kBFloat16), r = rnd({tokens, hid}, at::kBFloat16);
    at::Tensor w = rnd({hid}, at::kBFloat16);
    const double ms = time_ms([&] { gk::add_rms_norm(x, r, w, 1e-6); });
    const double un = time_ms([&] { gk::ref::add_rms_norm(x, r, w, 1e-6); });
    row_bw("add_rms_norm fwd (16k x 7168 bf16)", ms, 4.0 * tokens * hid * 2, un, c);
    at::Tensor xg = x.clone().requires_grad_(true), rg = r.clone().requires_grad_(true);
    at::Tensor wg = w.clone().requires_grad_(true), up = rnd({tokens, hid}, at::kBFloat16);
    auto fb = [&](bool fused) {
      auto [y, s] = fused ? gk::add_rms_norm(xg, rg, wg, 1e-6) : gk::ref::add_rms_norm(xg, rg, wg, 1e-6);
      torch::autograd::grad({y.mul(up).sum()}, {xg, rg, wg});
    };
    const double ms2 = time_ms([&] { fb(true); }), un2 = time_ms([&] { fb(false); });
    row_bw("add_rms_norm fwd+bwd (incl. loss)", ms2, 9.0 * tokens * hid * 2, un2, c);
  }
  {  // MoE gate, DeepSeek-V3 routing
    gk::MoeGateOptions o;
    o.top_k = 8; o.n_group = 8; o.topk_group = 4; o.routed_scaling_factor = 2.5;
    at::Tensor logits = rnd({tokens, 256}, at::kFloat), bias = rnd({256}, at::kFloat, 0.1);
    const double ms = time_ms([&] { gk::moe_gate(logits, bias, o); });
    const double un = time_ms([&] { gk::ref::moe_gate(logits, bias, o); });
    row_bw("moe_gate (16k x 256, V3 groups)", ms, tokens * 256 * 4.0 + tokens * 8 * 12.0, un, c);
  }
  {  // permute / unpermute, top-8 of 256 experts
    const int64_t k = 8, h = 2048, n = tokens / 2;
    at::Tensor idx = at::randint(0, 256, {n, k}, cu(at::kLong));
    gk::MoeRouting r = gk::moe_routing(idx, 256);
    at::Tensor x = rnd({n, h}, at::kBFloat16), y = rnd({n * k, h}, at::kBFloat16);
    at::Tensor w = rnd({n, k}, at::kFloat);
    const double ms = time_ms([&] { gk::moe_permute(x, r); });
    const double un = time_ms([&] { gk::ref::moe_permute(x, r); });
    row_bw("moe_permute (8k tok x 8 x 2048 bf16)", ms, 2.0 * n * k * h * 2, un, c);
    const double ms2 = time_ms([&] { gk::moe_unpermute(y, w, r); });
    const double un2 = time_ms([&] { gk::ref::moe_unpermute(y, w, r); });
    row_bw("moe_unpermute (same)", ms2, (n * k + n) * h * 2.0, un2, c);
  }
  {  // grouped expert GEMM: 32 local experts, uneven loads, up-projection 7168 -> 2048
    const int64_t e = 32, kin = hid, nout = 2048;
    std::vector<int64_t> counts(e);
    int64_t m = 0;
    for (int64_t i = 0; i < e; ++i) m += counts[i] = (quick ? 256 : 1024) + 64 * ((i * 7) % 9);
    at::Tensor cnt = at::tensor(counts).to(at::kCUDA);
    at::Tensor x = rnd({m, kin}, at::kBFloat16), w = rnd({e, nout, kin}, at::kBFloat16, 0.02);
    const double flops = 2.0 * m * kin * nout;
    const double ms = time_ms([&] { gk::grouped_gemm(x, w, cnt); });
    const double un = time_ms([&] { gk::ref::grouped_gemm(x, w, cnt); });
    row_flops("grouped_gemm fwd (32 experts, M~40k, 7168->2048 bf16)", ms, flops, un, c);
    at::Tensor xg = x.clone().requires_grad_(true), wg = w.clone().requires_grad_(true);
    at::Tensor up = rnd({m, nout}, at::kBFloat16);
    auto fb = [&](bool fused) {
      at::Tensor y = fused ? gk::grouped_gemm(xg, wg, cnt) : gk::ref::grouped_gemm(xg, wg, cnt);
      torch::autograd::grad({y.mul(up).sum()}, {xg, wg});
    };
    const double ms2 = time_ms([&] { fb(true); }, 10), un2 = time_ms([&] { fb(false); }, 10);
    row_flops("grouped_gemm fwd+bwd (same)", ms2, 3 * flops, un2, c);
  }
  {  // MLA decode: V3 widths, 4k-token cache, 16 and 128 heads
    for (int64_t hq : {16, 128}) {
      const int64_t b = 64, len = 4096, dc = 512, dr = 64;
      at::Tensor ql = rnd({b, hq, dc}, at::kBFloat16), qr = rnd({b, hq, dr}, at::kBFloat16);
      at::Tensor kv = rnd({b, len, dc}, at::kBFloat16), kr = rnd({b, len, dr}, at::kBFloat16);
      at::Tensor slots = at::arange(b, cu(at::kLong));
      at::Tensor lens = at::randint(len / 2, len + 1, {b}, cu(at::kLong));
      const double total = lens.sum().item<double>();
      const double scale = 1.0 / std::sqrt(192.0);
      const double ms = time_ms([&] { gk::mla_decode(ql, qr, kv, kr, slots, lens, scale); });
      // Unfused: batched ATen over the padded cache with a length mask.
      at::Tensor mask = at::arange(len, cu(at::kLong)).unsqueeze(0).ge(lens.unsqueeze(1));
      const double un = time_ms([&] {
        at::Tensor s = at::matmul(ql, kv.transpose(1, 2)).add(at::matmul(qr, kr.transpose(1, 2)));
        s = s.to(at::kFloat).mul(scale).masked_fill(mask.unsqueeze(1), -INFINITY);
        at::matmul(s.softmax(-1).to(at::kBFloat16), kv);
      });
      const double bytes = total * (dc + dr) * 2 + b * hq * (dc + dr + dc) * 2.0;
      char name[96];
      std::snprintf(name, sizeof name, "mla_decode (B=64, Hq=%lld, len 2k-4k, bf16)", (long long)hq);
      row_bw(name, ms, bytes, un, c);
    }
  }
  {  // token log-probs: per-chunk kernel bandwidth, whole op vs naive, peak memory
    const int64_t n = quick ? 2048 : 16384, h = 4096, v = 129280, chunk = 1024;
    at::Tensor hdn = rnd({n, h}, at::kBFloat16), w = rnd({v, h}, at::kBFloat16, 0.02);
    at::Tensor tgt = at::randint(0, v, {n}, cu(at::kLong));
    {  // the fused per-chunk reduction alone: one read of a [chunk, V] bf16 logits block
      at::Tensor logits = at::mm(hdn.narrow(0, 0, chunk), w.t());
      at::Tensor lp = at::empty({chunk}, cu(at::kFloat)), lse = lp.clone(), ent = lp.clone();
      at::Tensor t = tgt.narrow(0, 0, chunk);
      const double ms = time_ms([&] { gk::cuda::logprob_chunk_forward(logits, t, 1.0, lp, lse, ent); });
      const double un = time_ms([&] { gk::ref::logprob_chunk_forward(logits, t, 1.0, lp, lse, ent); });
      row_bw("logprob chunk step (1024 x 129280 bf16 logits)", ms, double(chunk) * v * 2, un, c);
      at::Tensor g1 = rnd({chunk}, at::kFloat), g2 = rnd({chunk}, at::kFloat);
      at::Tensor scratch = logits.clone();
      const double msb = time_ms([&] {
        gk::cuda::logprob_chunk_backward_(scratch, t, 1.0, lse, ent, g1, g2);
      });
      const double unb = time_ms([&] { gk::ref::logprob_chunk_backward(logits, t, 1.0, lse, ent, g1, g2); });
      row_bw("logprob chunk backward, in place (same)", msb, 2.0 * chunk * v * 2, unb, c);
    }
    auto fwd = [&](bool fused) {
      if (fused) {
        gk::token_logprobs(hdn, w, tgt, 1.0, chunk, true);
      } else {
        at::Tensor logp = at::log_softmax(at::mm(hdn, w.t()).to(at::kFloat), -1);
        logp.gather(1, tgt.unsqueeze(1));
        logp.exp().mul(logp).sum(-1);
      }
    };
    const double ms = time_ms([&] { fwd(true); }, 5, 1), un = time_ms([&] { fwd(false); }, 5, 1);
    const double flops = 2.0 * n * h * v;
    row_flops("token_logprobs fwd (16k tok, 4096, V=129280 bf16)", ms, flops, un, c);
    const int64_t pf = peak_bytes_during([&] { fwd(true); });
    const int64_t pn = peak_bytes_during([&] { fwd(false); });
    std::printf("\ntoken_logprobs forward peak extra GPU memory: chunked %.2f GiB, naive %.2f GiB "
                "(ratio %.3f, goal <= 0.1)\n", pf / double(1 << 30), pn / double(1 << 30),
                double(pf) / double(pn));
  }
}
#endif
// ------------------------------------------------------------------ CPU fused loops
// Median wall time (microseconds) of fn over reps runs after warm-up.
double cpu_us(const std::function<void()>& fn, int reps) {
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a)
                    .count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The fused CPU loops (kernels/cpu_ops.h) against the LibTorch references they replace, at
// the shapes of one decode step of rollout_bench's model (B = 64 sequences, 64 cached
// tokens, hidden 256, 8 heads, latent 64 + rope 16, 16 experts top-4).
void cpu_bench(bool quick) {
  const int reps = quick ? 20 : 200;
  auto g = at::detail::createCPUGenerator(3);
  auto rn = [&](at::IntArrayRef s) { return at::randn(s, g); };
  const int64_t B = 64, H = 256, hq = 8, dc = 64, dr = 16, S = 64, L = 128, len = 64;
  const int64_t E = 16, K = 4, I = 128;
  std::printf("\n## fused CPU loops vs the LibTorch references (%d threads, median of %d)\n\n",
              at::get_num_threads(), reps);
  std::printf("| op | shape | fused (us) | reference (us) | speed-up |\n|---|---|---|---|---|\n");
  auto row = [&](const char* op, const char* shape, const std::function<void()>& fused,
                 const std::function<void()>& ref) {
    const double f = cpu_us(fused, reps), r = cpu_us(ref, reps);
    std::printf("| %s | %s | %.1f | %.1f | %.1fx |\n", op, shape, f, r, r / f);
  };
  at::Tensor x = rn({B, H}), res = rn({B, H}), w = rn({H});
  row("rms_norm", "[64, 256]", [&] { gk::cpu::rms_norm(x, w, 1e-6); },
      [&] { gk::ref::rms_norm(x, w, 1e-6); });
  row("add_rms_norm", "[64, 256]", [&] { gk::cpu::add_rms_norm(x, res, w, 1e-6); },
      [&] { gk::ref::add_rms_norm(x, res, w, 1e-6); });
  gk::MoeGateOptions o;
  o.top_k = K, o.n_group = 4, o.topk_group = 2, o.routed_scaling_factor = 2.5;
  at::Tensor logits = rn({B, E}), bias = rn({E}).mul(0.1);
  row("moe_gate", "[64, 16] top-4 of 2/4 groups", [&] { gk::cpu::moe_gate(logits, bias, o); },
      [&] { gk::ref::moe_gate(logits, bias, o); });
  at::Tensor idx = std::get<0>(gk::ref::moe_gate(logits, bias, o));
  row("moe_routing", "[64, 4] -> 16", [&] { gk::cpu::moe_routing(idx, E); },
      [&] { gk::ref::moe_routing(idx, E); });
  gk::MoeRouting r = gk::ref::moe_routing(idx, E);
  at::Tensor ys = rn({B * K, H}), tw = rn({B, K});
  row("moe_unpermute", "[256, 256]", [&] { gk::cpu::moe_unpermute(ys, tw, r); },
      [&] { gk::ref::moe_unpermute(ys, tw, r); });
  at::Tensor xs = rn({B * K, H}), we = rn({E, I, H});
  row("grouped_gemm", "[256, 256] x 16 x [128, 256]",
      [&] { gk::cpu::grouped_gemm(xs, we, r.counts); },
      [&] { gk::ref::grouped_gemm(xs, we, r.counts); });
  at::Tensor ql = rn({B, hq, dc}), qr = rn({B, hq, dr}), kv = rn({S, L, dc}), kr = rn({S, L, dr});
  at::Tensor slots = at::arange(B, at::TensorOptions().dtype(at::kLong));
  at::Tensor lens = at::full({B}, len, at::TensorOptions().dtype(at::kLong));
  row("mla_decode", "B 64, 8 heads, 64 tokens, Dc 64 + Dr 16",
      [&] { gk::cpu::mla_decode(ql, qr, kv, kr, slots, lens, 0.2); },
      [&] { gk::ref::mla_decode(ql, qr, kv, kr, slots, lens, 0.2); });
  // Arithmetic rate of the fused MLA decode: 2 (Dc + Dr) + 2 Dc flops per (head, token).
  const double us = cpu_us([&] { gk::cpu::mla_decode(ql, qr, kv, kr, slots, lens, 0.2); }, reps);
  std::printf("\nmla_decode fused: %.2f GFLOP/s\n",
              double(B) * hq * len * (2 * (dc + dr) + 2 * dc) / us / 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
#ifdef GRPO_CUDA
  if (gk::cuda_available()) {
    gpu_bench(quick);  // (the CPU memory figure needs fork(): not after CUDA is initialised)
    return 0;
  }
#endif
  std::printf("kernels_bench: no CUDA device here (or a build without GRPO_CUDA): the CUDA "
              "kernels are not measured. Run scripts/gpu_check.sh on a GPU machine.\n");
  cpu_logprob_memory(quick);  // first: it forks, which an OpenMP pool started here would hang
  cpu_bench(quick);
  return 0;
}
