// tokenizer/impl.h: the state of a loaded Tokenizer (internal to tokenizer/): the model
// (vocabulary, merges), the added tokens, the normaliser and pre-tokeniser steps, the
// post-processor's special ids, and the pre-token cache.
//
// Design: loader.cpp turns tokenizer.json (+ tokenizer_config.json) into one Impl; after
// that it is immutable except for `cache`, whose shards each have a mutex, so every const
// method is safe from many threads. encode.cpp holds the encode pipeline below,
// tokenizer.cpp the public methods and decoding.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/tables.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace grpo::tok {

// An entry of tokenizer.json `added_tokens`.
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// How a Split pre-tokeniser treats the pieces its pattern matches (HF's SplitDelimiterBehavior).
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// One pre-tokeniser step: a Split by a regex (ByteLevel's GPT-2 regex is one too), or the
// ByteLevel add_prefix_space rule.
struct PreStep {
  enum Kind { kSplit, kPrefixSpace } kind = kSplit;
  std::unique_ptr<Regex> re;  // kSplit only
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct CacheShard {
  std::mutex mu;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
};
inline constexpr size_t kCacheShards = 16;
inline constexpr size_t kCacheShardCapacity = 8192;  // entries; a full shard stops inserting
inline constexpr size_t kCacheMaxKey = 64;           // longer pre-tokens are not cached

struct Tokenizer::Impl {
  std::string origin;
  // Model.
  FlatVocab vocab;                     // tokenizer.json spelling -> id
  std::vector<std::string> id_to_tok;  // id -> spelling ("" for holes)
  std::vector<std::string> id_bytes;   // id -> decoded bytes (byte-level undone)
  std::vector<uint8_t> id_in_vocab;    // 1 if the id is a model-vocabulary id
  MergeTable merges;
  std::array<int32_t, 256> byte_id{};  // id of each single byte, -1 if absent
  bool ignore_merges = false;
  std::optional<int32_t> unk_id;
  // Added tokens.
  std::vector<AddedToken> added;
  TokenMap added_by_content;
  std::vector<int32_t> added_index;  // id -> index into `added`, -1 if not added
  AddedMatcher raw_matcher, norm_matcher;
  // Pipeline.
  std::vector<NormForm> normalizers;
  std::vector<PreStep> pre;
  bool byte_level_decoder = true;
  std::vector<int32_t> prefix_ids, suffix_ids;  // add_special_tokens
  std::optional<int32_t> bos, eos, pad;
  int32_t size = 0;
  // Cache of pre-token bytes -> ids.
  mutable std::array<CacheShard, kCacheShards> cache;

  // Id of an added or vocabulary token given in its tokenizer.json spelling, or nullopt.
  std::optional<int32_t> find_token(std::string_view token) const {
    if (auto a = added_by_content.find(token); a != added_by_content.end()) return a->second;
    const int32_t id = vocab.get(token);
    return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
  }

  // encode.cpp: the whole pipeline of one text (added tokens, normalisers, pre-tokeniser,
  // BPE), appending ids to `out`. Throws grpo::Error for a byte with no token and no unk.
  void encode_text(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>& out) const;
  void encode_pretoken(std::string_view bytes, std::vector<int32_t>& out) const;
  void bpe(std::string_view bytes, std::vector<int32_t>& out) const;
  std::vector<int32_t> byte_symbols(std::string_view bytes) const;
  size_t merge_short(std::vector<int32_t>& w) const;
  void merge_long(std::vector<int32_t>& w, std::vector<int32_t>& out) const;
  template <class F>
  void split_added(std::string_view s, const AddedMatcher& m, F&& f) const;
};

}  // namespace grpo::tok
