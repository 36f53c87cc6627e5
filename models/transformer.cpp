// models/transformer.cpp: the decoder-only transformer behind CausalLM for every supported
// family — dense (Llama, Qwen2 with qkv bias, Qwen3 with q/k norm, GQA) and DeepSeek
// (MLA attention, DeepSeekMoE, MTP) — with a full-sequence path (training, scoring) and a
// slot-based incremental decode path.
// Design notes:
//  - Parameters live in a torch::nn::Module tree whose dotted names are the Hugging Face
//    names (model.layers.0.self_attn.q_proj.weight ...), so module().named_parameters()
//    and state() agree; routed experts are stacked [E, ...] parameters (one grouped
//    dispatch per layer) and state() exposes per-expert views under HF names.
//  - Facts carried from the published code (no code copied): DeepSeek-V3 inference/model.py
//    and HF modeling_deepseek_v3.py (MLA with decoupled rope; rope on interleaved pairs;
//    softmax scale times YaRN mscale^2; sigmoid gate, correction bias for selection only,
//    group-limited top-k, normalised weights times routed_scaling_factor; shared experts
//    added), DeepSeek-V2 paper (absorbed MLA decode: W_UK folded into q, W_UV applied to the
//    attended latent), DeepSeek-V3 paper (sequence-wise balance loss eq. 17-20, MTP
//    eq. 21-25), HF llama/qwen2/qwen3 (rotate-half rope, GQA, q/k RMSNorm per head).
//  - The decode cache stores, per layer and slot, MLA: the normalised latent c_kv [L, Dc]
//    and the rotated rope key [L, Dr]; dense: K and V [L, Hkv, D]. New tokens are written
//    at each slot's length and attention reads the first max(len)+T positions with a
//    per-row mask, so slots of different lengths share one batch.
#include "models/transformer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/bincount.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/eye.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>
#include <torch/nn/module.h>

#include <cmath>
#include <map>
#include <numbers>

#include "core/error.h"
#include "kernels/ops.h"

namespace grpo::models {
namespace {

using at::Tensor;
namespace idx = at::indexing;

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32" || s == "fp32" || s == "float") return at::kFloat;
  if (s == "bfloat16" || s == "bf16") return at::kBFloat16;
  if (s == "float16" || s == "fp16" || s == "half") return at::kHalf;
  throw Error(str("model dtype '", s, "' is not supported (float32, bfloat16, float16)"));
}

at::Device parse_device(const std::string& s) {
  try {
    return at::Device(s);
  } catch (const std::exception&) {
    throw Error(str("model device '", s, "' is not a device (cpu, cuda, cuda:0 ...)"));
  }
}

// ---------------------------------------------------------------------------------------
// Parameter tree with Hugging Face names.

class ParamTree {
 public:
  ParamTree(torch::nn::Module& root, const BuildOptions& opt, double init_std)
      : root_(root),
        opt_(opt),
        std_(init_std),
        gen_(at::make_generator<at::CPUGeneratorImpl>(opt.seed)),
        dtype_(parse_dtype(opt.dtype)),
        device_(parse_device(opt.device)) {}

  enum Init { kNormal, kOnes, kZeros };
  // Registers `dotted` (e.g. "model.layers.0.mlp.gate_proj.weight") and returns it.
  // fp32: kept in float32 whatever the model dtype (router weight and bias, as HF does).
  Tensor add(const std::string& dotted, at::IntArrayRef shape, Init init, bool fp32 = false,
             bool buffer = false) {
    auto dot = dotted.rfind('.');
    torch::nn::Module& parent = dot == std::string::npos ? root_ : module_at(dotted.substr(0, dot));
    std::string leaf = dot == std::string::npos ? dotted : dotted.substr(dot + 1);
    Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    if (!opt_.random_init) {
      if (init == kOnes)
        t.fill_(1.0);
      else if (init == kZeros)
        t.zero_();
    } else if (init == kNormal) {
      t.normal_(0.0, std_, gen_);
    } else if (init == kOnes) {
      t.fill_(1.0);
    } else {
      t.zero_();
    }
    t = t.to(device_, fp32 ? at::kFloat : dtype_);
    if (buffer) return root_buffer(parent, leaf, t);
    return parent.register_parameter(leaf, t);
  }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

 private:
  static Tensor root_buffer(torch::nn::Module& m, const std::string& name, const Tensor& t) {
    return m.register_buffer(name, t);
  }
  torch::nn::Module& module_at(const std::string& path) {
    auto it = modules_.find(path);
    if (it != modules_.end()) return *it->second;
    auto dot = path.rfind('.');
    torch::nn::Module& parent = dot == std::string::npos ? root_ : module_at(path.substr(0, dot));
    std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
    auto m = parent.register_module(leaf, std::make_shared<torch::nn::Module>());
    modules_[path] = m;
    return *m;
  }

  torch::nn::Module& root_;
  BuildOptions opt_;
  double std_;
  at::Generator gen_;
  at::ScalarType dtype_;
  at::Device device_;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules_;
};

// ---------------------------------------------------------------------------------------
// Rotary embeddings.

struct Rope {
  Tensor inv_freq;  // [rd/2] fp32
  double attention_factor = 1.0;
  bool interleave = false;  // DeepSeek: rotate pairs (x0,x1),(x2,x3)...; else halves

