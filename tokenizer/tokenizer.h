// tokenizer/tokenizer.h: byte-level BPE tokenizers read from a Hugging Face
// tokenizer.json (DeepSeek-V3, Qwen2/3, GPT-2 style), and a trainer that writes one.
//
// Design: a Tokenizer is an immutable value (shared, ref-counted state) built once from
// the file (loader.cpp, json_reader.cpp); encode (encode.cpp) runs added-token matching ->
// normaliser (NFC) -> pre-tokeniser (Split regexes in PCRE2, ByteLevel) -> BPE with a rank
// map over id pairs, and caches the ids of each pre-token. The output matches Hugging Face
// `tokenizers` id for id (tested against golden files in tests/fixtures/tokenizers/).
// Torch-free, depends on core/ only: data/ and rewards may use it. See docs/tokenizer.md.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace grpo::tok {

class Tokenizer {
 public:
  // Loads `path_or_dir`: a tokenizer.json, or a folder holding tokenizer.json (and, when
  // present, tokenizer_config.json for bos/eos/pad and add_bos_token/add_eos_token).
  // Throws grpo::Error naming the file and the bad field for a missing or malformed file
  // or an unsupported component (e.g. a WordPiece model, a Metaspace pre-tokeniser).
  static Tokenizer from_file(const std::string& path_or_dir);

  // Same from the text of a tokenizer.json (`origin` names it in error messages) and,
  // optionally, the text of a tokenizer_config.json (empty: none).
  static Tokenizer from_json(std::string_view tokenizer_json, const std::string& origin,
                             std::string_view tokenizer_config_json = {});

  // Ids of `text` (UTF-8). With add_special_tokens, adds bos/eos as the tokenizer asks
  // (tokenizer_config.json add_bos_token/add_eos_token when present, else the
  // TemplateProcessing post-processor's single template; none for a ByteLevel one).
  // Added tokens in the text (e.g. "<|im_end|>") always map to their ids, as in HF.
  // Thread-safe. Throws grpo::Error if `text` is not valid UTF-8 (names the byte offset).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;

  // Text of `ids`: byte-level decoding; an incomplete UTF-8 sequence (e.g. a cut-off
  // completion) becomes U+FFFD as in HF. skip_special_tokens drops added tokens marked
  // special. Thread-safe. Throws grpo::Error for an id outside [0, vocab_size()).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // Id of a vocabulary or added token given in its tokenizer.json spelling (byte-level
  // characters, e.g. "Ġthe"); nullopt if absent.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The tokenizer.json spelling of `id`; nullopt if no token has that id.
  std::optional<std::string> id_to_token(int32_t id) const;
  // Largest id + 1 over the model vocabulary and the added tokens (embedding rows needed).
  int32_t vocab_size() const;
  // True if `id` is an added token marked special.
  bool is_special(int32_t id) const;

  // Special ids from tokenizer_config.json (bos_token/eos_token/pad_token); nullopt when
  // absent or not in the vocabulary.
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;

  // Where it was loaded from (a file path or the `origin` given to from_json).
  const std::string& origin() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Options of train_bpe (names follow HF `tokenizers.trainers.BpeTrainer`).
struct BpeTrainOptions {
  int vocab_size = 500;                     // target size incl. special tokens and 256 bytes
  int min_frequency = 2;                    // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens;  // ids 0..k-1, in this order
  bool show_progress = false;               // a progress line on stderr
  // Pre-tokenise with Split(" ?\p{N}", Isolated) before ByteLevel, so every digit is its
  // own token (no merges across digits); written into tokenizer.json as a Sequence.
  bool split_digits = false;
};

// Learns a GPT-2 style byte-level BPE (ByteLevel pre-tokeniser with the GPT-2 regex) from
// `texts` and returns the text of a tokenizer.json that tok::Tokenizer and HF `tokenizers`
// both load and that encodes identically in both. Deterministic for a given input: the
// most frequent pair wins, ties go to the pair with the smaller ids; texts are counted line
// by line. Without special tokens the vocabulary and merges equal those of HF's
// BpeTrainer (initial_alphabet = the 256 bytes) on the same lines; special tokens in the
// texts are cut out before counting (HF counts their characters as text). May stop below
// vocab_size when no pair is seen min_frequency times. Throws grpo::Error for vocab_size
// < 256 + specials, duplicate or empty specials, or input that is not UTF-8.
std::string train_bpe(std::span<const std::string> texts, const BpeTrainOptions& options);

}  // namespace grpo::tok
