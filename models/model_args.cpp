// models/model_args.cpp: config.json -> ModelArgs. Every key a family uses is read with
// its Hugging Face default; values we cannot run are errors naming the key; keys that
// are pure bookkeeping are accepted silently; anything else is listed as unknown.
#include "models/model_args.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/log.h"

namespace grpo::models {
namespace {

using Json = nlohmann::json;

// Keys that carry no architecture (tooling, generation, init) and are accepted silently.
const std::set<std::string> kBookkeeping = {"architectures",
                                            "auto_map",
                                            "torch_dtype",
                                            "dtype",
                                            "transformers_version",
                                            "use_cache",
                                            "initializer_range",
                                            "pretraining_tp",
                                            "output_router_logits",
                                            "router_aux_loss_coef",
                                            "_name_or_path",
                                            "name_or_path",
                                            "return_dict",
                                            "output_hidden_states",
                                            "output_attentions",
                                            "torchscript",
                                            "chunk_size_feed_forward",
                                            "is_encoder_decoder",
                                            "is_decoder",
                                            "add_cross_attention",
                                            "tie_encoder_decoder",
                                            "problem_type",
                                            "id2label",
                                            "label2id",
                                            "task_specific_params",
                                            "finetuning_task",
                                            "tokenizer_class",
                                            "prefix",
                                            "sep_token_id",
                                            "decoder_start_token_id",
                                            "ep_size",
                                            "moe_layer_freq",
                                            "max_window_layers",
                                            "sliding_window",
                                            "use_sliding_window",
                                            "layer_types",
                                            "attention_dropout",
                                            "rope_scaling",
                                            "rope_theta",
                                            "rope_parameters",
                                            "partial_rotary_factor",
                                            "topk_method",
                                            "seq_aux",
                                            "model_type",
                                            "bos_token_id",
                                            "eos_token_id",
                                            "pad_token_id",
                                            "head_dim",
                                            "mlp_bias",
                                            "hidden_act",
                                            "num_mtp_layers",
                                            "quantization_config",
                                            "qk_head_dim",
                                            "use_mtp",
                                            "keys_to_ignore_at_inference",
                                            "base_model_tp_plan",
                                            "base_model_pp_plan"};

class Reader {
 public:
  Reader(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char* k) const { return j_.contains(k) && !j_[k].is_null(); }

  int64_t i64(const char* k, std::optional<int64_t> def = std::nullopt) {
    used_.insert(k);
    if (!has(k)) {
      GRPO_ENSURE(def.has_value(), where_, ": missing required key '", k, "'");
      return *def;
    }
    const Json& v = j_[k];
    GRPO_ENSURE(v.is_number_integer(), where_, ": key '", k, "' must be an integer, got ",
                v.dump());
    return v.get<int64_t>();
  }
  double f64(const char* k, double def) {
    used_.insert(k);
    if (!has(k)) return def;
    const Json& v = j_[k];
    GRPO_ENSURE(v.is_number(), where_, ": key '", k, "' must be a number, got ", v.dump());
    return v.get<double>();
  }
  bool boolean(const char* k, bool def) {
    used_.insert(k);
    if (!has(k)) return def;
    const Json& v = j_[k];
    GRPO_ENSURE(v.is_boolean(), where_, ": key '", k, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  }
  std::string string(const char* k, const std::string& def) {
    used_.insert(k);
    if (!has(k)) return def;
    const Json& v = j_[k];
    GRPO_ENSURE(v.is_string(), where_, ": key '", k, "' must be a string, got ", v.dump());
    return v.get<std::string>();
  }
  std::vector<std::string> unknown() const {
    std::vector<std::string> out;
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used_.count(it.key()) && !kBookkeeping.count(it.key())) out.push_back(it.key());
    return out;
  }
  const std::string& where() const { return where_; }