  // cos, sin: [B, T, rd/2] in dtype, from positions [B, T].
  std::pair<Tensor, Tensor> tables(const Tensor& pos, at::ScalarType dtype) const {
    Tensor f = pos.to(at::kFloat).unsqueeze(-1) * inv_freq.to(pos.device());
    Tensor c = f.cos(), s = f.sin();
    if (attention_factor != 1.0) {
      c = c * attention_factor;
      s = s * attention_factor;
    }
    return {c.to(dtype), s.to(dtype)};
  }
  // x: [B, T, heads, rd]; cos/sin: [B, T, rd/2]. Returns the rotated x, laid out with the
  // rotated first-of-pair components in the first half (HF's layout for both variants;
  // q and k share it, so dot products equal those of the original interleaved layout).
  Tensor apply(const Tensor& x, const Tensor& cos, const Tensor& sin) const {
    int64_t d = x.size(-1);
    Tensor x1, x2;
    if (interleave) {
      x1 = x.index({idx::Ellipsis, idx::Slice(0, d, 2)});
      x2 = x.index({idx::Ellipsis, idx::Slice(1, d, 2)});
    } else {
      x1 = x.narrow(-1, 0, d / 2);
      x2 = x.narrow(-1, d / 2, d / 2);
    }
    Tensor c = cos.unsqueeze(2), s = sin.unsqueeze(2);
    return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
  }
};

Rope make_rope(const ModelArgs& a) {
  const RopeArgs& r = a.rope;
  int64_t dim = a.rope_dim();
  int64_t half = dim / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(r.theta, static_cast<double>(2 * i) / static_cast<double>(dim));
  Rope rope;
  rope.interleave = a.is_mla() && a.rope_interleave;
  if (r.type == "linear") {
    for (auto& v : inv) v /= r.factor;
  } else if (r.type == "yarn") {
    // YaRN (Peng et al. 2023) as in HF _compute_yarn_parameters: blend interpolated and
    // extrapolated frequencies with a linear ramp over the correction range.
    auto get_mscale = [](double scale, double m) {
      return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
    };
    double orig = static_cast<double>(r.original_max_position_embeddings);
    auto corr_dim = [&](double rot) {
      return (static_cast<double>(dim) * std::log(orig / (rot * 2.0 * std::numbers::pi))) /
             (2.0 * std::log(r.theta));
    };
    double low = corr_dim(r.beta_fast), high = corr_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      double extrap = 1.0 - ramp;
      inv[i] = (inv[i] / r.factor) * (1.0 - extrap) + inv[i] * extrap;
    }
    if (r.attention_factor)
      rope.attention_factor = *r.attention_factor;
    else if (r.mscale != 0.0 && r.mscale_all_dim != 0.0)
      rope.attention_factor =
          get_mscale(r.factor, r.mscale) / get_mscale(r.factor, r.mscale_all_dim);
    else
      rope.attention_factor = get_mscale(r.factor, 1.0);
  } else if (r.type == "llama3") {
    // Llama 3.1 frequency smoothing (HF _compute_llama3_parameters).
    double old_ctx = static_cast<double>(r.original_max_position_embeddings);
    double low_wl = old_ctx / r.low_freq_factor, high_wl = old_ctx / r.high_freq_factor;
    for (auto& v : inv) {
      double wl = 2.0 * std::numbers::pi / v;
      double scaled = wl > low_wl ? v / r.factor : v;
      if (!(wl < high_wl) && !(wl > low_wl)) {
        double smooth =
            (old_ctx / wl - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        scaled = (1.0 - smooth) * scaled / r.factor + smooth * scaled;
      }
      v = scaled;
    }
  }
  std::vector<float> f(inv.begin(), inv.end());
  rope.inv_freq = at::tensor(f, at::TensorOptions().dtype(at::kFloat));
  return rope;
}

// ---------------------------------------------------------------------------------------
// Blocks.

struct Linear {
  Tensor w, b;  // w: [out, in]; b: [out] or undefined
  Tensor operator()(const Tensor& x) const { return at::linear(x, w, b); }
};

struct Mlp {
  Linear gate, up, down;
  Tensor operator()(const Tensor& x) const { return down(at::silu(gate(x)) * up(x)); }
};

struct Moe {
  Tensor gate_w;                // [E, H] fp32
  Tensor bias;                  // [E] fp32 e_score_correction_bias (buffer)
  Tensor w_gate, w_up, w_down;  // [E, I, H], [E, I, H], [E, H, I]
  bool has_shared = false;
  Mlp shared;
};

struct Attention {
  // dense
  Linear q, k, v, o;
  Tensor q_norm, k_norm;
  // MLA
  Linear q_proj, q_a, q_b, kv_a, kv_b;
  Tensor q_a_norm, kv_a_norm;
};

struct Block {
  Tensor in_norm, post_norm;
  Attention attn;
  bool is_moe = false;
  Mlp mlp;
  Moe moe;
  int64_t moe_index = -1;
};

struct MtpModule {
  Tensor enorm, hnorm, head_norm;
  Linear eh_proj;  // [H, 2H]
  Block block;
};

// One slot-based cache; layer l has a_[l] (MLA: latent [S, L, Dc]; dense: K [S, L, Hkv, D])
// and b_[l] (MLA: rope key [S, L, Dr]; dense: V). Not thread-safe.
class SlotCache final : public KVCache {
 public:
  SlotCache(int64_t slots, int64_t max_len) : len_(slots, 0), max_len_(max_len) {}
  int64_t num_slots() const override { return static_cast<int64_t>(len_.size()); }
  int64_t max_len() const override { return max_len_; }
  int64_t length(int64_t slot) const override {
    check(slot, "length");
    return len_[slot];
  }
  void copy_slot(int64_t src, int64_t dst) override {
    check(src, "copy_slot");
    check(dst, "copy_slot");
    if (src == dst) return;
    c10::NoGradGuard ng;
    int64_t n = len_[src];
    if (n > 0)
      for (auto* v : {&a_, &b_})
        for (auto& t : *v) t.select(0, dst).narrow(0, 0, n).copy_(t.select(0, src).narrow(0, 0, n));
    len_[dst] = n;
  }
  void reset(int64_t slot) override {
    check(slot, "reset");
    len_[slot] = 0;
  }
  int64_t bytes() const override {
    int64_t n = 0;
    for (const auto* v : {&a_, &b_})
      for (const auto& t : *v) n += t.numel() * t.element_size();
    return n;
  }
  void check(int64_t slot, const char* what) const {
    GRPO_ENSURE(slot >= 0 && slot < num_slots(), "KVCache::", what, ": slot ", slot,
                " out of range [0, ", num_slots(), ")");
  }

