// tests/kernels/cpu_kernels_test.cpp: the fused CPU loops (kernels/cpu_ops.h) against the
// LibTorch references (kernels/reference.h) on ragged shapes whose sizes are no multiple of
// a vector width, and the dispatch rules that choose between them (gradients and the
// use_kernels switch send ops to the reference). Tiny shapes, fixed seeds.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include "kernels/cpu_ops.h"
#include "kernels/ops.h"
#include "kernels/reference.h"

namespace gk = grpo::kernels;

namespace {
at::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }
at::Tensor randn(at::IntArrayRef s, at::Generator& g) {
  return at::randn(s, g, at::TensorOptions().dtype(at::kFloat));
}
// max |a - b| / max(1, max |b|)
double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor bd = b.to(at::kDouble);
  double scale = std::max(1.0, bd.abs().max().item<double>());
  return a.to(at::kDouble).sub(bd).abs().max().item<double>() / scale;
}
bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.to(at::kLong).eq(b.to(at::kLong)).all().item<bool>();
}
}  // namespace

TEST(CpuKernels, RmsNormMatchesReferenceOnRaggedAndStridedRows) {
  auto g = gen(1);
  at::Tensor x = randn({3, 5, 37}, g).mul(3.0), w = randn({37}, g);
  EXPECT_LT(rel_diff(gk::cpu::rms_norm(x, w, 1e-6), gk::ref::rms_norm(x, w, 1e-6)), 1e-6);
  at::Tensor xt = randn({37, 6}, g).t();  // non-contiguous rows
  EXPECT_LT(rel_diff(gk::cpu::rms_norm(xt, w, 1e-5), gk::ref::rms_norm(xt, w, 1e-5)), 1e-6);
  at::Tensor r = randn({3, 5, 37}, g);
  auto [y, sum] = gk::cpu::add_rms_norm(x, r, w, 1e-6);
  auto [y_ref, sum_ref] = gk::ref::add_rms_norm(x, r, w, 1e-6);
  EXPECT_LT(rel_diff(y, y_ref), 1e-6);
  EXPECT_LT(rel_diff(sum, sum_ref), 1e-7);
  EXPECT_THROW(gk::cpu::rms_norm(x, randn({36}, g), 1e-6), c10::Error);
}

TEST(CpuKernels, MoeGateSelectsTheSameExpertsWithTheSameWeights) {
  for (bool sigmoid : {true, false}) {
    auto g = gen(sigmoid ? 2 : 3);
    gk::MoeGateOptions o;
    o.top_k = 4;
    o.n_group = sigmoid ? 4 : 1;
    o.topk_group = sigmoid ? 2 : 1;
    o.sigmoid = sigmoid;
    o.norm_topk_prob = sigmoid;
    o.routed_scaling_factor = 2.5;
    at::Tensor logits = randn({41, 16}, g);
    at::Tensor bias = sigmoid ? randn({16}, g).mul(0.2) : at::Tensor();
    auto [idx, w, load] = gk::cpu::moe_gate(logits, bias, o);
    auto [idx_ref, w_ref, load_ref] = gk::ref::moe_gate(logits, bias, o);
    EXPECT_TRUE(same(idx, idx_ref)) << "sigmoid " << sigmoid;
    EXPECT_LT(rel_diff(w, w_ref), 1e-6);
    EXPECT_TRUE(same(load, load_ref));
  }
}

TEST(CpuKernels, MoeGateBreaksTiesTowardsLowerExperts) {
  gk::MoeGateOptions o;
  o.top_k = 3;
  o.n_group = 2;
  o.topk_group = 1;
  auto [idx, w, load] = gk::cpu::moe_gate(at::zeros({2, 8}), at::Tensor(), o);
  // All scores equal: group 0 wins the tie, and within it experts 0, 1, 2.
  EXPECT_TRUE(same(idx, at::tensor({0L, 1L, 2L, 0L, 1L, 2L}).view({2, 3})));
  EXPECT_NEAR(w[0][0].item<double>(), 1.0 / 3.0, 1e-7);
}

