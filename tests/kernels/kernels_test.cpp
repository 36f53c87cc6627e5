// tests/kernels/kernels_test.cpp: the CPU references of kernels/ops.h against independent
// naive computations written out as plain loops in double (or, for MLA, the
// non-absorbed attention it stands for), including gradients. Tiny shapes, fixed seeds.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "kernels/ops.h"
#include "kernels/reference.h"

namespace gk = grpo::kernels;

namespace {
at::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }
at::Tensor randn(at::IntArrayRef s, at::Generator& g, at::ScalarType t = at::kFloat) {
  return at::randn(s, g, at::TensorOptions().dtype(at::kFloat)).to(t);
}
double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return a.to(at::kDouble).sub(b.to(at::kDouble)).abs().max().item<double>();
}
at::Tensor grad_of(const at::Tensor& y, const at::Tensor& x) {
  return torch::autograd::grad({y}, {x}, {}, /*retain_graph=*/true)[0];
}
}  // namespace

// ---------------------------------------------------------------- RMSNorm
TEST(RmsNorm, MatchesRowLoopAndItsGradient) {
  auto g = gen(1);
  const int64_t n = 5, h = 12;
  const double eps = 1e-6;
  at::Tensor x = randn({n, h}, g).requires_grad_(true);
  at::Tensor w = randn({h}, g).requires_grad_(true);
  at::Tensor up = randn({n, h}, g);
  at::Tensor y = gk::rms_norm(x, w, eps);
  at::Tensor loss = y.mul(up).sum();
  at::Tensor dx = grad_of(loss, x), dw = grad_of(loss, w);
  auto X = x.detach().to(at::kDouble), W = w.detach().to(at::kDouble), G = up.to(at::kDouble);
  auto xa = X.accessor<double, 2>();
  auto wa = W.accessor<double, 1>();
  auto ga = G.accessor<double, 2>();
  std::vector<double> dw_ref(h, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < h; ++j) ss += xa[i][j] * xa[i][j];
    const double inv = 1.0 / std::sqrt(ss / h + eps);
    double dot = 0;  // sum_j g_j w_j xhat_j
    for (int64_t j = 0; j < h; ++j) dot += ga[i][j] * wa[j] * xa[i][j] * inv;
    for (int64_t j = 0; j < h; ++j) {
      const double xhat = xa[i][j] * inv;
      EXPECT_NEAR(y[i][j].item<double>(), xhat * wa[j], 1e-5);
      // d/dx_j of sum_k g_k w_k x_k inv = inv * (g_j w_j - xhat_j * dot / H)
      EXPECT_NEAR(dx[i][j].item<double>(), inv * (ga[i][j] * wa[j] - xhat * dot / h), 1e-4);
      dw_ref[j] += ga[i][j] * xhat;
    }
  }
  for (int64_t j = 0; j < h; ++j) EXPECT_NEAR(dw[j].item<double>(), dw_ref[j], 1e-4);
}

TEST(RmsNorm, KeepsInputDtypeAndLeadingDims) {
  auto g = gen(2);
  at::Tensor x = randn({2, 3, 8}, g, at::kBFloat16);
  at::Tensor w = randn({8}, g, at::kBFloat16);
  at::Tensor y = gk::rms_norm(x, w, 1e-6);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_EQ(y.sizes(), x.sizes());
  at::Tensor y32 = gk::rms_norm(x.to(at::kFloat), w.to(at::kFloat), 1e-6);
  EXPECT_LT(max_abs_diff(y, y32), 3e-2);
}

TEST(RmsNorm, RejectsWrongWeightSize) {
  auto g = gen(3);
  EXPECT_THROW(gk::rms_norm(randn({2, 8}, g), randn({7}, g), 1e-6), c10::Error);
}