  std::vector<Tensor> a_, b_;
  std::vector<int64_t> len_;
  int64_t max_len_;
};

// The per-call geometry of a decode step, shared by all layers.
struct DecodeCtx {
  Tensor slot_bt;           // [B, T] int64 slot of each new token
  Tensor pos_bt;            // [B, T] int64 write position (= rope position)
  Tensor slot_idx;          // [B] int64
  int64_t first_slot = -1;  // >= 0 when slots are first_slot, first_slot+1, ... (no gather)
  int64_t lk = 0;           // keys read: max(len) + T
  Tensor mask;              // [B, 1, 1, T, lk] bool: key j visible to new token t of row b
};

// Reads rows of one cache tensor [S, L, ...] for the batch: [B, lk, ...].
Tensor gather_slots(const Tensor& t, const DecodeCtx& c) {
  Tensor head = t.narrow(1, 0, c.lk);
  if (c.first_slot >= 0) return head.narrow(0, c.first_slot, c.slot_bt.size(0));
  return head.index_select(0, c.slot_idx);
}

// q: [B, G, R, T, D]; k: [B, G, Lk, D]; v: [B, G, Lk, Dv]; mask [B, 1, 1, T, Lk].
// Returns scores [B, G, R, T, Lk] (scaled, masked, before softmax) via one batched GEMM.
Tensor scores_of(const Tensor& q, const Tensor& k, double scale) {
  int64_t B = q.size(0), G = q.size(1), R = q.size(2), T = q.size(3), D = q.size(4);
  Tensor s = at::matmul(q.reshape({B, G, R * T, D}), k.transpose(-1, -2));
  return s.view({B, G, R, T, k.size(2)}).mul_(scale);
}
Tensor attend_probs(Tensor s, const Tensor& mask, at::ScalarType dtype) {
  s = s.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  return at::softmax(s, -1, at::kFloat).to(dtype);
}
Tensor apply_probs(const Tensor& p, const Tensor& v) {
  int64_t B = p.size(0), G = p.size(1), R = p.size(2), T = p.size(3), Lk = p.size(4);
  Tensor o = at::matmul(p.reshape({B, G, R * T, Lk}), v);
  return o.view({B, G, R, T, v.size(-1)});
}

class Transformer final : public CausalLM {
 public:
  Transformer(const ModelArgs& args, const BuildOptions& opt) : args_(args) {
    root_ = std::make_shared<torch::nn::Module>("CausalLM");
    double init_std = 0.02;
    if (args.raw.contains("initializer_range") && args.raw["initializer_range"].is_number())
      init_std = args.raw["initializer_range"].get<double>();
    ParamTree P(*root_, opt, init_std);
    dtype_ = P.dtype();
    device_ = P.device();
    const ModelArgs& a = args_;
    const int64_t H = a.hidden_size;
    embed_ = add(P, "model.embed_tokens.weight", {a.vocab_size, H}, ParamTree::kNormal);
    for (int64_t l = 0; l < a.num_hidden_layers; ++l)
      blocks_.push_back(make_block(P, str("model.layers.", l, "."), l));
    norm_ = add(P, "model.norm.weight", {H}, ParamTree::kOnes);
    if (a.tie_word_embeddings) {
      lm_head_ = embed_;
    } else {
      lm_head_ = add(P, "lm_head.weight", {a.vocab_size, H}, ParamTree::kNormal);
    }
    for (int64_t i = 0; i < a.num_nextn_predict_layers; ++i) {
      int64_t l = a.num_hidden_layers + i;
      std::string p = str("model.layers.", l, ".");
      MtpModule m;
      m.enorm = add(P, p + "enorm.weight", {H}, ParamTree::kOnes);
      m.hnorm = add(P, p + "hnorm.weight", {H}, ParamTree::kOnes);
      m.eh_proj.w = add(P, p + "eh_proj.weight", {H, 2 * H}, ParamTree::kNormal);
      m.block = make_block(P, p, l);
      m.head_norm = add(P, p + "shared_head.norm.weight", {H}, ParamTree::kOnes);
      mtp_.push_back(std::move(m));
    }
    rope_ = make_rope(a);
    rope_.inv_freq = rope_.inv_freq.to(device_);
    scale_ = attention_softmax_scale(a);
  }

  // ---- CausalLM --------------------------------------------------------------------

