// tests/kernels/kernels_gpu_test.cpp: every CUDA kernel against its CPU reference
// (kernels/reference.h) on fresh random inputs of several shapes, ragged ones included.
// The measure is ||out - ref|| / ||ref|| in float64, with the reference run on the CPU in
// fp32 from the same (already rounded) input values: fp32 kernels must stay under 1e-5,
// bf16 ones under 1e-2, and no output may hold a NaN. Before each run the CUDA caching
// allocator is filled with NaN-poisoned blocks, so an output element a kernel forgets to
// write shows up as NaN. Skips with a message on a machine without a GPU (fails instead
// when GRPO_REQUIRE_GPU is set, as scripts/gpu_check.sh does).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cuda_ops.h"
#include "kernels/ops.h"
#include "kernels/reference.h"

namespace gk = grpo::kernels;

namespace {
class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gk::cuda_available() && std::getenv("GRPO_REQUIRE_GPU") != nullptr)
      FAIL() << "GRPO_REQUIRE_GPU is set but no CUDA device is visible";
    if (!gk::cuda_available())
      GTEST_SKIP() << "no CUDA device here: the CUDA kernels are not checked "
                      "(run scripts/gpu_check.sh on a GPU machine)";
    gk::set_use_kernels(true);
  }
};

at::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }
at::TensorOptions cuda_opts(at::ScalarType t) {
  return at::TensorOptions().dtype(t).device(at::kCUDA);
}
// Random CPU tensor already rounded to `t` (so CPU and GPU see identical values).
at::Tensor randn(at::IntArrayRef s, at::Generator& g, at::ScalarType t, double scale = 1.0) {
  return at::randn(s, g, at::TensorOptions().dtype(at::kFloat)).mul(scale).to(t);
}
at::Tensor gpu(const at::Tensor& t) { return t.to(at::kCUDA); }
at::Tensor f32(const at::Tensor& t) { return t.detach().to(at::kCPU).to(at::kFloat); }

// Fills the caching allocator with NaN blocks of many sizes and frees them, so the next
// outputs are carved from poisoned memory.
void poison() {
  std::vector<at::Tensor> keep;
  for (int64_t bytes = 512; bytes <= (int64_t{64} << 20); bytes *= 2)
    for (int i = 0; i < 4; ++i)
      keep.push_back(at::full({bytes / 4}, NAN, cuda_opts(at::kFloat)));
}

double rel_err(const at::Tensor& out, const at::Tensor& ref) {
  at::Tensor o = out.detach().to(at::kCPU).to(at::kDouble);
  at::Tensor r = ref.detach().to(at::kCPU).to(at::kDouble);
  EXPECT_EQ(o.sizes(), r.sizes());
  EXPECT_FALSE(o.isnan().any().item<bool>()) << "NaN in the kernel's output";
  const double denom = r.norm().item<double>();
  return o.sub(r).norm().item<double>() / (denom > 0 ? denom : 1.0);
}
// Forward outputs: fp32 arithmetic well under 1e-4 (we ask 1e-5), bf16 under 1e-2.
double tol(at::ScalarType t) { return t == at::kFloat ? 1e-5 : 1e-2; }
// Gradients and GEMM outputs: long fp32 sums in another order (and cuBLAS's own kernel
// choice), so 1e-4 for fp32; bf16 stays under 1e-2.
double tol_sum(at::ScalarType t) { return t == at::kFloat ? 1e-4 : 1e-2; }
const char* name(at::ScalarType t) { return t == at::kFloat ? "fp32" : "bf16"; }

std::vector<at::Tensor> grads(const at::Tensor& loss, const std::vector<at::Tensor>& xs) {
  return torch::autograd::grad({loss}, xs);
}
}  // namespace

