// data/sft.h: supervised fine-tuning examples: loading {"prompt", "completion"} or chat
// {"messages"} rows, tokenising prompt and completion separately (so the prompt ids are
// exactly what the policy is conditioned on at generation time), and packing.
// Design: packing is greedy in file order (after an optional seeded shuffle): examples
// are appended to a sequence until the next one would exceed max_seq_length. Each packed
// sequence records, per token, the example it belongs to (`segment`) and whether it is a
// completion token (`loss_mask`); position ids restart at 0 at every example. Targets
// are derived from these, never across an example boundary, so prompt tokens and the
// first token of the next example carry no loss. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/template.h"

namespace grpo::tok {
class Tokenizer;
}

namespace grpo::data {

struct SftExample {
  std::vector<int32_t> prompt;      // prompt ids (BOS included when the tokenizer adds one)
  std::vector<int32_t> completion;  // completion ids (EOS / turn end included)
};

// Loads an SFT JSONL file. A row is either {"prompt", "completion"} (plus any fields the
// template uses; the prompt is rendered with `tmpl` from the row, so SFT and RL see the
// same prompt text) or {"messages": [...]} ending with an assistant message (rendered
// with the chat format `chat`; loss on the last assistant message only). The completion
// of a prompt/completion row gets tmpl.completion_suffix() and then the tokenizer's EOS
// (when it has one). Throws grpo::Error naming path:line for a bad row.
std::vector<SftExample> load_sft_examples(const std::string& path, const PromptTemplate& tmpl,
                                          const tok::Tokenizer& tok, ChatFormat chat);

// One packed (or single-example) sequence; all vectors have the same length.
struct PackedSeq {
  std::vector<int32_t> ids;
  std::vector<int32_t> position_ids;  // restart at 0 at each example
  std::vector<int32_t> segment;       // example number within this sequence (0, 1, ...)
  std::vector<uint8_t> loss_mask;     // 1 for completion tokens
  size_t size() const { return ids.size(); }
};

// Packs examples (packing = true) or makes one sequence per example (false). Examples
// longer than max_seq_length are dropped and counted in *dropped (may be null).
std::vector<PackedSeq> pack_examples(const std::vector<SftExample>& examples, int64_t max_seq_length,
                                     bool packing, int64_t* dropped = nullptr);

// Target of position t when predicting `shift` tokens ahead (1: next token, the main
// loss; 2: the first MTP module): ids[t + shift] when that token is in the same example
// and is a completion token, else -100 (no loss).
std::vector<int64_t> shifted_targets(const PackedSeq& seq, int64_t shift);

}  // namespace grpo::data