TEST(AddRmsNorm, ReturnsNormOfSumAndTheSumWithGradientsToBoth) {
  auto g = gen(4);
  at::Tensor x = randn({3, 16}, g).requires_grad_(true);
  at::Tensor r = randn({3, 16}, g).requires_grad_(true);
  at::Tensor w = randn({16}, g);
  auto [y, s] = gk::add_rms_norm(x, r, w, 1e-5);
  EXPECT_LT(max_abs_diff(s, x.detach().add(r.detach())), 1e-6);
  EXPECT_LT(max_abs_diff(y, gk::rms_norm(x.detach().add(r.detach()), w, 1e-5)), 1e-6);
  // Gradient through both outputs reaches x and residual identically.
  at::Tensor loss = y.sum().add(s.mul(2.0).sum());
  at::Tensor dx = grad_of(loss, x), dr = grad_of(loss, r);
  EXPECT_LT(max_abs_diff(dx, dr), 1e-7);
  EXPECT_GT(dx.abs().sum().item<double>(), 0.0);
}

// ---------------------------------------------------------------- MoE gate
namespace {
// Naive DeepSeek gate for one token, plain loops (independent of the ATen reference).
struct NaiveGate {
  std::vector<int64_t> idx;   // sorted by biased score, descending
  std::vector<double> weight;
};
NaiveGate naive_gate(const std::vector<double>& logit, const std::vector<double>& bias,
                     const gk::MoeGateOptions& o) {
  const int64_t e = logit.size(), per = e / o.n_group;
  std::vector<double> s(e), c(e);
  if (o.sigmoid) {
    for (int64_t j = 0; j < e; ++j) s[j] = 1.0 / (1.0 + std::exp(-logit[j]));
  } else {
    double m = *std::max_element(logit.begin(), logit.end()), z = 0;
    for (int64_t j = 0; j < e; ++j) z += std::exp(logit[j] - m);
    for (int64_t j = 0; j < e; ++j) s[j] = std::exp(logit[j] - m) / z;
  }
  for (int64_t j = 0; j < e; ++j) c[j] = s[j] + (bias.empty() ? 0.0 : bias[j]);
  std::vector<double> gscore(o.n_group);
  for (int64_t gi = 0; gi < o.n_group; ++gi) {
    std::vector<double> v(c.begin() + gi * per, c.begin() + (gi + 1) * per);
    std::sort(v.rbegin(), v.rend());
    gscore[gi] = o.sigmoid ? v[0] + (per > 1 ? v[1] : 0.0) : v[0];
  }
  std::vector<int64_t> gord(o.n_group);
  std::iota(gord.begin(), gord.end(), 0);
  std::sort(gord.begin(), gord.end(), [&](int64_t a, int64_t b) { return gscore[a] > gscore[b]; });
  std::set<int64_t> kept(gord.begin(), gord.begin() + o.topk_group);
  std::vector<int64_t> cand;
  for (int64_t j = 0; j < e; ++j)
    if (kept.count(j / per)) cand.push_back(j);
  std::sort(cand.begin(), cand.end(), [&](int64_t a, int64_t b) { return c[a] > c[b]; });
  NaiveGate out;
  out.idx.assign(cand.begin(), cand.begin() + o.top_k);
  double sum = 0;
  for (int64_t j : out.idx) sum += s[j];
  for (int64_t j : out.idx)
    out.weight.push_back((o.norm_topk_prob ? s[j] / (sum + 1e-20) : s[j]) *
                         o.routed_scaling_factor);
  return out;
}

void check_gate_against_naive(const gk::MoeGateOptions& o, int64_t n, int64_t e, bool with_bias,
                              uint64_t seed) {
  auto g = gen(seed);
  at::Tensor logits = randn({n, e}, g);
  at::Tensor bias = with_bias ? randn({e}, g).mul(0.3) : at::Tensor();
  auto [idx, w, load] = gk::moe_gate(logits, bias, o);
  ASSERT_EQ(idx.sizes(), (at::IntArrayRef{n, o.top_k}));
  std::vector<int64_t> load_ref(e, 0);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> l(e), b;
    for (int64_t j = 0; j < e; ++j) l[j] = logits[i][j].item<double>();
    if (with_bias)
      for (int64_t j = 0; j < e; ++j) b.push_back(bias[j].item<double>());
    NaiveGate ref = naive_gate(l, b, o);
    for (int64_t k = 0; k < o.top_k; ++k) {
      EXPECT_EQ(idx[i][k].item<int64_t>(), ref.idx[k]) << "token " << i << " slot " << k;
      EXPECT_NEAR(w[i][k].item<double>(), ref.weight[k], 1e-5);
      ++load_ref[ref.idx[k]];
    }
  }
  for (int64_t j = 0; j < e; ++j) EXPECT_EQ(load[j].item<int64_t>(), load_ref[j]);
}
}  // namespace