  ForwardOutput forward(const Tensor& input_ids, const Tensor& position_ids,
                        const Tensor& attention_mask, bool with_mtp) override {
    GRPO_ENSURE(input_ids.defined() && input_ids.dim() == 2 && input_ids.scalar_type() == at::kLong,
                "forward: input_ids must be [B, T] int64, got ", shape_of(input_ids));
    const int64_t B = input_ids.size(0), T = input_ids.size(1);
    GRPO_ENSURE(B > 0 && T > 0, "forward: empty input_ids ", shape_of(input_ids));
    Tensor ids = input_ids.to(device_);
    Tensor pos;
    if (position_ids.defined()) {
      GRPO_ENSURE(position_ids.sizes() == input_ids.sizes(), "forward: position_ids ",
                  shape_of(position_ids), " must match input_ids ", shape_of(input_ids));
      pos = position_ids.to(device_, at::kLong);
    } else {
      pos = at::arange(T, at::TensorOptions().dtype(at::kLong).device(device_))
                .unsqueeze(0)
                .expand({B, T});
    }
    Tensor valid;  // [B, T] bool or undefined
    if (attention_mask.defined()) {
      GRPO_ENSURE(attention_mask.sizes() == input_ids.sizes(), "forward: attention_mask ",
                  shape_of(attention_mask), " must match input_ids ", shape_of(input_ids));
      valid = attention_mask.to(device_).ne(0);
    }
    // Attention mask [B, 1, T, T] (true = attend); undefined means plain causal.
    Tensor mask;
    if (position_ids.defined() || valid.defined()) {
      auto o = at::TensorOptions().device(device_);
      Tensor ar = at::arange(T, o.dtype(at::kLong));
      Tensor m = ar.unsqueeze(0).le(ar.unsqueeze(1)).unsqueeze(0).expand({B, T, T});
      if (position_ids.defined()) {
        Tensor seg = pos.eq(0).cumsum(1);
        m = m.logical_and(seg.unsqueeze(2).eq(seg.unsqueeze(1)));
      }
      if (valid.defined()) m = m.logical_and(valid.unsqueeze(1));
      m = m.logical_or(at::eye(T, o.dtype(at::kBool)).unsqueeze(0));  // never an empty row
      mask = m.unsqueeze(1);
    }
    auto [cos, sin] = rope_.tables(pos, dtype_);

    Tensor valid_flat = valid.defined() ? valid.reshape({-1}) : Tensor();
    std::vector<Tensor> loads;
    Tensor aux;
    Tensor h = at::embedding(embed_, ids);
    Tensor x = kernels::rms_norm(h, blocks_[0].in_norm, eps());
    const int64_t L = static_cast<int64_t>(blocks_.size());
    for (int64_t l = 0; l < L; ++l) {
      const Block& b = blocks_[l];
      Tensor a = attn_full(b.attn, x, cos, sin, mask);
      std::tie(x, h) = kernels::add_rms_norm(a, h, b.post_norm, eps());
      Tensor m = ffn(b, x, valid_flat, B, loads, aux);
      const Tensor& next_w = l + 1 < L ? blocks_[l + 1].in_norm : norm_;
      std::tie(x, h) = kernels::add_rms_norm(m, h, next_w, eps());
    }
    ForwardOutput out;
    out.hidden = x;
    if (with_mtp && !mtp_.empty()) {
      std::vector<Tensor> mtp_out;
      Tensor prev = x;
      for (size_t k = 0; k < mtp_.size(); ++k) {
        const MtpModule& m = mtp_[k];
        // Module k+1 predicts token t+k+2 from h_t and the embedding of token t+k+1
        // (paper eq. 21); ids past the end are 0 and must be masked by the caller.
        int64_t s = static_cast<int64_t>(k) + 1;
        Tensor shifted =
            s < T ? at::cat({ids.narrow(1, s, T - s), at::zeros({B, s}, ids.options())}, 1)
                  : at::zeros({B, T}, ids.options());
        Tensor e = kernels::rms_norm(at::embedding(embed_, shifted), m.enorm, eps());
        Tensor hp = kernels::rms_norm(prev, m.hnorm, eps());
        Tensor hm = m.eh_proj(at::cat({e, hp}, -1));
        Tensor xm = kernels::rms_norm(hm, m.block.in_norm, eps());
        Tensor am = attn_full(m.block.attn, xm, cos, sin, mask);
        std::tie(xm, hm) = kernels::add_rms_norm(am, hm, m.block.post_norm, eps());
        std::vector<Tensor> no_loads;
        Tensor no_aux;
        Tensor fm = ffn(m.block, xm, valid_flat, B, no_loads, no_aux);
        Tensor final_m;
        std::tie(final_m, hm) = kernels::add_rms_norm(fm, hm, m.head_norm, eps());
        mtp_out.push_back(final_m);
        prev = final_m;
      }
      out.mtp_hidden = at::stack(mtp_out, 0);
    }
    if (!loads.empty()) out.expert_load = at::stack(loads, 0);
    out.aux_loss = aux;
    return out;
  }

  Tensor logits(const Tensor& hidden) override { return at::linear(hidden, lm_head_); }
  Tensor lm_head_weight() override { return lm_head_; }

  std::unique_ptr<KVCache> make_cache(int64_t num_slots, int64_t max_len) override {
    GRPO_ENSURE(num_slots > 0 && max_len > 0, "make_cache: num_slots and max_len must be > 0, got ",
                num_slots, ", ", max_len);
    auto c = std::make_unique<SlotCache>(num_slots, max_len);
    auto o = at::TensorOptions().dtype(dtype_).device(device_);
    const ModelArgs& a = args_;
    for (size_t l = 0; l < blocks_.size(); ++l) {
      if (a.is_mla()) {
        c->a_.push_back(at::zeros({num_slots, max_len, a.kv_lora_rank}, o));
        c->b_.push_back(at::zeros({num_slots, max_len, a.qk_rope_head_dim}, o));
      } else {
        c->a_.push_back(at::zeros({num_slots, max_len, a.num_key_value_heads, a.head_dim}, o));
        c->b_.push_back(at::zeros({num_slots, max_len, a.num_key_value_heads, a.head_dim}, o));
      }
    }
    return c;
  }

