// kernels/cpu_kernels.cpp: fast CPU implementations of the inference ops (see cpu_ops.h).
// Design: the tensor-level functions check their arguments with the reference's checks,
// take raw fp32 pointers of contiguous tensors and run one row loop each; the per-row work
// lives in small functions compiled three times (AVX-512, AVX2+FMA, baseline) through
// GCC's target_clones, so one binary uses the widest vectors the machine has. Reductions
// use `omp simd` (this file is built with -fopenmp-simd, which needs no OpenMP runtime).
// defines: rms_norm, add_rms_norm, moe_gate, moe_routing, moe_unpermute, grouped_gemm,
//          mla_decode
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu_ops.h"
#include "kernels/reference.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GRPO_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GRPO_CPU_CLONES
#endif

namespace grpo::kernels::cpu {
namespace {

inline float dot(const float* __restrict__ a, const float* __restrict__ b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline float sum_sq(const float* __restrict__ a, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * a[i];
  return s;
}

// Rows per parallel task: about 16k floats of work each, at least one row.
int64_t grain_rows(int64_t row_len) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, row_len));
}

// ---- RMSNorm ---------------------------------------------------------------------------

GRPO_CPU_CLONES void rms_rows(const float* __restrict__ x, const float* __restrict__ res,
                              const float* __restrict__ w, float* __restrict__ y,
                              float* __restrict__ r_out, int64_t r0, int64_t r1, int64_t h,
                              float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * h;
    float* yr = y + r * h;
    const float* src = xr;
    if (res) {  // r = x + residual, kept as the new residual stream
      float* rr = r_out + r * h;
      const float* qr = res + r * h;
#pragma omp simd
      for (int64_t i = 0; i < h; ++i) rr[i] = xr[i] + qr[i];
      src = rr;
    }
    const float inv = 1.0f / std::sqrt(sum_sq(src, h) / static_cast<float>(h) + eps);
#pragma omp simd
    for (int64_t i = 0; i < h; ++i) yr[i] = src[i] * inv * w[i];
  }
}

// ---- MLA decode ------------------------------------------------------------------------