TEST(MoeGate, SigmoidGroupLimitedWithBiasMatchesNaive) {
  gk::MoeGateOptions o;
  o.top_k = 4; o.n_group = 4; o.topk_group = 2; o.sigmoid = true; o.norm_topk_prob = true;
  o.routed_scaling_factor = 2.5;
  check_gate_against_naive(o, 9, 16, /*with_bias=*/true, 11);
}

TEST(MoeGate, SoftmaxGroupMaxWithoutNormMatchesNaive) {
  gk::MoeGateOptions o;
  o.top_k = 3; o.n_group = 3; o.topk_group = 2; o.sigmoid = false; o.norm_topk_prob = false;
  check_gate_against_naive(o, 7, 12, /*with_bias=*/false, 12);
}

TEST(MoeGate, HandComputedBiasChangesSelectionButNotWeights) {
  // Two experts, top-1. Logits favour expert 0; a bias of +1 on expert 1 selects it, and
  // its weight is its own unbiased sigmoid score (not renormalised: norm off).
  at::Tensor logits = at::tensor({1.0f, 0.0f}).view({1, 2});
  at::Tensor bias = at::tensor({0.0f, 1.0f});
  gk::MoeGateOptions o;
  o.top_k = 1; o.norm_topk_prob = false;
  auto [idx, w, load] = gk::moe_gate(logits, bias, o);
  EXPECT_EQ(idx.item<int64_t>(), 1);
  EXPECT_NEAR(w.item<double>(), 0.5, 1e-7);  // sigmoid(0)
  EXPECT_EQ(load[0].item<int64_t>(), 0);
  EXPECT_EQ(load[1].item<int64_t>(), 1);
}

TEST(MoeGate, WeightGradientMatchesAnalyticForm) {
  auto g = gen(13);
  const int64_t n = 4, e = 8;
  gk::MoeGateOptions o;
  o.top_k = 3; o.routed_scaling_factor = 1.7;
  at::Tensor logits = randn({n, e}, g).requires_grad_(true);
  auto [idx, w, load] = gk::moe_gate(logits, at::Tensor(), o);
  at::Tensor up = randn({n, o.top_k}, g);
  at::Tensor dl = grad_of(w.mul(up).sum(), logits);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> s(o.top_k);
    double S = 1e-20, gs = 0;
    for (int64_t k = 0; k < o.top_k; ++k) {
      s[k] = 1.0 / (1.0 + std::exp(-logits[i][idx[i][k].item<int64_t>()].item<double>()));
      S += s[k];
    }
    for (int64_t k = 0; k < o.top_k; ++k) gs += up[i][k].item<double>() * s[k];
    std::vector<double> expect(e, 0.0);
    for (int64_t k = 0; k < o.top_k; ++k) {
      const double ds = o.routed_scaling_factor * (up[i][k].item<double>() / S - gs / (S * S));
      expect[idx[i][k].item<int64_t>()] = ds * s[k] * (1 - s[k]);
    }
    for (int64_t j = 0; j < e; ++j) EXPECT_NEAR(dl[i][j].item<double>(), expect[j], 1e-5);
  }
}