  Tensor decode(KVCache& cache_base, const std::vector<int64_t>& slots,
                const Tensor& input_ids) override {
    auto* cache = dynamic_cast<SlotCache*>(&cache_base);
    GRPO_ENSURE(cache && cache->a_.size() == blocks_.size(),
                "decode: the cache was not made by this model's make_cache");
    GRPO_ENSURE(input_ids.defined() && input_ids.dim() == 2 && input_ids.scalar_type() == at::kLong,
                "decode: input_ids must be [B, T] int64, got ", shape_of(input_ids));
    const int64_t B = input_ids.size(0), T = input_ids.size(1);
    GRPO_ENSURE(B == static_cast<int64_t>(slots.size()) && T > 0, "decode: input_ids ",
                shape_of(input_ids), " needs one slot per row, got ", slots.size(), " slots");
    c10::NoGradGuard no_grad;
    std::vector<int64_t> lens(B);
    int64_t max_len = 0;
    bool contiguous = true;
    for (int64_t b = 0; b < B; ++b) {
      cache->check(slots[b], "decode");
      for (int64_t c = 0; c < b; ++c)
        GRPO_ENSURE(slots[c] != slots[b], "decode: slot ", slots[b], " appears twice");
      lens[b] = cache->len_[slots[b]];
      GRPO_ENSURE(lens[b] + T <= cache->max_len_, "decode: slot ", slots[b], " holds ", lens[b],
                  " tokens; ", T, " more exceed max_len ", cache->max_len_);
      max_len = std::max(max_len, lens[b]);
      if (b > 0 && slots[b] != slots[b - 1] + 1) contiguous = false;
    }
    auto lo = at::TensorOptions().dtype(at::kLong);
    DecodeCtx ctx;
    ctx.lk = max_len + T;
    ctx.first_slot = contiguous ? slots[0] : -1;
    Tensor len_t = at::tensor(lens, lo).to(device_);
    ctx.slot_idx = at::tensor(slots, lo).to(device_);
    Tensor ar_t = at::arange(T, lo.device(device_));
    ctx.pos_bt = len_t.unsqueeze(1) + ar_t.unsqueeze(0);
    ctx.slot_bt = ctx.slot_idx.unsqueeze(1).expand({B, T});
    Tensor keys = at::arange(ctx.lk, lo.device(device_));
    ctx.mask = keys.view({1, 1, ctx.lk}).le(ctx.pos_bt.unsqueeze(2)).view({B, 1, 1, T, ctx.lk});

    Tensor ids = input_ids.to(device_);
    auto [cos, sin] = rope_.tables(ctx.pos_bt, dtype_);
    std::vector<Tensor> loads;
    Tensor aux;
    Tensor h = at::embedding(embed_, ids);
    Tensor x = kernels::rms_norm(h, blocks_[0].in_norm, eps());
    const int64_t L = static_cast<int64_t>(blocks_.size());
    for (int64_t l = 0; l < L; ++l) {
      const Block& b = blocks_[l];
      Tensor a = attn_decode(b.attn, x, cos, sin, cache->a_[l], cache->b_[l], ctx);
      std::tie(x, h) = kernels::add_rms_norm(a, h, b.post_norm, eps());
      Tensor m = ffn(b, x, Tensor(), B, loads, aux);
      if (l + 1 < L) {
        std::tie(x, h) = kernels::add_rms_norm(m, h, blocks_[l + 1].in_norm, eps());
      } else {
        Tensor last = (h.select(1, T - 1) + m.select(1, T - 1));
        x = kernels::rms_norm(last, norm_, eps());
      }
    }
    for (int64_t b = 0; b < B; ++b) cache->len_[slots[b]] += T;
    return at::linear(x, lm_head_).to(at::kFloat);
  }

  torch::nn::Module& module() override { return *root_; }
  const ModelArgs& args() const override { return args_; }

  std::vector<std::pair<std::string, Tensor>> state() override {
    std::vector<std::pair<std::string, Tensor>> out;
    out.reserve(state_.size());
    for (const auto& e : state_) {
      if (e.expert < 0) {
        out.emplace_back(e.name, e.t);
      } else {
        out.emplace_back(e.name, e.t.select(0, e.expert));
      }
    }
    return out;
  }

  void update_expert_bias(const Tensor& expert_load, double gamma) override {
    std::vector<const Moe*> moes = moe_layers();
    if (moes.empty()) return;
    GRPO_ENSURE(expert_load.defined() && expert_load.dim() == 2 &&
                    expert_load.size(0) == static_cast<int64_t>(moes.size()) &&
                    expert_load.size(1) == args_.n_routed_experts,
                "update_expert_bias: expert_load must be [", moes.size(), ", ",
                args_.n_routed_experts, "], got ", shape_of(expert_load));
    c10::NoGradGuard ng;
    Tensor load = expert_load.to(device_, at::kFloat);
    for (size_t i = 0; i < moes.size(); ++i) {
      Tensor li = load.select(0, static_cast<int64_t>(i));
      moes[i]->bias.add_((li.mean() - li).sign() * gamma);
    }
  }

 private:
  struct StateEntry {
    std::string name;
    Tensor t;
    int64_t expert = -1;  // >= 0: the per-expert slice t[expert]
  };

  static std::string shape_of(const Tensor& t) {
    if (!t.defined()) return "undefined";
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "] " + std::string(c10::toString(t.scalar_type()));
  }
  double eps() const { return args_.rms_norm_eps; }

  Tensor add(ParamTree& P, const std::string& name, at::IntArrayRef shape, ParamTree::Init init,
             bool fp32 = false, bool buffer = false) {
    Tensor t = P.add(name, shape, init, fp32, buffer);
    state_.push_back({name, t, -1});
    return t;
  }
  Linear linear(ParamTree& P, const std::string& p, int64_t in, int64_t out, bool bias) {
    Linear l;
    l.w = add(P, p + ".weight", {out, in}, ParamTree::kNormal);
    if (bias) l.b = add(P, p + ".bias", {out}, ParamTree::kZeros);
    return l;
  }
  Mlp mlp(ParamTree& P, const std::string& p, int64_t inter) {
    const int64_t H = args_.hidden_size;
    Mlp m;
    m.gate = linear(P, p + "gate_proj", H, inter, false);
    m.up = linear(P, p + "up_proj", H, inter, false);
    m.down = linear(P, p + "down_proj", inter, H, false);
    return m;
  }