TEST(CpuKernels, RoutingIsTheReferencesStableOrderAndUnpermuteMatches) {
  auto g = gen(4);
  const int64_t n = 23, k = 3, e = 7, h = 19;
  at::Tensor idx = at::randint(0, e - 1, {n, k}, g, at::TensorOptions().dtype(at::kLong));
  gk::MoeRouting r = gk::cpu::moe_routing(idx, e);  // expert e - 1 stays empty
  gk::MoeRouting r_ref = gk::ref::moe_routing(idx, e);
  EXPECT_TRUE(same(r.token, r_ref.token));
  EXPECT_TRUE(same(r.pos, r_ref.pos));
  EXPECT_TRUE(same(r.counts, r_ref.counts));
  EXPECT_EQ(r.counts[e - 1].item<int64_t>(), 0);
  at::Tensor y = randn({n * k, h}, g), w = randn({n, k}, g);
  EXPECT_LT(rel_diff(gk::cpu::moe_unpermute(y, w, r), gk::ref::moe_unpermute(y, w, r_ref)), 1e-6);
  EXPECT_THROW(gk::cpu::moe_routing(at::tensor({0L, 7L}).view({1, 2}), e), c10::Error);
}

TEST(CpuKernels, GroupedGemmMatchesReferenceWithEmptyGroups) {
  auto g = gen(5);
  at::Tensor counts = at::tensor({5L, 0L, 9L, 1L, 0L, 3L});
  at::Tensor x = randn({18, 13}, g), w = randn({6, 11, 13}, g);
  EXPECT_LT(rel_diff(gk::cpu::grouped_gemm(x, w, counts), gk::ref::grouped_gemm(x, w, counts)),
            1e-6);
  EXPECT_THROW(gk::cpu::grouped_gemm(x, w, at::tensor({5L, 0L, 9L, 1L, 0L, 2L})), c10::Error);
}

TEST(CpuKernels, MlaDecodeMatchesReferenceOverRaggedSlots) {
  auto g = gen(6);
  const int64_t b = 5, hq = 3, dc = 10, dr = 3, s = 6, l = 17;
  at::Tensor ql = randn({b, hq, dc}, g), qr = randn({b, hq, dr}, g);
  at::Tensor kv = randn({s, l, dc}, g), kr = randn({s, l, dr}, g);
  at::Tensor slots = at::tensor({4L, 0L, 5L, 2L, 1L}), lengths = at::tensor({17L, 1L, 9L, 2L, 16L});
  auto [out, lse] = gk::cpu::mla_decode(ql, qr, kv, kr, slots, lengths, 0.31);
  auto [out_ref, lse_ref] = gk::ref::mla_decode(ql, qr, kv, kr, slots, lengths, 0.31);
  EXPECT_LT(rel_diff(out, out_ref), 1e-6);
  EXPECT_LT(rel_diff(lse, lse_ref), 1e-6);
  EXPECT_THROW(gk::cpu::mla_decode(ql, qr, kv, kr, slots, at::tensor({17L, 1L, 18L, 2L, 1L}), 1.0),
               c10::Error);
  EXPECT_THROW(gk::cpu::mla_decode(ql, qr, kv, kr, at::tensor({4L, 0L, 6L, 2L, 1L}), lengths, 1.0),
               c10::Error);
}

TEST(CpuKernels, DispatchUsesTheReferenceForGradientsAndWhenSwitchedOff) {
  auto g = gen(7);
  at::Tensor x = randn({4, 9}, g), w = randn({9}, g);
  gk::set_use_kernels(true);
  // No gradient needed: the CPU loop (equal to it bit for bit).
  EXPECT_EQ(rel_diff(gk::rms_norm(x, w, 1e-6), gk::cpu::rms_norm(x, w, 1e-6)), 0.0);
  // An input that requires a gradient: the differentiable reference.
  at::Tensor xg = x.clone().requires_grad_(true);
  at::Tensor y = gk::rms_norm(xg, w, 1e-6);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(rel_diff(y.detach(), gk::ref::rms_norm(x, w, 1e-6)), 0.0);
  {
    c10::NoGradGuard ng;  // grad mode off: the CPU loop even for such inputs
    EXPECT_FALSE(gk::rms_norm(xg, w, 1e-6).requires_grad());
  }
  gk::set_use_kernels(false);
  EXPECT_EQ(rel_diff(gk::rms_norm(x, w, 1e-6), gk::ref::rms_norm(x, w, 1e-6)), 0.0);
  gk::set_use_kernels(true);
  // Other dtypes take the reference.
  EXPECT_FALSE(gk::cpu::handles(x.to(at::kDouble)));
  EXPECT_TRUE(gk::cpu::handles(x));
}