TEST(MoeGate, ClosedFormBackwardUsedByTheCudaGateMatchesAutograd) {
  // The CUDA gate's backward is ref::moe_gate_backward; check it on the CPU against
  // autograd through the reference, for sigmoid + norm and softmax without norm.
  auto g = gen(15);
  for (bool sigmoid : {true, false}) {
    gk::MoeGateOptions o;
    o.top_k = 4; o.n_group = 4; o.topk_group = 2; o.sigmoid = sigmoid;
    o.norm_topk_prob = sigmoid; o.routed_scaling_factor = 2.5;
    at::Tensor logits = randn({6, 16}, g).requires_grad_(true);
    at::Tensor bias = sigmoid ? randn({16}, g).mul(0.2) : at::Tensor();
    auto [idx, w, load] = gk::moe_gate(logits, bias, o);
    at::Tensor up = randn({6, o.top_k}, g);
    at::Tensor expect = grad_of(w.mul(up).sum(), logits);
    at::Tensor got = gk::ref::moe_gate_backward(logits.detach(), idx, up, o);
    EXPECT_LT(max_abs_diff(got, expect), 1e-6) << (sigmoid ? "sigmoid" : "softmax");
  }
}

TEST(MoeGate, RejectsTopKBeyondKeptGroups) {
  gk::MoeGateOptions o;
  o.top_k = 5; o.n_group = 4; o.topk_group = 1;  // only 2 experts survive of 8
  auto g = gen(14);
  EXPECT_THROW(gk::moe_gate(randn({2, 8}, g), at::Tensor(), o), c10::Error);
}

// ---------------------------------------------------------------- permute / unpermute / GEMM
TEST(MoeRouting, PermuteGroupsRowsByExpertStablyAndUnpermuteInvertsIt) {
  auto g = gen(21);
  const int64_t n = 6, k = 2, e = 4, h = 5;
  at::Tensor idx = at::tensor({0L, 3L, 2L, 0L, 3L, 1L, 0L, 2L, 2L, 3L, 1L, 0L}).view({n, k});
  gk::MoeRouting r = gk::moe_routing(idx, e);
  EXPECT_EQ(r.counts.sizes(), (at::IntArrayRef{e}));
  std::vector<int64_t> counts = {4, 2, 3, 3};
  for (int64_t j = 0; j < e; ++j) EXPECT_EQ(r.counts[j].item<int64_t>(), counts[j]);
  // Expected order: expert 0 rows from tokens 0,1,3,5; expert 1: 2,5; expert 2: 1,3,4; 3: 0,2,4.
  std::vector<int64_t> tokens = {0, 1, 3, 5, 2, 5, 1, 3, 4, 0, 2, 4};
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(r.token[i].item<int64_t>(), tokens[i]);
  at::Tensor x = randn({n, h}, g);
  at::Tensor xp = gk::moe_permute(x, r);
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(max_abs_diff(xp[i], x[tokens[i]]), 0.0);
  at::Tensor w = randn({n, k}, g);
  at::Tensor back = gk::moe_unpermute(xp, w, r);  // = x * sum_k w
  EXPECT_LT(max_abs_diff(back, x.mul(w.sum(1, true))), 1e-6);
}

TEST(MoeRouting, UnpermuteGradientsMatchLoops) {
  auto g = gen(22);
  const int64_t n = 5, k = 3, e = 4, h = 6;
  at::Tensor idx = at::randint(0, e, {n, k}, g, at::TensorOptions().dtype(at::kLong));
  gk::MoeRouting r = gk::moe_routing(idx, e);
  at::Tensor y = randn({n * k, h}, g).requires_grad_(true);
  at::Tensor w = randn({n, k}, g).requires_grad_(true);
  at::Tensor up = randn({n, h}, g);
  at::Tensor out = gk::moe_unpermute(y, w, r);
  at::Tensor loss = out.mul(up).sum();
  at::Tensor dy = grad_of(loss, y), dw = grad_of(loss, w);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t row = r.pos[i * k + j].item<int64_t>();
      int64_t acc = 0, ex = 0;  // the row sits in its expert's block
      while (acc + r.counts[ex].item<int64_t>() <= row) acc += r.counts[ex++].item<int64_t>();
      EXPECT_EQ(idx[i][j].item<int64_t>(), ex);
      EXPECT_LT(max_abs_diff(dy[row], up[i].mul(w[i][j].item<double>())), 1e-6);
      EXPECT_NEAR(dw[i][j].item<double>(), y[row].detach().mul(up[i]).sum().item<double>(), 1e-5);
    }
  }
}