// exp(x) for the softmax's x <= 0: 2^n * p(r) with r = x - n ln2 in [-ln2/2, ln2/2] and a
// degree-6 Taylor polynomial (relative error < 3e-7); plain arithmetic, so it vectorises.
inline float exp_nonpos(float x) {
  x = std::max(x, -87.0f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;  // ln2 hi + lo
  float p = 1.f / 720;
  p = p * r + 1.f / 120;
  p = p * r + 1.f / 24;
  p = p * r + 1.f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

// Register blocks of mla_row: scores for kSt tokens x kSh heads, outputs for kOh heads x
// kOd latent dims.
constexpr int64_t kSh = 8, kSt = 4, kOh = 4, kOd = 16;

// Scratch floats mla_row needs for a row of `len` tokens.
int64_t mla_scratch(int64_t len, int64_t hq, int64_t dc, int64_t dr) {
  const int64_t hp = (hq + kSh - 1) / kSh * kSh;
  return hp * (len + dc + dr + 2);
}

// One row (sequence) of mla_decode over all its heads, as two tiny GEMMs around a softmax:
// S = Q K^T with Q the scaled [hq, Dc + Dr] query (transposed into qt [Dc + Dr][hp], hp =
// hq rounded up to kSh) and K the row's cache, then O = softmax(S) C. Both keep their
// accumulators in vector registers (blocks above) so no partial sum goes through memory.
GRPO_CPU_CLONES void mla_row(const float* __restrict__ ql, const float* __restrict__ qr,
                             const float* __restrict__ c, const float* __restrict__ kr, int64_t len,
                             int64_t hq, int64_t dc, int64_t dr, float scale,
                             float* __restrict__ scratch, float* __restrict__ out,
                             float* __restrict__ lse) {
  const int64_t hp = (hq + kSh - 1) / kSh * kSh;
  float* st = scratch;              // [len][hp] scores, then probabilities
  float* qt = st + len * hp;        // [dc + dr][hp]
  float* mx = qt + (dc + dr) * hp;  // [hp]
  float* sum = mx + hp;             // [hp]
  for (int64_t d = 0; d < dc + dr; ++d)
    for (int64_t h = 0; h < hp; ++h)
      qt[d * hp + h] = h >= hq ? 0.f : (d < dc ? ql[h * dc + d] : qr[h * dr + d - dc]) * scale;
  for (int64_t h0 = 0; h0 < hp; h0 += kSh) {
    for (int64_t t0 = 0; t0 < len; t0 += kSt) {
      const float* cr[kSt];
      const float* rr[kSt];
      for (int64_t i = 0; i < kSt; ++i) {  // rows past the end repeat the last one
        const int64_t t = std::min(t0 + i, len - 1);
        cr[i] = c + t * dc;
        rr[i] = kr + t * dr;
      }
      float acc[kSt][kSh] = {};
      for (int64_t d = 0; d < dc; ++d) {
        const float* q = qt + d * hp + h0;
#pragma GCC unroll 8
        for (int64_t i = 0; i < kSt; ++i) {
          const float v = cr[i][d];
#pragma omp simd
          for (int64_t j = 0; j < kSh; ++j) acc[i][j] += v * q[j];
        }
      }
      for (int64_t d = 0; d < dr; ++d) {
        const float* q = qt + (dc + d) * hp + h0;
#pragma GCC unroll 8
        for (int64_t i = 0; i < kSt; ++i) {
          const float v = rr[i][d];
#pragma omp simd
          for (int64_t j = 0; j < kSh; ++j) acc[i][j] += v * q[j];
        }
      }
      for (int64_t i = 0; i < kSt && t0 + i < len; ++i)
        for (int64_t j = 0; j < kSh; ++j) st[(t0 + i) * hp + h0 + j] = acc[i][j];
    }
  }
  for (int64_t h = 0; h < hp; ++h) {
    mx[h] = -std::numeric_limits<float>::infinity();
    sum[h] = 0.f;
  }
  for (int64_t t = 0; t < len; ++t) {
#pragma omp simd
    for (int64_t h = 0; h < hp; ++h) mx[h] = std::max(mx[h], st[t * hp + h]);
  }
  for (int64_t t = 0; t < len; ++t) {
#pragma omp simd
    for (int64_t h = 0; h < hp; ++h) {
      const float e = exp_nonpos(st[t * hp + h] - mx[h]);
      st[t * hp + h] = e;
      sum[h] += e;
    }
  }
  for (int64_t h = 0; h < hq; ++h) lse[h] = mx[h] + std::log(sum[h]);
  for (int64_t h = 0; h < hp; ++h) sum[h] = h < hq ? 1.0f / sum[h] : 0.f;
  for (int64_t t = 0; t < len; ++t) {
#pragma omp simd
    for (int64_t h = 0; h < hp; ++h) st[t * hp + h] *= sum[h];
  }
  int64_t d0 = 0;
  for (; d0 + kOd <= dc; d0 += kOd) {
    for (int64_t h0 = 0; h0 < hp; h0 += kOh) {
      float acc[kOh][kOd] = {};
      for (int64_t t = 0; t < len; ++t) {
        const float* ct = c + t * dc + d0;
        const float* pt = st + t * hp + h0;
#pragma GCC unroll 8
        for (int64_t i = 0; i < kOh; ++i) {
          const float p = pt[i];
#pragma omp simd
          for (int64_t j = 0; j < kOd; ++j) acc[i][j] += p * ct[j];
        }
      }
      for (int64_t i = 0; i < kOh && h0 + i < hq; ++i)
        for (int64_t j = 0; j < kOd; ++j) out[(h0 + i) * dc + d0 + j] = acc[i][j];
    }
  }
  for (; d0 < dc; ++d0) {  // latent dims past the last full block
    for (int64_t h = 0; h < hq; ++h) {
      float a = 0.f;
      for (int64_t t = 0; t < len; ++t) a += st[t * hp + h] * c[t * dc + d0];
      out[h * dc + d0] = a;
    }
  }
}

// ---- MoE -------------------------------------------------------------------------------

// out[n] = sum_k w[n, k] * y[pos[n*K + k]] for rows n in [n0, n1).
GRPO_CPU_CLONES void unpermute_rows(const float* __restrict__ y, const float* __restrict__ w,
                                    const int64_t* __restrict__ pos, float* __restrict__ out,
                                    int64_t n0, int64_t n1, int64_t k, int64_t h) {
  for (int64_t n = n0; n < n1; ++n) {
    float* o = out + n * h;
    std::fill(o, o + h, 0.f);
    for (int64_t j = 0; j < k; ++j) {
      const float wj = w[n * k + j];
      const float* yr = y + pos[n * k + j] * h;
#pragma omp simd
      for (int64_t i = 0; i < h; ++i) o[i] += wj * yr[i];
    }
  }
}

}  // namespace

bool handles(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  ref::check_rms_norm_args(x, weight, eps);
  at::Tensor xc = x.contiguous(), wc = weight.to(at::kFloat).contiguous();
  at::Tensor y = at::empty(x.sizes(), xc.options());
  const int64_t h = x.size(-1), rows = h ? x.numel() / h : 0;
  const float *xp = xc.const_data_ptr<float>(), *wp = wc.const_data_ptr<float>();
  float* yp = y.mutable_data_ptr<float>();
  at::parallel_for(0, rows, grain_rows(h), [&](int64_t r0, int64_t r1) {
    rms_rows(xp, nullptr, wp, yp, nullptr, r0, r1, h, static_cast<float>(eps));
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& residual,
                                                const at::Tensor& weight, double eps) {
  TORCH_CHECK(x.defined() && residual.defined() && x.sizes() == residual.sizes(),
              "add_rms_norm: x ", x.sizes(), " and residual ", residual.sizes(),
              " must have the same shape");
  TORCH_CHECK(x.scalar_type() == residual.scalar_type(), "add_rms_norm: x is ", x.scalar_type(),
              " but residual is ", residual.scalar_type());
  ref::check_rms_norm_args(x, weight, eps);
  at::Tensor xc = x.contiguous(), rc = residual.contiguous();
  at::Tensor wc = weight.to(at::kFloat).contiguous();
  at::Tensor y = at::empty(x.sizes(), xc.options()), r = at::empty(x.sizes(), xc.options());
  const int64_t h = x.size(-1), rows = h ? x.numel() / h : 0;
  const float *xp = xc.const_data_ptr<float>(), *rp = rc.const_data_ptr<float>();
  const float* wp = wc.const_data_ptr<float>();
  float *yp = y.mutable_data_ptr<float>(), *ro = r.mutable_data_ptr<float>();
  at::parallel_for(0, rows, grain_rows(h), [&](int64_t r0, int64_t r1) {
    rms_rows(xp, rp, wp, yp, ro, r0, r1, h, static_cast<float>(eps));
  });
  return {y, r};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> moe_gate(const at::Tensor& logits,
                                                        const at::Tensor& bias,
                                                        const MoeGateOptions& opt) {
  ref::check_moe_gate_args(logits, bias, opt);
  const int64_t n = logits.size(0), e = logits.size(1), k = opt.top_k;
  const int64_t per = e / opt.n_group;
  at::Tensor lc = logits.contiguous();
  at::Tensor bc = bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
  at::Tensor idx = at::empty({n, k}, logits.options().dtype(at::kLong));
  at::Tensor w = at::empty({n, k}, logits.options());
  const float* lp = lc.const_data_ptr<float>();
  const float* bp = bc.defined() ? bc.const_data_ptr<float>() : nullptr;
  int64_t* ip = idx.mutable_data_ptr<int64_t>();
  float* wp = w.mutable_data_ptr<float>();
  at::parallel_for(0, n, grain_rows(4 * e), [&](int64_t n0, int64_t n1) {
    std::vector<float> score(e), choice(e), gscore(opt.n_group);
    std::vector<int64_t> order(e), gorder(opt.n_group);
    std::vector<char> gkeep(opt.n_group);
    for (int64_t r = n0; r < n1; ++r) {
      const float* l = lp + r * e;
      if (opt.sigmoid) {
        for (int64_t j = 0; j < e; ++j) score[j] = 1.0f / (1.0f + std::exp(-l[j]));
      } else {
        float m = *std::max_element(l, l + e), sum = 0.f;
        for (int64_t j = 0; j < e; ++j) sum += (score[j] = std::exp(l[j] - m));
        for (int64_t j = 0; j < e; ++j) score[j] /= sum;
      }
      for (int64_t j = 0; j < e; ++j) choice[j] = bp ? score[j] + bp[j] : score[j];
      // Higher value first; equal values: lower index first.
      auto by_choice = [&](int64_t a, int64_t b) {
        return choice[a] > choice[b] || (choice[a] == choice[b] && a < b);
      };
      if (opt.n_group > 1) {
        for (int64_t g = 0; g < opt.n_group; ++g) {
          const float* cg = choice.data() + g * per;
          if (opt.sigmoid) {  // sum of the group's top-2 biased scores
            float a = -std::numeric_limits<float>::infinity(), b = a;
            for (int64_t j = 0; j < per; ++j) {
              if (cg[j] > a) {
                b = a;
                a = cg[j];
              } else if (cg[j] > b) {
                b = cg[j];
              }
            }
            gscore[g] = per >= 2 ? a + b : a;
          } else {
            gscore[g] = *std::max_element(cg, cg + per);
          }
        }
        std::iota(gorder.begin(), gorder.end(), 0);
        std::partial_sort(gorder.begin(), gorder.begin() + opt.topk_group, gorder.end(),
                          [&](int64_t a, int64_t b) {
                            return gscore[a] > gscore[b] || (gscore[a] == gscore[b] && a < b);
                          });
        std::fill(gkeep.begin(), gkeep.end(), 0);
        for (int64_t g = 0; g < opt.topk_group; ++g) gkeep[gorder[g]] = 1;
        for (int64_t j = 0; j < e; ++j)
          if (!gkeep[j / per]) choice[j] = -std::numeric_limits<float>::infinity();
      }
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), by_choice);
      float wsum = 0.f;
      for (int64_t j = 0; j < k; ++j) wsum += score[order[j]];
      const float denom = opt.norm_topk_prob ? wsum + 1e-20f : 1.0f;
      for (int64_t j = 0; j < k; ++j) {
        ip[r * k + j] = order[j];
        wp[r * k + j] = score[order[j]] / denom * static_cast<float>(opt.routed_scaling_factor);
      }
    }
  });
  at::Tensor load = at::zeros({e}, idx.options());
  int64_t* ld = load.mutable_data_ptr<int64_t>();
  for (int64_t i = 0; i < n * k; ++i) ++ld[ip[i]];
  return {idx, w, load};
}

MoeRouting moe_routing(const at::Tensor& topk_idx, int64_t num_experts) {
  TORCH_CHECK(topk_idx.defined() && topk_idx.dim() == 2 && topk_idx.scalar_type() == at::kLong,
              "moe_routing: topk_idx must be int64 [N, K], got ", topk_idx.sizes(), " ",
              topk_idx.scalar_type());
  TORCH_CHECK(num_experts >= 1, "moe_routing: num_experts must be >= 1, got ", num_experts);
  at::Tensor ic = topk_idx.contiguous();
  const int64_t nk = ic.numel(), k = ic.size(1);
  const int64_t* ip = ic.const_data_ptr<int64_t>();
  auto lo = ic.options();
  MoeRouting r;
  r.num_experts = num_experts;
  r.top_k = k;
  r.counts = at::zeros({num_experts}, lo);
  r.token = at::empty({nk}, lo);
  r.pos = at::empty({nk}, lo);
  int64_t* cnt = r.counts.mutable_data_ptr<int64_t>();
  for (int64_t i = 0; i < nk; ++i) {
    TORCH_CHECK(ip[i] >= 0 && ip[i] < num_experts, "moe_routing: expert ids must be in [0, ",
                num_experts, "), got ", ip[i]);
    ++cnt[ip[i]];
  }
  // Counting sort over the pairs in order n*K + k: stable, as the reference's argsort.
  std::vector<int64_t> next(num_experts, 0);
  for (int64_t e = 1; e < num_experts; ++e) next[e] = next[e - 1] + cnt[e - 1];
  int64_t *tp = r.token.mutable_data_ptr<int64_t>(), *pp = r.pos.mutable_data_ptr<int64_t>();
  for (int64_t i = 0; i < nk; ++i) {
    const int64_t row = next[ip[i]]++;
    tp[row] = i / k;
    pp[i] = row;
  }
  return r;
}

at::Tensor moe_unpermute(const at::Tensor& y, const at::Tensor& weight, const MoeRouting& routing) {
  TORCH_CHECK(routing.token.defined() && routing.pos.defined() && routing.top_k >= 1,
              "moe_unpermute: routing is empty; build it with moe_routing()");
  const int64_t nk = routing.pos.numel(), k = routing.top_k;
  TORCH_CHECK(y.defined() && y.dim() == 2 && y.size(0) == nk,
              "moe_unpermute: y must be [N*K, H] with N*K = ", nk, ", got ", y.sizes());
  TORCH_CHECK(
      weight.defined() && weight.dim() == 2 && weight.size(0) * k == nk && weight.size(1) == k,
      "moe_unpermute: weight must be [N, K] = [", nk / k, ", ", k, "], got ", weight.sizes());
  const int64_t n = nk / k, h = y.size(1);
  at::Tensor yc = y.contiguous(), wc = weight.to(at::kFloat).contiguous();
  at::Tensor pc = routing.pos.contiguous();
  at::Tensor out = at::empty({n, h}, yc.options());
  const float *yp = yc.const_data_ptr<float>(), *wp = wc.const_data_ptr<float>();
  const int64_t* pp = pc.const_data_ptr<int64_t>();
  float* op = out.mutable_data_ptr<float>();
  at::parallel_for(0, n, grain_rows(k * h),
                   [&](int64_t n0, int64_t n1) { unpermute_rows(yp, wp, pp, op, n0, n1, k, h); });
  return out;
}

at::Tensor grouped_gemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& counts) {
  TORCH_CHECK(x.defined() && x.dim() == 2, "grouped_gemm: x must be a float tensor [M, K], got ",
              x.sizes());
  TORCH_CHECK(w.defined() && w.dim() == 3 && w.size(2) == x.size(1),
              "grouped_gemm: w must be [E, N, K] with K = ", x.size(1), ", got ", w.sizes());
  TORCH_CHECK(w.scalar_type() == x.scalar_type(), "grouped_gemm: w is ", w.scalar_type(),
              " but x is ", x.scalar_type());
  TORCH_CHECK(counts.defined() && counts.dim() == 1 && counts.size(0) == w.size(0),
              "grouped_gemm: counts must be [E] with E = ", w.size(0), ", got ", counts.sizes());
  at::Tensor c = counts.to(at::kLong).contiguous();
  const int64_t* cp = c.const_data_ptr<int64_t>();
  int64_t total = 0;
  for (int64_t e = 0; e < c.numel(); ++e) {
    TORCH_CHECK(cp[e] >= 0, "grouped_gemm: counts[", e, "] = ", cp[e], " is negative");
    total += cp[e];
  }
  TORCH_CHECK(total == x.size(0), "grouped_gemm: counts sum to ", total, " but x has ", x.size(0),
              " rows");
  at::Tensor out = at::empty({x.size(0), w.size(1)}, x.options());
  const int64_t E = c.numel();
  std::vector<int64_t> first(E + 1, 0);
  for (int64_t e = 0; e < E; ++e) first[e + 1] = first[e] + cp[e];
  // Experts in parallel, one single-threaded GEMM each (inside parallel_for ATen runs ops
  // on the calling thread): small per-expert GEMMs lose more to splitting each of them
  // across threads than they gain.
  at::parallel_for(0, E, 1, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      if (cp[e] == 0) continue;
      at::Tensor dst = out.narrow(0, first[e], cp[e]);
      at::mm_out(dst, x.narrow(0, first[e], cp[e]), w.select(0, e).t());
    }
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> mla_decode(const at::Tensor& q_latent, const at::Tensor& q_rope,
                                              const at::Tensor& kv_latent, const at::Tensor& k_rope,
                                              const at::Tensor& slots, const at::Tensor& lengths,
                                              double softmax_scale) {
  ref::check_mla_decode_args(q_latent, q_rope, kv_latent, k_rope, slots, lengths,
                             /*check_values=*/false);
  const int64_t b = q_latent.size(0), hq = q_latent.size(1), dc = q_latent.size(2);
  const int64_t dr = q_rope.size(2), S = kv_latent.size(0), L = kv_latent.size(1);
  at::Tensor ql = q_latent.contiguous(), qr = q_rope.contiguous();
  at::Tensor kv = kv_latent.contiguous(), kr = k_rope.contiguous();
  at::Tensor sc = slots.to(at::kLong).contiguous(), lc = lengths.to(at::kLong).contiguous();
  const int64_t *sp = sc.const_data_ptr<int64_t>(), *lp = lc.const_data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    TORCH_CHECK(sp[i] >= 0 && sp[i] < S, "mla_decode: slots must be in [0, S = ", S, "), got ",
                sp[i]);
    TORCH_CHECK(lp[i] >= 1 && lp[i] <= L, "mla_decode: lengths must be in [1, L = ", L, "], got ",
                lp[i]);
  }
  at::Tensor out = at::empty({b, hq, dc}, ql.options());
  at::Tensor lse = at::empty({b, hq}, ql.options());
  const float *qlp = ql.const_data_ptr<float>(), *qrp = qr.const_data_ptr<float>();
  const float *kvp = kv.const_data_ptr<float>(), *krp = kr.const_data_ptr<float>();
  float *op = out.mutable_data_ptr<float>(), *lsp = lse.mutable_data_ptr<float>();
  const float scale = static_cast<float>(softmax_scale);
  at::parallel_for(0, b, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> scratch;
    for (int64_t i = i0; i < i1; ++i) {
      scratch.resize(static_cast<size_t>(mla_scratch(lp[i], hq, dc, dr)));
      mla_row(qlp + i * hq * dc, qrp + i * hq * dr, kvp + sp[i] * L * dc, krp + sp[i] * L * dr,
              lp[i], hq, dc, dr, scale, scratch.data(), op + i * hq * dc, lsp + i * hq);
    }
  });
  return {out, lse};
}

}  // namespace grpo::kernels::cpu
