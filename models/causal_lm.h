// models/causal_lm.h: the contract every policy/reference/rollout model meets. rollout/
// and learner/ program against this interface only; models/ provides DeepSeek-V3 (MLA,
// DeepSeekMoE, MTP) and dense (Llama, Qwen2, Qwen3) implementations behind it.
// Design: the KV cache is slot-based (S slots, each one sequence of up to max_len
// tokens), so a rollout engine can prefill a prompt once, copy the slot G times, and let
// sequences leave and join the decode batch freely (continuous batching).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace torch::nn {
class Module;
}

namespace grpo::models {

struct ModelArgs;  // models/model_args.h: the parsed architecture

// Output of a full-sequence forward.
struct ForwardOutput {
  at::Tensor hidden;       // [B, T, H] after the final norm, model dtype
  at::Tensor mtp_hidden;   // [D, B, T, H] final hidden of the D MTP modules; undefined unless asked
  at::Tensor aux_loss;     // scalar sequence-wise balance loss; undefined when off or dense
  at::Tensor expert_load;  // [L_moe, E] int64 tokens routed per expert; undefined for dense models
  // Notes (models/transformer.cpp, docs/models.md): mtp_hidden[k-1][b, t] (module k,
  // 1-based) predicts token t + k + 1 (apply logits()); where t + k >= T its input token is
  // id 0, so mask those positions in the loss. expert_load counts real tokens only
  // (attention_mask 1). aux_loss is computed only with grad mode on and aux_loss_alpha > 0.
};

// Per-sequence cache storage (MLA: compressed latent + rope key per token; dense: K and V).
class KVCache {
 public:
  virtual ~KVCache() = default;
  virtual int64_t num_slots() const = 0;
  virtual int64_t max_len() const = 0;
  // Tokens currently cached in `slot`.
  virtual int64_t length(int64_t slot) const = 0;
  // Makes `dst` an exact copy of `src` (prefix sharing for G answers to one prompt).
  virtual void copy_slot(int64_t src, int64_t dst) = 0;
  // Empties `slot` so it can hold a new sequence.
  virtual void reset(int64_t slot) = 0;
  // Bytes held by the cache tensors.
  virtual int64_t bytes() const = 0;
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  // Full-sequence forward (training, scoring).
  //  input_ids:      [B, T] int64
  //  position_ids:   [B, T] int64, or undefined for 0..T-1. For packed sequences the
  //                  positions restart at 0 at each sequence start, and attention never
  //                  crosses such a restart.
  //  attention_mask: [B, T] (1 = real token, 0 = padding; left or right padding), or undefined.
  //  with_mtp:       also run the MTP modules (training only).
  virtual ForwardOutput forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                const at::Tensor& attention_mask, bool with_mtp = false) = 0;

  // Output head: [..., H] -> [..., V] logits.
  virtual at::Tensor logits(const at::Tensor& hidden) = 0;
  // The output embedding, [V, H] (for chunked log-prob kernels).
  virtual at::Tensor lm_head_weight() = 0;

  // A cache of `num_slots` sequences of up to `max_len` tokens on the model's device.
  virtual std::unique_ptr<KVCache> make_cache(int64_t num_slots, int64_t max_len) = 0;
  // Appends input_ids [B, T] (T >= 1) to the B given slots (distinct) and returns the
  // logits of each row's last new token, [B, V] float32. Positions continue from each
  // slot's current length. Prefill a prompt with B = 1, T = prompt length.
  virtual at::Tensor decode(KVCache& cache, const std::vector<int64_t>& slots,
                            const at::Tensor& input_ids) = 0;

  virtual torch::nn::Module& module() = 0;
  virtual const ModelArgs& args() const = 0;
  // Parameters and buffers that make up a checkpoint, under Hugging Face names.
  virtual std::vector<std::pair<std::string, at::Tensor>> state() = 0;
  // Auxiliary-loss-free balancing: bias += gamma * sign(mean(load) - load), per MoE
  // layer (DeepSeek-V3 paper, section 2.1.2). expert_load: [L_moe, E]. No-op for dense.
  virtual void update_expert_bias(const at::Tensor& expert_load, double gamma) {}
};

// Builds a model with seeded random weights from an architecture given as Hugging Face
// config.json keys. Throws grpo::Error naming unknown or unsupported fields.
std::unique_ptr<CausalLM> build_model(const nlohmann::json& config, uint64_t seed,
                                      const std::string& dtype = "float32",
                                      const std::string& device = "cpu");
// Loads a Hugging Face-layout directory (config.json + *.safetensors, sharded or not).
// Throws grpo::Error naming the file and tensor on any mismatch.
std::unique_ptr<CausalLM> load_model(const std::string& dir, const std::string& dtype = "",
                                     const std::string& device = "cpu");
// Writes config.json and model.safetensors (HF names) into `dir`, atomically per file.
void save_model(CausalLM& model, const std::string& dir);

}  // namespace grpo::models