TEST_F(Gpu, RmsNormAndAddRmsNormForwardBackwardMatchReference) {
  auto g = gen(101);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (auto [rows, h] : std::vector<std::pair<int64_t, int64_t>>{{1, 64}, {37, 1000}, {300, 7168}}) {
      SCOPED_TRACE(std::string(name(dt)) + " rows=" + std::to_string(rows) + " H=" + std::to_string(h));
      at::Tensor x = randn({rows, h}, g, dt), r = randn({rows, h}, g, dt);
      at::Tensor w = randn({h}, g, dt, 0.5), up = randn({rows, h}, g, at::kFloat);
      at::Tensor up2 = randn({rows, h}, g, at::kFloat);
      // GPU: add_rms_norm with gradients through both outputs.
      poison();
      at::Tensor xg = gpu(x).requires_grad_(true), rg = gpu(r).requires_grad_(true);
      at::Tensor wg = gpu(w).requires_grad_(true);
      auto [yg, sg] = gk::add_rms_norm(xg, rg, wg, 1e-6);
      at::Tensor lg = yg.to(at::kFloat).mul(gpu(up)).sum().add(sg.to(at::kFloat).mul(gpu(up2)).sum());
      auto dg = grads(lg, {xg, rg, wg});
      // CPU reference in fp32 from the same values.
      at::Tensor xc = f32(x).requires_grad_(true), rc = f32(r).requires_grad_(true);
      at::Tensor wc = f32(w).requires_grad_(true);
      auto [yc, sc] = gk::ref::add_rms_norm(xc, rc, wc, 1e-6);
      at::Tensor lc = yc.mul(up).sum().add(sc.mul(up2).sum());
      auto dc = grads(lc, {xc, rc, wc});
      EXPECT_LT(rel_err(yg, yc), tol(dt));
      EXPECT_LT(rel_err(sg, sc), tol(dt));
      EXPECT_LT(rel_err(dg[0], dc[0]), tol(dt));
      EXPECT_LT(rel_err(dg[1], dc[1]), tol(dt));
      EXPECT_LT(rel_err(dg[2], dc[2]), tol_sum(dt));  // a sum over rows
      // Plain rms_norm, 3-D input.
      poison();
      at::Tensor y3 = gk::rms_norm(gpu(x).view({1, rows, h}), gpu(w), 1e-5);
      EXPECT_LT(rel_err(y3, gk::ref::rms_norm(f32(x), f32(w), 1e-5).view({1, rows, h})), tol(dt));
    }
  }
}

TEST_F(Gpu, MoeGateMatchesReferenceSelectionWeightsLoadAndGradient) {
  struct Case { int64_t n, e, k, groups, topk_group; bool sigmoid, bias, norm; double scale; };
  std::vector<Case> cases = {{1, 8, 2, 1, 1, true, false, true, 1.0},
                             {257, 64, 6, 8, 3, true, true, true, 2.5},
                             {100, 256, 8, 8, 4, true, true, true, 2.5},   // DeepSeek-V3
                             {77, 160, 6, 8, 3, false, false, false, 16.0}};  // V2 style
  auto g = gen(102);
  for (const Case& c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.n) + " E=" + std::to_string(c.e));
    gk::MoeGateOptions o;
    o.top_k = c.k; o.n_group = c.groups; o.topk_group = c.topk_group; o.sigmoid = c.sigmoid;
    o.norm_topk_prob = c.norm; o.routed_scaling_factor = c.scale;
    at::Tensor logits = randn({c.n, c.e}, g, at::kFloat);
    at::Tensor bias = c.bias ? randn({c.e}, g, at::kFloat, 0.1) : at::Tensor();
    at::Tensor up = randn({c.n, c.k}, g, at::kFloat);
    poison();
    at::Tensor lg = gpu(logits).requires_grad_(true);
    auto [ig, wg, loadg] = gk::moe_gate(lg, c.bias ? gpu(bias) : at::Tensor(), o);
    at::Tensor dg = grads(wg.mul(gpu(up)).sum(), {lg})[0];
    at::Tensor lc = logits.clone().requires_grad_(true);
    auto [ic, wc, loadc] = gk::ref::moe_gate(lc, bias, o);
    at::Tensor dc = grads(wc.mul(up).sum(), {lc})[0];
    EXPECT_TRUE(ig.to(at::kCPU).equal(ic)) << "expert selection differs";
    EXPECT_TRUE(loadg.to(at::kCPU).equal(loadc)) << "expert load differs";
    EXPECT_LT(rel_err(wg, wc), 1e-5);
    EXPECT_LT(rel_err(dg, dc), 1e-5);
  }
}