  Block make_block(ParamTree& P, const std::string& p, int64_t layer) {
    const ModelArgs& a = args_;
    const int64_t H = a.hidden_size, nH = a.num_attention_heads;
    Block b;
    b.in_norm = add(P, p + "input_layernorm.weight", {H}, ParamTree::kOnes);
    std::string s = p + "self_attn.";
    Attention& att = b.attn;
    if (a.is_mla()) {
      if (a.q_lora_rank > 0) {
        att.q_a = linear(P, s + "q_a_proj", H, a.q_lora_rank, false);
        att.q_a_norm = add(P, s + "q_a_layernorm.weight", {a.q_lora_rank}, ParamTree::kOnes);
        att.q_b = linear(P, s + "q_b_proj", a.q_lora_rank, nH * a.qk_head_dim(), false);
      } else {
        att.q_proj = linear(P, s + "q_proj", H, nH * a.qk_head_dim(), false);
      }
      att.kv_a = linear(P, s + "kv_a_proj_with_mqa", H, a.kv_lora_rank + a.qk_rope_head_dim, false);
      att.kv_a_norm = add(P, s + "kv_a_layernorm.weight", {a.kv_lora_rank}, ParamTree::kOnes);
      att.kv_b = linear(P, s + "kv_b_proj", a.kv_lora_rank,
                        nH * (a.qk_nope_head_dim + a.v_head_dim), false);
      att.o = linear(P, s + "o_proj", nH * a.v_head_dim, H, false);
    } else {
      const int64_t hd = a.head_dim, nKV = a.num_key_value_heads;
      att.q = linear(P, s + "q_proj", H, nH * hd, a.attention_bias);
      att.k = linear(P, s + "k_proj", H, nKV * hd, a.attention_bias);
      att.v = linear(P, s + "v_proj", H, nKV * hd, a.attention_bias);
      att.o = linear(P, s + "o_proj", nH * hd, H, a.o_bias);
      if (a.qk_norm) {
        att.q_norm = add(P, s + "q_norm.weight", {hd}, ParamTree::kOnes);
        att.k_norm = add(P, s + "k_norm.weight", {hd}, ParamTree::kOnes);
      }
    }
    b.post_norm = add(P, p + "post_attention_layernorm.weight", {H}, ParamTree::kOnes);
    if (a.is_moe_layer(layer)) {
      b.is_moe = true;
      if (layer < a.num_hidden_layers) b.moe_index = layer - a.first_k_dense_replace;
      const int64_t E = a.n_routed_experts, I = a.moe_intermediate_size;
      Moe& m = b.moe;
      m.gate_w = add(P, p + "mlp.gate.weight", {E, H}, ParamTree::kNormal, /*fp32=*/true);
      m.bias = add(P, p + "mlp.gate.e_score_correction_bias", {E}, ParamTree::kZeros, true, true);
      std::string e = p + "mlp.experts.";
      m.w_gate = P.add(e + "gate_proj", {E, I, H}, ParamTree::kNormal);
      m.w_up = P.add(e + "up_proj", {E, I, H}, ParamTree::kNormal);
      m.w_down = P.add(e + "down_proj", {E, H, I}, ParamTree::kNormal);
      for (int64_t x = 0; x < E; ++x) {
        state_.push_back({str(e, x, ".gate_proj.weight"), m.w_gate, x});
        state_.push_back({str(e, x, ".up_proj.weight"), m.w_up, x});
        state_.push_back({str(e, x, ".down_proj.weight"), m.w_down, x});
      }
      if (a.n_shared_experts > 0) {
        m.has_shared = true;
        m.shared = mlp(P, p + "mlp.shared_experts.", I * a.n_shared_experts);
      }
    } else {
      b.mlp = mlp(P, p + "mlp.", a.intermediate_size);
    }
    return b;
  }

  std::vector<const Moe*> moe_layers() const {
    std::vector<const Moe*> out;
    for (const auto& b : blocks_)
      if (b.is_moe) out.push_back(&b.moe);
    return out;
  }

  // Query projection of MLA: [B, T, H] -> [B, T, nH, dn + dr].
  Tensor mla_query(const Attention& att, const Tensor& x) const {
    const ModelArgs& a = args_;
    Tensor q = a.q_lora_rank > 0 ? att.q_b(kernels::rms_norm(att.q_a(x), att.q_a_norm, eps()))
                                 : att.q_proj(x);
    return q.view({x.size(0), x.size(1), a.num_attention_heads, a.qk_head_dim()});
  }

  // Full-sequence attention. x: [B, T, H] normed; cos/sin [B, T, rd/2];
  // mask [B, 1, T, T] bool or undefined (causal). Returns [B, T, H].
  Tensor attn_full(const Attention& att, const Tensor& x, const Tensor& cos, const Tensor& sin,
                   const Tensor& mask) const {
    const ModelArgs& a = args_;
    const int64_t B = x.size(0), T = x.size(1), nH = a.num_attention_heads;
    Tensor q, k, v;
    if (a.is_mla()) {
      const int64_t dn = a.qk_nope_head_dim, dr = a.qk_rope_head_dim, kvr = a.kv_lora_rank;
      Tensor qf = mla_query(att, x);
      Tensor q_rope = rope_.apply(qf.narrow(-1, dn, dr), cos, sin);
      q = at::cat({qf.narrow(-1, 0, dn), q_rope}, -1);
      Tensor kv = att.kv_a(x);  // [B, T, kvr + dr]
      Tensor c = kernels::rms_norm(kv.narrow(-1, 0, kvr), att.kv_a_norm, eps());
      Tensor k_rope = rope_.apply(kv.narrow(-1, kvr, dr).unsqueeze(2), cos, sin);  // [B,T,1,dr]
      Tensor kvb = att.kv_b(c).view({B, T, nH, dn + a.v_head_dim});
      k = at::cat({kvb.narrow(-1, 0, dn), k_rope.expand({B, T, nH, dr})}, -1);
      v = kvb.narrow(-1, dn, a.v_head_dim);
    } else {
      const int64_t hd = a.head_dim, nKV = a.num_key_value_heads, rep = nH / nKV;
      q = att.q(x).view({B, T, nH, hd});
      k = att.k(x).view({B, T, nKV, hd});
      v = att.v(x).view({B, T, nKV, hd});
      if (a.qk_norm) {
        q = kernels::rms_norm(q, att.q_norm, eps());
        k = kernels::rms_norm(k, att.k_norm, eps());
      }
      q = rope_.apply(q, cos, sin);
      k = rope_.apply(k, cos, sin);
      if (rep > 1) {
        k = k.unsqueeze(3).expand({B, T, nKV, rep, hd}).reshape({B, T, nH, hd});
        v = v.unsqueeze(3).expand({B, T, nKV, rep, hd}).reshape({B, T, nH, hd});
      }
    }
    Tensor o = at::scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
        mask.defined() ? std::optional<Tensor>(mask) : std::nullopt, 0.0,
        /*is_causal=*/!mask.defined(), scale_);
    return att.o(o.transpose(1, 2).reshape({B, T, -1}));
  }

