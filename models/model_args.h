// models/model_args.h: the parsed architecture of a causal LM, from Hugging Face
// config.json keys (or the same keys inline in a job YAML's model.arch). Torch-free.
// Design: one flat struct covers every supported family (deepseek_v3, deepseek_v2, qwen2,
// qwen3, llama); `is_mla()` / `is_moe_layer()` pick the blocks. Parsing is strict about
// values it cannot honour (an unsupported value is a grpo::Error naming the key) and
// lenient about keys it does not know (kept in `unknown_keys`, logged once as a warning),
// because real config.json files carry many bookkeeping keys.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace grpo::models {

struct RopeArgs {
  std::string type = "default";  // default | linear | yarn | llama3
  double theta = 10000.0;
  double factor = 1.0;
  // yarn
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 0.0;          // 0: unset
  double mscale_all_dim = 0.0;  // 0: unset
  std::optional<double> attention_factor;
  bool truncate = true;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
};

struct ModelArgs {
  std::string model_type;  // deepseek_v3 | deepseek_v2 | qwen2 | qwen3 | llama
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // dense attention head size (hidden_size / heads unless given)
  int64_t max_position_embeddings = 4096;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v (qwen2: always); llama/qwen3 also on o
  bool o_bias = false;
  bool qk_norm = false;  // qwen3: RMSNorm over each head of q and k
  RopeArgs rope;

  // MLA (deepseek_v2 / deepseek_v3)
  int64_t q_lora_rank = 0;  // 0: q_proj without low-rank compression
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  bool rope_interleave = true;

  // DeepSeekMoE
  int64_t n_routed_experts = 0;  // 0: dense model
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = true;
  double routed_scaling_factor = 1.0;
  std::string scoring_func = "sigmoid";  // sigmoid (V3) | softmax (V2)
  double aux_loss_alpha = 0.0;           // sequence-wise balance loss weight; 0: off

  // MTP
  int64_t num_nextn_predict_layers = 0;

  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;

  std::vector<std::string> unknown_keys;  // keys seen but not interpreted (warned once)
  nlohmann::json raw;                     // the config as given, written back on save

  bool is_mla() const { return model_type == "deepseek_v3" || model_type == "deepseek_v2"; }
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace;
  }
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // Rotary dimension: qk_rope_head_dim for MLA, head_dim for dense models.
  int64_t rope_dim() const { return is_mla() ? qk_rope_head_dim : head_dim; }
  int64_t num_moe_layers() const {
    return n_routed_experts > 0 ? num_hidden_layers - first_k_dense_replace : 0;
  }
};

// Parses a config.json object. `where` names the source in error messages (a file path
// or "model.arch"). Throws grpo::Error on a missing required key, a wrong type, or an
// unsupported value (e.g. hidden_act other than silu, sliding-window attention,
// quantization_config). Unknown keys go to `unknown_keys` and are logged once.
ModelArgs parse_model_args(const nlohmann::json& config, const std::string& where = "config");

// Softmax scale of attention: 1/sqrt(qk_head_dim) (or head_dim), times mscale^2 under YaRN
// with mscale_all_dim (DeepSeek-V3 inference/model.py; HF yarn_apply_mscale).
double attention_softmax_scale(const ModelArgs& a);

// The config.json to write for these args: the original keys, with a model_type.
nlohmann::json to_hf_config(const ModelArgs& a);

}  // namespace grpo::models