TEST_F(Gpu, MoePermuteUnpermuteForwardBackwardMatchReferenceOnRaggedRouting) {
  auto g = gen(103);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (auto [n, k, e, h] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
             {1, 1, 4, 1}, {33, 2, 8, 7}, {512, 8, 64, 2048}}) {
      SCOPED_TRACE(std::string(name(dt)) + " N=" + std::to_string(n) + " H=" + std::to_string(h));
      // Skewed routing: experts drawn from the first half only, so some get no token.
      at::Tensor idx = at::randint(0, std::max<int64_t>(1, e / 2), {n, k}, g,
                                   at::TensorOptions().dtype(at::kLong));
      at::Tensor x = randn({n, h}, g, dt), w = randn({n, k}, g, at::kFloat);
      at::Tensor up = randn({n, h}, g, at::kFloat);
      gk::MoeRouting rg = gk::moe_routing(gpu(idx), e), rc = gk::moe_routing(idx, e);
      EXPECT_TRUE(rg.counts.to(at::kCPU).equal(rc.counts));
      poison();
      at::Tensor xg = gpu(x).requires_grad_(true), wgt = gpu(w).requires_grad_(true);
      at::Tensor pg = gk::moe_permute(xg, rg);
      at::Tensor og = gk::moe_unpermute(pg.mul(2.0), wgt, rg);
      auto dg = grads(og.to(at::kFloat).mul(gpu(up)).sum(), {xg, wgt});
      at::Tensor xc = f32(x).requires_grad_(true), wc = w.clone().requires_grad_(true);
      at::Tensor pc = gk::ref::moe_permute(xc, rc);
      at::Tensor oc = gk::ref::moe_unpermute(pc.mul(2.0), wc, rc);
      auto dc = grads(oc.mul(up).sum(), {xc, wc});
      EXPECT_EQ(rel_err(pg, pc), 0.0);  // a pure copy
      EXPECT_LT(rel_err(og, oc), tol(dt));
      EXPECT_LT(rel_err(dg[0], dc[0]), tol_sum(dt));
      EXPECT_LT(rel_err(dg[1], dc[1]), tol_sum(dt));
    }
  }
}

TEST_F(Gpu, GroupedGemmForwardBackwardMatchReferenceWithEmptyExperts) {
  auto g = gen(104);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    for (auto [counts, kin, nout] : std::vector<std::tuple<std::vector<int64_t>, int64_t, int64_t>>{
             {{3, 0, 5, 1}, 16, 24}, {{0, 128, 7, 0, 300, 64, 1, 12}, 256, 512}}) {
      SCOPED_TRACE(std::string(name(dt)) + " K=" + std::to_string(kin));
      int64_t m = 0;
      for (int64_t c : counts) m += c;
      const int64_t e = counts.size();
      at::Tensor cnt = at::tensor(counts);
      at::Tensor x = randn({m, kin}, g, dt), w = randn({e, nout, kin}, g, dt, 0.1);
      at::Tensor up = randn({m, nout}, g, at::kFloat);
      poison();
      at::Tensor xg = gpu(x).requires_grad_(true), wg = gpu(w).requires_grad_(true);
      at::Tensor yg = gk::grouped_gemm(xg, wg, gpu(cnt));
      auto dg = grads(yg.to(at::kFloat).mul(gpu(up)).sum(), {xg, wg});
      at::Tensor xc = f32(x).requires_grad_(true), wc = f32(w).requires_grad_(true);
      at::Tensor yc = gk::ref::grouped_gemm(xc, wc, cnt);
      auto dc = grads(yc.mul(up).sum(), {xc, wc});
      EXPECT_LT(rel_err(yg, yc), tol_sum(dt));
      EXPECT_LT(rel_err(dg[0], dc[0]), tol_sum(dt));
      EXPECT_LT(rel_err(dg[1], dc[1]), tol_sum(dt));
    }
  }
}

TEST_F(Gpu, MlaDecodeMatchesReferenceOverRaggedLengthsAndHeadCounts) {
  auto g = gen(105);
  struct Case { at::ScalarType dt; int64_t hq, dc, dr, slots, maxlen; std::vector<int64_t> lens; };
  std::vector<Case> cases = {
      {at::kFloat, 4, 64, 16, 3, 40, {1, 40, 17}},
      {at::kBFloat16, 16, 512, 64, 4, 1024, {1, 1000, 333, 64}},
      {at::kBFloat16, 20, 512, 64, 2, 257, {257, 5}},       // heads not a multiple of 16
      {at::kBFloat16, 128, 512, 64, 3, 2048, {2048, 77, 1500}}};  // DeepSeek-V3 widths
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(name(c.dt)) + " Hq=" + std::to_string(c.hq));
    const int64_t b = c.lens.size();
    at::Tensor ql = randn({b, c.hq, c.dc}, g, c.dt), qr = randn({b, c.hq, c.dr}, g, c.dt);
    at::Tensor kv = randn({c.slots, c.maxlen, c.dc}, g, c.dt), kr = randn({c.slots, c.maxlen, c.dr}, g, c.dt);
    std::vector<int64_t> sl(b);
    for (int64_t i = 0; i < b; ++i) sl[i] = (i * 7 + 1) % c.slots;
    at::Tensor slots = at::tensor(sl), lens = at::tensor(c.lens);
    const double scale = 1.0 / std::sqrt(double(c.dc + c.dr) / 3.0);
    poison();
    auto [og, lg] = gk::mla_decode(gpu(ql), gpu(qr), gpu(kv), gpu(kr), gpu(slots), gpu(lens), scale);
    auto [oc, lc] = gk::ref::mla_decode(f32(ql), f32(qr), f32(kv), f32(kr), slots, lens, scale);
    EXPECT_EQ(og.scalar_type(), c.dt);
    EXPECT_LT(rel_err(og, oc), tol(c.dt));
    EXPECT_LT(rel_err(lg, lc), 1e-5);
  }
}