TEST(GroupedGemm, MatchesPerRowLoopsIncludingEmptyGroupsAndGradients) {
  auto g = gen(23);
  const int64_t kin = 7, nout = 5;
  at::Tensor counts = at::tensor({3L, 0L, 4L, 1L});
  const int64_t e = 4, m = 8;
  at::Tensor x = randn({m, kin}, g).requires_grad_(true);
  at::Tensor w = randn({e, nout, kin}, g).requires_grad_(true);
  at::Tensor y = gk::grouped_gemm(x, w, counts);
  ASSERT_EQ(y.sizes(), (at::IntArrayRef{m, nout}));
  at::Tensor up = randn({m, nout}, g);
  at::Tensor loss = y.mul(up).sum();
  at::Tensor dx = grad_of(loss, x), dw = grad_of(loss, w);
  std::vector<int64_t> expert_of = {0, 0, 0, 2, 2, 2, 2, 3};
  at::Tensor dw_ref = at::zeros({e, nout, kin}, at::TensorOptions().dtype(at::kDouble));
  for (int64_t r = 0; r < m; ++r) {
    const int64_t ex = expert_of[r];
    for (int64_t o = 0; o < nout; ++o) {
      double acc = 0;
      for (int64_t i = 0; i < kin; ++i) acc += x[r][i].item<double>() * w[ex][o][i].item<double>();
      EXPECT_NEAR(y[r][o].item<double>(), acc, 1e-5);
    }
    for (int64_t i = 0; i < kin; ++i) {
      double acc = 0;
      for (int64_t o = 0; o < nout; ++o) acc += up[r][o].item<double>() * w[ex][o][i].item<double>();
      EXPECT_NEAR(dx[r][i].item<double>(), acc, 1e-5);
    }
    dw_ref[ex].add_(up[r].to(at::kDouble).unsqueeze(1).mul(x[r].detach().to(at::kDouble).unsqueeze(0)));
  }
  EXPECT_LT(max_abs_diff(dw, dw_ref), 1e-5);
  EXPECT_EQ(dw[1].abs().sum().item<double>(), 0.0);  // the empty expert gets no gradient
}

TEST(GroupedGemm, RejectsCountsThatDoNotCoverTheRows) {
  auto g = gen(24);
  EXPECT_THROW(gk::grouped_gemm(randn({5, 3}, g), randn({2, 4, 3}, g), at::tensor({2L, 2L})),
               c10::Error);
}