  // Incremental attention over the slot cache. x: [B, T, H] normed. Writes this step's
  // entries into ca/cb (see SlotCache) and returns [B, T, H].
  Tensor attn_decode(const Attention& att, const Tensor& x, const Tensor& cos, const Tensor& sin,
                     Tensor& ca, Tensor& cb, const DecodeCtx& ctx) const {
    const ModelArgs& a = args_;
    const int64_t B = x.size(0), T = x.size(1), nH = a.num_attention_heads;
    if (a.is_mla()) {
      const int64_t dn = a.qk_nope_head_dim, dr = a.qk_rope_head_dim, kvr = a.kv_lora_rank,
                    dv = a.v_head_dim;
      Tensor qf = mla_query(att, x);
      Tensor q_rope = rope_.apply(qf.narrow(-1, dn, dr), cos, sin);  // [B, T, nH, dr]
      Tensor kv = att.kv_a(x);
      Tensor c = kernels::rms_norm(kv.narrow(-1, 0, kvr), att.kv_a_norm, eps());  // [B,T,kvr]
      Tensor kr =
          rope_.apply(kv.narrow(-1, kvr, dr).unsqueeze(2), cos, sin).squeeze(2);  // [B,T,dr]
      ca.index_put_({ctx.slot_bt, ctx.pos_bt}, c);
      cb.index_put_({ctx.slot_bt, ctx.pos_bt}, kr);
      // Many new tokens (a long prompt): expanding the cached latents through kv_b_proj once
      // is cheaper than the absorbed form, whose per-score width is kvr + dr instead of
      // dn + dr. Per (head, key) the absorbed form costs T (2 kvr + dr) multiply-adds, the
      // expanded one kvr (dn + dv) + T (dn + dr + dv).
      if (T * (2 * kvr + dr) > kvr * (dn + dv) + T * (dn + dr + dv)) {
        Tensor lat = gather_slots(ca, ctx);                         // [B, Lk, kvr]
        Tensor kro = gather_slots(cb, ctx);                         // [B, Lk, dr]
        Tensor kvb = att.kv_b(lat).view({B, ctx.lk, nH, dn + dv});  // [B, Lk, nH, dn+dv]
        Tensor k = at::cat({kvb.narrow(-1, 0, dn), kro.unsqueeze(2).expand({B, ctx.lk, nH, dr})},
                           -1);                                  // [B, Lk, nH, dn+dr]
        Tensor q = at::cat({qf.narrow(-1, 0, dn), q_rope}, -1);  // [B, T, nH, dn+dr]
        Tensor o = at::scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), kvb.narrow(-1, dn, dv).transpose(1, 2),
            ctx.mask.squeeze(1), 0.0, false, scale_);  // [B, nH, T, dv]
        return att.o(o.transpose(1, 2).reshape({B, T, nH * dv}));
      }
      // Absorb W_UK into the query: q_lat[h] = q_nope[h] @ W_UK[h], W_UK[h]: [dn, kvr].
      Tensor w = att.kv_b.w.view({nH, dn + dv, kvr});
      Tensor q_nope = qf.narrow(-1, 0, dn).permute({2, 0, 1, 3}).reshape({nH, B * T, dn});
      Tensor q_lat = at::matmul(q_nope, w.narrow(1, 0, dn));  // [nH, B*T, kvr]
      if (T == 1) {
        // One new token per row: the fused MLA decode kernel (FlashMLA-style split-KV on a
        // GPU, the LibTorch reference on CPU) reads the slots in place, no gather.
        auto [o_lat, lse] = kernels::mla_decode(q_lat.permute({1, 0, 2}).contiguous(),
                                                q_rope.squeeze(1).contiguous(), ca, cb,
                                                ctx.slot_idx, ctx.pos_bt.select(1, 0) + 1, scale_);
        Tensor o = at::matmul(o_lat.permute({1, 0, 2}), w.narrow(1, dn, dv).transpose(1, 2));
        return att.o(o.permute({1, 0, 2}).reshape({B, 1, nH * dv}));  // o: [nH, B, dv]
      }
      q_lat = q_lat.view({nH, B, T, kvr}).permute({1, 0, 2, 3}).unsqueeze(1);  // [B,1,nH,T,kvr]
      Tensor qr = q_rope.permute({0, 2, 1, 3}).unsqueeze(1);                   // [B,1,nH,T,dr]
      Tensor lat = gather_slots(ca, ctx).unsqueeze(1);                         // [B, 1, Lk, kvr]
      Tensor kro = gather_slots(cb, ctx).unsqueeze(1);                         // [B, 1, Lk, dr]
      Tensor s = scores_of(q_lat, lat, scale_).add_(scores_of(qr, kro, scale_));
      Tensor p = attend_probs(s, ctx.mask, dtype_);
      Tensor o_lat = apply_probs(p, lat).squeeze(1);  // [B, nH, T, kvr]
      // Apply W_UV: out[h] = o_lat[h] @ W_UV[h]^T, W_UV[h]: [dv, kvr].
      Tensor ol = o_lat.permute({1, 0, 2, 3}).reshape({nH, B * T, kvr});
      Tensor o = at::matmul(ol, w.narrow(1, dn, dv).transpose(1, 2));  // [nH, B*T, dv]
      o = o.view({nH, B, T, dv}).permute({1, 2, 0, 3}).reshape({B, T, nH * dv});
      return att.o(o);
    }
    const int64_t hd = a.head_dim, nKV = a.num_key_value_heads, rep = nH / nKV;
    Tensor q = att.q(x).view({B, T, nH, hd});
    Tensor k = att.k(x).view({B, T, nKV, hd});
    Tensor v = att.v(x).view({B, T, nKV, hd});
    if (a.qk_norm) {
      q = kernels::rms_norm(q, att.q_norm, eps());
      k = kernels::rms_norm(k, att.k_norm, eps());
    }
    q = rope_.apply(q, cos, sin);
    k = rope_.apply(k, cos, sin);
    ca.index_put_({ctx.slot_bt, ctx.pos_bt}, k);
    cb.index_put_({ctx.slot_bt, ctx.pos_bt}, v);
    Tensor kc = gather_slots(ca, ctx).permute({0, 2, 1, 3});  // [B, nKV, Lk, hd]
    Tensor vc = gather_slots(cb, ctx).permute({0, 2, 1, 3});
    Tensor qg = q.view({B, T, nKV, rep, hd}).permute({0, 2, 3, 1, 4});  // [B, nKV, rep, T, hd]
    Tensor p = attend_probs(scores_of(qg, kc, scale_), ctx.mask, dtype_);
    Tensor o = apply_probs(p, vc);  // [B, nKV, rep, T, hd]
    return att.o(o.permute({0, 3, 1, 2, 4}).reshape({B, T, nH * hd}));
  }

  // Feed-forward of a block on normed x [B, T, H]; MoE layers append their load and add
  // to the balance loss. valid: [B*T] bool (real tokens) or undefined.
  Tensor ffn(const Block& b, const Tensor& x, const Tensor& valid, int64_t B,
             std::vector<Tensor>& loads, Tensor& aux) const {
    if (!b.is_moe) return b.mlp(x);
    const ModelArgs& a = args_;
    const Moe& m = b.moe;
    const int64_t H = a.hidden_size, E = a.n_routed_experts, K = a.num_experts_per_tok;
    Tensor xf = x.reshape({-1, H});
    const int64_t N = xf.size(0);
    Tensor logits = at::linear(xf.to(at::kFloat), m.gate_w);  // [N, E] fp32
    kernels::MoeGateOptions go;
    go.top_k = K;
    go.n_group = a.n_group;
    go.topk_group = a.topk_group;
    go.sigmoid = a.scoring_func == "sigmoid";
    go.norm_topk_prob = a.norm_topk_prob;
    go.routed_scaling_factor = a.routed_scaling_factor;
    auto [topk_idx, topk_w, load] = kernels::moe_gate(logits, go.sigmoid ? m.bias : Tensor(), go);
    if (valid.defined()) {
      Tensor sel = topk_idx.index({valid});
      load = at::bincount(sel.reshape({-1}), {}, E);
    }
    if (b.moe_index >= 0) loads.push_back(load.to(at::kLong));

    // Dispatch (kernels/ops.h): permute the N*K (token, expert) rows into expert order,
    // run every expert on its contiguous rows with grouped GEMMs, and combine each token's
    // K weighted results (fp32 accumulation) back into token order.
    kernels::MoeRouting routing = kernels::moe_routing(topk_idx, E);
    Tensor xs = kernels::moe_permute(xf, routing);  // [N*K, H]
    Tensor hs = at::silu(kernels::grouped_gemm(xs, m.w_gate, routing.counts)) *
                kernels::grouped_gemm(xs, m.w_up, routing.counts);
    Tensor ys = kernels::grouped_gemm(hs, m.w_down, routing.counts);  // [N*K, H]
    Tensor out = kernels::moe_unpermute(ys, topk_w, routing);         // [N, H]
    if (m.has_shared) out = out + m.shared(xf);

    if (a.aux_loss_alpha > 0 && b.moe_index >= 0 && at::GradMode::is_enabled()) {
      // Sequence-wise balance loss (DeepSeek-V3 eq. 17-20): per sequence,
      // alpha * sum_i f_i P_i with f_i = E/(K T) * #tokens choosing i and P_i the mean of
      // the normalised affinity s_i / sum_j s_j over the sequence's real tokens.
      const int64_t T = N / B;
      Tensor s = go.sigmoid ? at::sigmoid(logits) : at::softmax(logits, -1);
      Tensor sn = s / s.sum(-1, true);
      Tensor chosen = at::zeros({N, E}, logits.options()).scatter_(1, topk_idx, 1.0);
      Tensor w = valid.defined() ? valid.to(at::kFloat).view({B, T, 1})
                                 : at::ones({B, T, 1}, logits.options());
      Tensor ntok = w.sum(1).clamp_min(1.0);  // [B, 1]
      Tensor f = (chosen.view({B, T, E}) * w).sum(1) * (static_cast<double>(E) / K) / ntok;
      Tensor P = (sn.view({B, T, E}) * w).sum(1) / ntok;
      Tensor l = (f * P).sum(-1).mean() * a.aux_loss_alpha;
      aux = aux.defined() ? aux + l : l;
    }
    return out.view(x.sizes());
  }

  ModelArgs args_;
  std::shared_ptr<torch::nn::Module> root_;
  at::ScalarType dtype_ = at::kFloat;
  at::Device device_{at::kCPU};
  Tensor embed_, norm_, lm_head_;
  std::vector<Block> blocks_;
  std::vector<MtpModule> mtp_;
  Rope rope_;
  double scale_ = 1.0;
  std::vector<StateEntry> state_;
};

}  // namespace

std::unique_ptr<CausalLM> make_transformer(const ModelArgs& args, const BuildOptions& opt) {
  return std::make_unique<Transformer>(args, opt);
}

}  // namespace grpo::models