 private:
  const Json& j_;
  std::string where_;
  std::set<std::string> used_;
};

void parse_rope(const Json& cfg, Reader& r, ModelArgs& a) {
  // HF v5 writes rope_parameters {rope_type, rope_theta, ...}; older files write
  // rope_theta at the top and rope_scaling {type|rope_type, factor, ...}.
  const std::string& w = r.where();
  Json p = Json::object();
  if (cfg.contains("rope_parameters") && cfg["rope_parameters"].is_object())
    p = cfg["rope_parameters"];
  else if (cfg.contains("rope_scaling") && cfg["rope_scaling"].is_object())
    p = cfg["rope_scaling"];
  auto num = [&](const char* k, double def) {
    if (!p.contains(k) || p[k].is_null()) return def;
    GRPO_ENSURE(p[k].is_number(), w, ": rope parameter '", k, "' must be a number");
    return p[k].get<double>();
  };
  RopeArgs& rope = a.rope;
  rope.theta = num("rope_theta", r.f64("rope_theta", 10000.0));
  std::string type = "default";
  if (p.contains("rope_type") && p["rope_type"].is_string())
    type = p["rope_type"];
  else if (p.contains("type") && p["type"].is_string())
    type = p["type"];
  GRPO_ENSURE(type == "default" || type == "linear" || type == "yarn" || type == "llama3", w,
              ": rope type '", type, "' is not supported (default, linear, yarn, llama3)");
  rope.type = type;
  rope.factor = num("factor", 1.0);
  if (p.contains("partial_rotary_factor") || cfg.contains("partial_rotary_factor")) {
    double prf = p.contains("partial_rotary_factor") ? num("partial_rotary_factor", 1.0)
                                                     : r.f64("partial_rotary_factor", 1.0);
    GRPO_ENSURE(prf == 1.0, w, ": partial_rotary_factor ", prf, " is not supported (only 1.0)");
  }
  if (type == "yarn") {
    rope.original_max_position_embeddings = static_cast<int64_t>(
        num("original_max_position_embeddings", static_cast<double>(a.max_position_embeddings)));
    if (!p.contains("factor") || p["factor"].is_null())
      rope.factor = static_cast<double>(a.max_position_embeddings) /
                    static_cast<double>(rope.original_max_position_embeddings);
    rope.beta_fast = num("beta_fast", 32.0);
    rope.beta_slow = num("beta_slow", 1.0);
    if (rope.beta_fast == 0) rope.beta_fast = 32.0;  // HF: `or 32`
    if (rope.beta_slow == 0) rope.beta_slow = 1.0;
    rope.mscale = num("mscale", 0.0);
    rope.mscale_all_dim = num("mscale_all_dim", 0.0);
    if (p.contains("attention_factor") && !p["attention_factor"].is_null())
      rope.attention_factor = num("attention_factor", 1.0);
    if (p.contains("truncate") && p["truncate"].is_boolean()) rope.truncate = p["truncate"];
  } else if (type == "llama3") {
    rope.low_freq_factor = num("low_freq_factor", 1.0);
    rope.high_freq_factor = num("high_freq_factor", 4.0);
    rope.original_max_position_embeddings =
        static_cast<int64_t>(num("original_max_position_embeddings", 8192));
  }
  GRPO_ENSURE(rope.factor > 0, w, ": rope factor must be > 0");
}

}  // namespace

ModelArgs parse_model_args(const Json& cfg, const std::string& where) {
  GRPO_ENSURE(cfg.is_object(), where, ": a model config must be a JSON object");
  Reader r(cfg, where);
  ModelArgs a;
  a.raw = cfg;
  a.model_type = r.string("model_type", "");
  GRPO_ENSURE(!a.model_type.empty(), where, ": missing required key 'model_type'");
  const std::string& t = a.model_type;
  GRPO_ENSURE(
      t == "deepseek_v3" || t == "deepseek_v2" || t == "qwen2" || t == "qwen3" || t == "llama",
      where, ": model_type '", t,
      "' is not supported (deepseek_v3, deepseek_v2, qwen2, qwen3, llama)");
  GRPO_ENSURE(!cfg.contains("quantization_config"), where,
              ": quantized checkpoints (quantization_config) are not supported; use a bf16/fp32 "
              "checkpoint");

  a.vocab_size = r.i64("vocab_size");
  a.hidden_size = r.i64("hidden_size");
  a.intermediate_size = r.i64("intermediate_size");
  a.num_hidden_layers = r.i64("num_hidden_layers");
  a.num_attention_heads = r.i64("num_attention_heads");
  a.num_key_value_heads = r.i64("num_key_value_heads", a.num_attention_heads);
  a.max_position_embeddings = r.i64("max_position_embeddings", 4096);
  a.rms_norm_eps = r.f64("rms_norm_eps", 1e-6);
  a.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  GRPO_ENSURE(a.vocab_size > 0 && a.hidden_size > 0 && a.num_hidden_layers > 0 &&
                  a.num_attention_heads > 0 && a.num_key_value_heads > 0,
              where,
              ": vocab_size, hidden_size, num_hidden_layers, num_attention_heads and "
              "num_key_value_heads must be positive");
  std::string act = r.string("hidden_act", "silu");
  GRPO_ENSURE(act == "silu", where, ": hidden_act '", act, "' is not supported (silu)");
  GRPO_ENSURE(!r.boolean("mlp_bias", false), where, ": mlp_bias=true is not supported");
  GRPO_ENSURE(!r.boolean("use_sliding_window", false), where,
              ": use_sliding_window=true is not supported (full attention only)");
  if (cfg.contains("layer_types") && cfg["layer_types"].is_array())
    for (const auto& lt : cfg["layer_types"])
      GRPO_ENSURE(lt == "full_attention", where, ": layer_types entry ", lt.dump(),
                  " is not supported (full_attention only)");
  double dropout = r.f64("attention_dropout", 0.0);
  if (dropout != 0.0)
    log::once("attention_dropout", log::Level::kWarn,
              str(where, ": attention_dropout=", dropout, " is ignored (no dropout in grpo)"));

  if (r.has("bos_token_id")) a.bos_token_id = r.i64("bos_token_id");
  if (r.has("pad_token_id")) a.pad_token_id = r.i64("pad_token_id");
  if (cfg.contains("eos_token_id")) {
    const Json& e = cfg["eos_token_id"];
    if (e.is_number_integer())
      a.eos_token_ids.push_back(e.get<int64_t>());
    else if (e.is_array())
      for (const auto& x : e) a.eos_token_ids.push_back(x.get<int64_t>());
  }

  if (a.is_mla()) {
    a.q_lora_rank = r.i64("q_lora_rank", 0);  // null or absent: no query compression
    a.kv_lora_rank = r.i64("kv_lora_rank");
    a.qk_nope_head_dim = r.i64("qk_nope_head_dim");
    a.qk_rope_head_dim = r.i64("qk_rope_head_dim");
    a.v_head_dim = r.i64("v_head_dim");
    GRPO_ENSURE(a.kv_lora_rank > 0 && a.qk_rope_head_dim > 0 && a.qk_rope_head_dim % 2 == 0 &&
                    a.v_head_dim > 0 && a.qk_nope_head_dim >= 0,
                where,
                ": MLA needs kv_lora_rank > 0, an even qk_rope_head_dim > 0 and "
                "v_head_dim > 0");
    a.rope_interleave = r.boolean("rope_interleave", true);
    a.attention_bias = r.boolean("attention_bias", false);
    GRPO_ENSURE(!a.attention_bias, where, ": attention_bias=true is not supported for MLA");
    a.head_dim = a.qk_rope_head_dim;
    a.n_routed_experts = r.i64("n_routed_experts", 0);
    if (a.n_routed_experts > 0) {
      a.n_shared_experts = r.i64("n_shared_experts", 0);
      a.num_experts_per_tok = r.i64("num_experts_per_tok");
      a.moe_intermediate_size = r.i64("moe_intermediate_size");
      a.first_k_dense_replace = r.i64("first_k_dense_replace", 0);
      int64_t freq = r.i64("moe_layer_freq", 1);
      GRPO_ENSURE(freq == 1, where, ": moe_layer_freq ", freq, " is not supported (1)");
      a.n_group = r.i64("n_group", 1);
      a.topk_group = r.i64("topk_group", 1);
      bool v3 = t == "deepseek_v3";
      a.norm_topk_prob = r.boolean("norm_topk_prob", v3);
      a.routed_scaling_factor = r.f64("routed_scaling_factor", v3 ? 2.5 : 1.0);
      a.scoring_func = r.string("scoring_func", v3 ? "sigmoid" : "softmax");
      GRPO_ENSURE(a.scoring_func == "sigmoid" || a.scoring_func == "softmax", where,
                  ": scoring_func '", a.scoring_func, "' is not supported (sigmoid, softmax)");
      std::string method = r.string("topk_method", v3 ? "noaux_tc" : "greedy");
      GRPO_ENSURE(method == "noaux_tc" || method == "greedy" || method == "group_limited_greedy",
                  where, ": topk_method '", method,
                  "' is not supported (noaux_tc, greedy, group_limited_greedy)");
      if (method == "greedy") a.n_group = a.topk_group = 1;
      if (a.n_group <= 0) a.n_group = 1;
      if (a.topk_group <= 0) a.topk_group = a.n_group;
      a.aux_loss_alpha = r.f64("aux_loss_alpha", 0.0);
      GRPO_ENSURE(a.n_routed_experts % a.n_group == 0, where, ": n_routed_experts ",
                  a.n_routed_experts, " must be divisible by n_group ", a.n_group);
      GRPO_ENSURE(a.topk_group <= a.n_group, where, ": topk_group ", a.topk_group,
                  " exceeds n_group ", a.n_group);
      GRPO_ENSURE(a.num_experts_per_tok > 0 &&
                      a.num_experts_per_tok <= a.topk_group * (a.n_routed_experts / a.n_group),
                  where, ": num_experts_per_tok ", a.num_experts_per_tok,
                  " must be in 1..topk_group * experts per group");
      GRPO_ENSURE(
          a.scoring_func == "softmax" || a.n_routed_experts / a.n_group >= 2 || a.n_group == 1,
          where, ": sigmoid group-limited routing needs at least 2 experts per group");
      GRPO_ENSURE(a.first_k_dense_replace >= 0 && a.first_k_dense_replace <= a.num_hidden_layers,
                  where, ": first_k_dense_replace out of range");
    }
    a.num_nextn_predict_layers = r.has("num_nextn_predict_layers")
                                     ? r.i64("num_nextn_predict_layers")
                                     : r.i64("num_mtp_layers", 0);
    GRPO_ENSURE(a.num_nextn_predict_layers >= 0, where, ": num_nextn_predict_layers < 0");
  } else {
    a.head_dim = r.i64("head_dim", a.hidden_size / a.num_attention_heads);
    GRPO_ENSURE(a.head_dim > 0 && a.head_dim % 2 == 0, where, ": head_dim must be even and > 0");
    if (t == "qwen2") {
      a.attention_bias = true;  // Qwen2: q/k/v always carry a bias, o never
    } else {
      a.attention_bias = r.boolean("attention_bias", false);
      a.o_bias = a.attention_bias;
    }
    a.qk_norm = t == "qwen3";
  }
  GRPO_ENSURE(a.num_attention_heads % a.num_key_value_heads == 0, where, ": num_attention_heads ",
              a.num_attention_heads, " must be a multiple of num_key_value_heads ",
              a.num_key_value_heads);
  parse_rope(cfg, r, a);

  a.unknown_keys = r.unknown();
  if (!a.unknown_keys.empty()) {
    std::string list;
    for (const auto& k : a.unknown_keys) list += (list.empty() ? "" : ", ") + k;
    log::once(str("model_args.unknown:", where), log::Level::kWarn,
              str(where, ": ignoring unknown model config keys: ", list));
  }
  return a;
}

double attention_softmax_scale(const ModelArgs& a) {
  double d = static_cast<double>(a.is_mla() ? a.qk_head_dim() : a.head_dim);
  double scale = 1.0 / std::sqrt(d);
  // HF yarn_apply_mscale: scale *= mscale^2 with mscale = 0.1*mscale_all_dim*ln(factor)+1.
  if (a.is_mla() && a.rope.type == "yarn" && a.rope.mscale_all_dim != 0.0 && a.rope.factor > 1.0) {
    double m = 0.1 * a.rope.mscale_all_dim * std::log(a.rope.factor) + 1.0;
    scale *= m * m;
  }
  return scale;
}

nlohmann::json to_hf_config(const ModelArgs& a) {
  // Start from the keys as given (bookkeeping such as bos/eos ids survives), then write
  // every architecture value explicitly so a reader never falls back to its own default.
  nlohmann::json j = a.raw;
  j["model_type"] = a.model_type;
  j["vocab_size"] = a.vocab_size;
  j["hidden_size"] = a.hidden_size;
  j["intermediate_size"] = a.intermediate_size;
  j["num_hidden_layers"] = a.num_hidden_layers;
  j["num_attention_heads"] = a.num_attention_heads;
  j["num_key_value_heads"] = a.num_key_value_heads;
  j["max_position_embeddings"] = a.max_position_embeddings;
  j["rms_norm_eps"] = a.rms_norm_eps;
  j["tie_word_embeddings"] = a.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (a.is_mla()) {
    j["q_lora_rank"] = a.q_lora_rank > 0 ? nlohmann::json(a.q_lora_rank) : nlohmann::json();
    j["kv_lora_rank"] = a.kv_lora_rank;
    j["qk_nope_head_dim"] = a.qk_nope_head_dim;
    j["qk_rope_head_dim"] = a.qk_rope_head_dim;
    j["v_head_dim"] = a.v_head_dim;
    j["rope_interleave"] = a.rope_interleave;
    j["attention_bias"] = false;
    j["n_routed_experts"] = a.n_routed_experts;
    j["num_nextn_predict_layers"] = a.num_nextn_predict_layers;
    j.erase("num_mtp_layers");
    if (a.n_routed_experts > 0) {
      j["n_shared_experts"] = a.n_shared_experts;
      j["num_experts_per_tok"] = a.num_experts_per_tok;
      j["moe_intermediate_size"] = a.moe_intermediate_size;
      j["first_k_dense_replace"] = a.first_k_dense_replace;
      j["n_group"] = a.n_group;
      j["topk_group"] = a.topk_group;
      j["norm_topk_prob"] = a.norm_topk_prob;
      j["routed_scaling_factor"] = a.routed_scaling_factor;
      j["scoring_func"] = a.scoring_func;
      if (!j.contains("topk_method"))
        j["topk_method"] = a.model_type == "deepseek_v3" ? "noaux_tc" : "group_limited_greedy";
      j["aux_loss_alpha"] = a.aux_loss_alpha;
    }
  } else {
    j["head_dim"] = a.head_dim;
    if (a.model_type != "qwen2") j["attention_bias"] = a.attention_bias;
  }
  nlohmann::json rp = {{"rope_type", a.rope.type}, {"rope_theta", a.rope.theta}};
  if (a.rope.type != "default") rp["factor"] = a.rope.factor;
  if (a.rope.type == "yarn") {
    rp["original_max_position_embeddings"] = a.rope.original_max_position_embeddings;
    rp["beta_fast"] = a.rope.beta_fast;
    rp["beta_slow"] = a.rope.beta_slow;
    if (a.rope.mscale != 0.0) rp["mscale"] = a.rope.mscale;
    if (a.rope.mscale_all_dim != 0.0) rp["mscale_all_dim"] = a.rope.mscale_all_dim;
    if (a.rope.attention_factor) rp["attention_factor"] = *a.rope.attention_factor;
    if (!a.rope.truncate) rp["truncate"] = false;
  } else if (a.rope.type == "llama3") {
    rp["low_freq_factor"] = a.rope.low_freq_factor;
    rp["high_freq_factor"] = a.rope.high_freq_factor;
    rp["original_max_position_embeddings"] = a.rope.original_max_position_embeddings;
  }
  j.erase("rope_scaling");
  j["rope_theta"] = a.rope.theta;
  j["rope_parameters"] = rp;
  return j;
}

}  // namespace grpo::models