// ---------------------------------------------------------------- MLA decode
TEST(MlaDecode, AbsorbedFormEqualsExpandedAttentionOverRaggedSlots) {
  // Build the non-absorbed attention (keys k_h = W_UK[h] c + rope part, values
  // v_h = W_UV[h] c) in double, and compare with mla_decode followed by W_UV.
  auto g = gen(31);
  const int64_t b = 3, hq = 4, dn = 6, dc = 10, dr = 4, dv = 5, s_slots = 4, l = 9;
  const double scale = 1.0 / std::sqrt(double(dn + dr));
  at::Tensor w_uk = randn({hq, dn, dc}, g), w_uv = randn({hq, dv, dc}, g);
  at::Tensor q_nope = randn({b, hq, dn}, g), q_rope = randn({b, hq, dr}, g);
  at::Tensor kv = randn({s_slots, l, dc}, g), kr = randn({s_slots, l, dr}, g);
  at::Tensor slots = at::tensor({2L, 0L, 3L}), lengths = at::tensor({9L, 1L, 5L});
  // q_latent[b,h] = W_UK[h]^T q_nope[b,h]
  at::Tensor q_lat = q_nope.unsqueeze(-1).mul(w_uk.unsqueeze(0)).sum(2);  // [B, Hq, Dc]
  auto [out, lse] = gk::mla_decode(q_lat, q_rope, kv, kr, slots, lengths, scale);
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{b, hq, dc}));
  auto D = [](const at::Tensor& t) { return t.to(at::kDouble); };
  for (int64_t i = 0; i < b; ++i) {
    const int64_t sl = slots[i].item<int64_t>(), len = lengths[i].item<int64_t>();
    for (int64_t h = 0; h < hq; ++h) {
      std::vector<double> s(len);
      double mx = -1e300;
      for (int64_t t = 0; t < len; ++t) {
        at::Tensor k_nope = D(w_uk[h]).matmul(D(kv[sl][t]));  // [Dn]
        s[t] = (D(q_nope[i][h]).dot(k_nope).item<double>() +
                D(q_rope[i][h]).dot(D(kr[sl][t])).item<double>()) * scale;
        mx = std::max(mx, s[t]);
      }
      double z = 0;
      for (double v : s) z += std::exp(v - mx);
      EXPECT_NEAR(lse[i][h].item<double>(), mx + std::log(z), 1e-4);
      at::Tensor o = at::zeros({dv}, at::TensorOptions().dtype(at::kDouble));
      for (int64_t t = 0; t < len; ++t)
        o.add_(D(w_uv[h]).matmul(D(kv[sl][t])).mul(std::exp(s[t] - mx) / z));
      at::Tensor got = D(w_uv[h]).matmul(D(out[i][h]));
      EXPECT_LT(max_abs_diff(got, o), 1e-4) << "row " << i << " head " << h;
    }
  }
}

TEST(MlaDecode, RejectsLengthBeyondCache) {
  auto g = gen(32);
  EXPECT_THROW(gk::mla_decode(randn({1, 2, 4}, g), randn({1, 2, 2}, g), randn({2, 3, 4}, g),
                              randn({2, 3, 2}, g), at::tensor({0L}), at::tensor({4L}), 1.0),
               c10::Error);
}

// ---------------------------------------------------------------- token log-probs
namespace {
void check_logprobs(at::ScalarType dt, int64_t n, int64_t h, int64_t v, int64_t chunk, double temp,
                    double tol, uint64_t seed) {
  auto g = gen(seed);
  at::Tensor hid = randn({n, h}, g, dt).requires_grad_(true);
  at::Tensor w = randn({v, h}, g, dt).mul(0.5).detach().requires_grad_(true);
  at::Tensor tgt = at::randint(0, v, {n}, g, at::TensorOptions().dtype(at::kLong));
  at::Tensor g_lp = randn({n}, g), g_ent = randn({n}, g);
  auto [lp, ent] = gk::token_logprobs(hid, w, tgt, temp, chunk, /*with_entropy=*/true);
  at::Tensor loss = lp.mul(g_lp).sum().add(ent.mul(g_ent).sum());
  at::Tensor dh = grad_of(loss, hid), dw = grad_of(loss, w);
  // Naive: full [N, V] logits in double, log_softmax, autograd.
  at::Tensor hd = hid.detach().to(at::kDouble).requires_grad_(true);
  at::Tensor wd = w.detach().to(at::kDouble).requires_grad_(true);
  at::Tensor logp = at::log_softmax(hd.matmul(wd.t()).div(temp), -1);
  at::Tensor lp_ref = logp.gather(1, tgt.unsqueeze(1)).squeeze(1);
  at::Tensor ent_ref = logp.exp().mul(logp).sum(-1).neg();
  at::Tensor loss_ref = lp_ref.mul(g_lp.to(at::kDouble)).sum().add(
      ent_ref.mul(g_ent.to(at::kDouble)).sum());
  at::Tensor dh_ref = grad_of(loss_ref, hd), dw_ref = grad_of(loss_ref, wd);
  auto rel = [](const at::Tensor& a, const at::Tensor& b) {
    return a.to(at::kDouble).sub(b).norm().item<double>() / b.norm().item<double>();
  };
  EXPECT_EQ(lp.scalar_type(), at::kFloat);
  EXPECT_LT(rel(lp, lp_ref), tol);
  EXPECT_LT(rel(ent, ent_ref), tol);
  EXPECT_LT(rel(dh, dh_ref), tol);
  EXPECT_LT(rel(dw, dw_ref), tol);
  EXPECT_EQ(dh.scalar_type(), dt);
  EXPECT_EQ(dw.scalar_type(), dt);
}
}  // namespace