TEST_F(Gpu, TokenLogprobsAndEntropyWithGradientsMatchReference) {
  auto g = gen(106);
  struct Case { at::ScalarType dt; int64_t n, h, v, chunk; double temp; };
  std::vector<Case> cases = {{at::kFloat, 1, 16, 17, 0, 1.0},
                             {at::kFloat, 100, 64, 5003, 32, 0.7},
                             {at::kBFloat16, 257, 128, 32000, 64, 1.0},
                             {at::kBFloat16, 64, 256, 129280, 0, 0.9}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(name(c.dt)) + " N=" + std::to_string(c.n) + " V=" + std::to_string(c.v));
    at::Tensor hid = randn({c.n, c.h}, g, c.dt), w = randn({c.v, c.h}, g, c.dt, 0.1);
    at::Tensor tgt = at::randint(0, c.v, {c.n}, g, at::TensorOptions().dtype(at::kLong));
    at::Tensor u1 = randn({c.n}, g, at::kFloat), u2 = randn({c.n}, g, at::kFloat);
    poison();
    at::Tensor hg = gpu(hid).requires_grad_(true), wg = gpu(w).requires_grad_(true);
    auto [lpg, eng] = gk::token_logprobs(hg, wg, gpu(tgt), c.temp, c.chunk, true);
    auto dg = grads(lpg.mul(gpu(u1)).sum().add(eng.mul(gpu(u2)).sum()), {hg, wg});
    at::Tensor hc = f32(hid).requires_grad_(true), wc = f32(w).requires_grad_(true);
    auto [lpc, enc] = gk::ref::token_logprobs(hc, wc, tgt, c.temp, c.chunk, true);
    auto dc = grads(lpc.mul(u1).sum().add(enc.mul(u2).sum()), {hc, wc});
    EXPECT_LT(rel_err(lpg, lpc), tol(c.dt));
    EXPECT_LT(rel_err(eng, enc), tol(c.dt));
    EXPECT_LT(rel_err(dg[0], dc[0]), tol_sum(c.dt));
    EXPECT_LT(rel_err(dg[1], dc[1]), tol_sum(c.dt));
  }
}

TEST_F(Gpu, LogprobChunkKernelWritesEveryPoisonedOutput) {
  auto g = gen(107);
  at::Tensor logits = gpu(randn({5, 1001}, g, at::kBFloat16, 3.0));  // odd V: vector tail
  at::Tensor tgt = gpu(at::tensor({0L, 1000L, 5L, 999L, 500L}));
  at::Tensor lp = at::full({5}, NAN, cuda_opts(at::kFloat)), lse = lp.clone(), ent = lp.clone();
  gk::cuda::logprob_chunk_forward(logits, tgt, 1.0, lp, lse, ent);
  at::Tensor lpc = at::empty({5}), lsec = at::empty({5}), entc = at::empty({5});
  gk::ref::logprob_chunk_forward(f32(logits), tgt.to(at::kCPU), 1.0, lpc, lsec, entc);
  EXPECT_LT(rel_err(lp, lpc), 1e-5);
  EXPECT_LT(rel_err(lse, lsec), 1e-5);
  EXPECT_LT(rel_err(ent, entc), 1e-5);
}

TEST_F(Gpu, SwitchOffRoutesCudaTensorsToTheReference) {
  auto g = gen(108);
  at::Tensor x = gpu(randn({4, 32}, g, at::kFloat)), w = gpu(randn({32}, g, at::kFloat));
  gk::set_use_kernels(false);
  at::Tensor off = gk::rms_norm(x, w, 1e-6);
  gk::set_use_kernels(true);
  at::Tensor on = gk::rms_norm(x, w, 1e-6);
  EXPECT_LT(rel_err(on, off), 1e-6);
}