TEST(TokenLogprobs, Fp32ChunkedMatchesFullLogSoftmaxWithGradients) {
  check_logprobs(at::kFloat, 13, 8, 37, /*chunk=*/4, /*temp=*/0.7, 1e-5, 41);
}

TEST(TokenLogprobs, OneChunkAndDefaultChunkAgree) {
  check_logprobs(at::kFloat, 6, 5, 11, /*chunk=*/0, /*temp=*/1.0, 1e-5, 42);
  check_logprobs(at::kFloat, 6, 5, 11, /*chunk=*/100, /*temp=*/1.3, 1e-5, 43);
}

TEST(TokenLogprobs, Bf16WithinBf16Tolerance) {
  check_logprobs(at::kBFloat16, 9, 16, 50, /*chunk=*/4, /*temp=*/1.0, 3e-2, 44);
}

TEST(TokenLogprobs, WithoutEntropyReturnsUndefinedAndGradOfLogprobOnly) {
  auto g = gen(45);
  at::Tensor hid = randn({4, 3}, g).requires_grad_(true);
  at::Tensor w = randn({6, 3}, g);
  at::Tensor tgt = at::tensor({0L, 5L, 2L, 2L});
  auto [lp, ent] = gk::token_logprobs(hid, w, tgt, 1.0, 3, false);
  EXPECT_FALSE(ent.defined());
  at::Tensor dh = grad_of(lp.sum(), hid);
  at::Tensor logp = at::log_softmax(hid.detach().matmul(w.t()), -1);
  EXPECT_LT(max_abs_diff(lp, logp.gather(1, tgt.unsqueeze(1)).squeeze(1)), 1e-6);
  // d/dh sum_i logp_i = sum_i (W[t_i] - p_i W)
  at::Tensor expect = w.index_select(0, tgt).sub(logp.exp().matmul(w));
  EXPECT_LT(max_abs_diff(dh, expect), 1e-5);
}

TEST(TokenLogprobs, FrozenWeightGetsNoGradientAndHiddenGradientIsUnchanged) {
  auto g = gen(48);
  at::Tensor hid = randn({7, 5}, g).requires_grad_(true);
  at::Tensor w = randn({9, 5}, g);  // frozen output embedding
  at::Tensor tgt = at::randint(0, 9, {7}, g, at::TensorOptions().dtype(at::kLong));
  auto [lp, ent] = gk::token_logprobs(hid, w, tgt, 1.0, 3, true);
  at::Tensor dh = grad_of(lp.sum().add(ent.sum()), hid);
  at::Tensor w2 = w.clone().requires_grad_(true);
  auto [lp2, ent2] = gk::token_logprobs(hid, w2, tgt, 1.0, 3, true);
  auto both = torch::autograd::grad({lp2.sum().add(ent2.sum())}, {hid, w2});
  EXPECT_LT(max_abs_diff(dh, both[0]), 1e-7);
}

TEST(TokenLogprobs, RejectsTargetOutsideVocabulary) {
  auto g = gen(46);
  try {
    gk::token_logprobs(randn({2, 3}, g), randn({4, 3}, g), at::tensor({1L, 4L}), 1.0, 0, false);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("targets must be in [0, V = 4)"), std::string::npos)
        << e.what();
  }
}

TEST(Dispatch, SwitchIsProcessWide) {
  gk::set_use_kernels(true);
  EXPECT_TRUE(gk::use_kernels());
  gk::set_use_kernels(false);
  EXPECT_FALSE(gk::use_kernels());
  gk::set_use_kernels(true);
}
