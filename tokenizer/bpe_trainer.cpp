// tokenizer/bpe_trainer.cpp: learns a byte-level BPE and writes tokenizer.json.
//
// The classic algorithm (Sennrich et al. 2016, "Neural Machine Translation of Rare Words
// with Subword Units"), byte-level as in GPT-2: count pre-tokens (GPT-2 regex, line by
// line, special tokens cut out first; optionally digits split first), start from the 256
// byte symbols, and repeatedly merge the most frequent adjacent pair. Pair counts are
// updated incrementally: only the words holding the merged pair are touched (an index
// pair -> words), and a max-heap with lazy deletion picks the next pair. Ids: special
// tokens first, then the 256 byte characters in code-point order, then one id per new
// token string (like HF's BpeTrainer).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace grpo::tok {
namespace {

using ojson = nlohmann::ordered_json;

// One digit per pre-token (with the space before it), as Qwen's and LLaMA's tokenizers do:
// numbers then tokenize the same way wherever they occur, which arithmetic needs.
constexpr const char* kSplitDigitPattern = " ?\\p{N}";

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Calls f(piece) for each stretch of `text` between special tokens (leftmost-longest).
template <class F>
void split_specials(std::string_view text, const std::vector<std::string>& specials, F&& f) {
  size_t start = 0, i = 0;
  while (i < text.size()) {
    size_t best = 0;
    for (const std::string& s : specials)
      if (s.size() > best && text.compare(i, s.size(), s) == 0) best = s.size();
    if (best == 0) {
      ++i;
      continue;
    }
    if (i > start) f(text.substr(start, i - start));
    i += best;
    start = i;
  }
  if (start < text.size()) f(text.substr(start));
}

void check_inputs(std::span<const std::string> texts, const BpeTrainOptions& o) {
  const int n_special = static_cast<int>(o.special_tokens.size());
  GRPO_ENSURE(o.vocab_size >= 256 + n_special, "train-tokenizer: vocab_size ", o.vocab_size,
              " is too small: it must hold the 256 byte tokens and ", n_special,
              " special tokens (at least ", 256 + n_special, ")");
  GRPO_ENSURE(o.min_frequency >= 1, "train-tokenizer: min_frequency must be at least 1");
  std::unordered_set<std::string> seen_special;
  for (const std::string& s : o.special_tokens) {
    GRPO_ENSURE(!s.empty(), "train-tokenizer: a special token is empty");
    GRPO_ENSURE(find_invalid_utf8(s) == std::string_view::npos,
                "train-tokenizer: special token is not valid UTF-8: ", s);
    GRPO_ENSURE(seen_special.insert(s).second, "train-tokenizer: special token ", s,
                " is given twice");
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t bad = find_invalid_utf8(texts[i]);
    GRPO_ENSURE(bad == std::string_view::npos, "train-tokenizer: input ", i,
                " is not valid UTF-8 at byte ", bad);
  }
}

// 1. Pre-token counts, line by line (each line keeps its '\n'), as HF's trainer reads
// files; so without special tokens the result equals HF BpeTrainer's (tested). Sorted by
// pre-token, so that everything after is deterministic whatever the hash order.
std::vector<std::pair<std::string, int64_t>> count_words(std::span<const std::string> texts,
                                                         const BpeTrainOptions& o) {
  const Regex gpt2(kGpt2Pattern, false, "train-tokenizer");
  const Regex digit(kSplitDigitPattern, false, "train-tokenizer");
  std::unordered_map<std::string, int64_t> counts;
  auto count = [&](std::string_view piece) {
    gpt2.for_each_match(piece,
                        [&](size_t a, size_t b) { ++counts[std::string(piece.substr(a, b - a))]; });
  };
  auto count_piece = [&](std::string_view piece) {
    if (!o.split_digits) return count(piece);
    // Split(" ?\p{N}", Isolated) first: each digit (with its leading space) and each
    // stretch between digits is its own piece, then the GPT-2 regex as usual.
    size_t last = 0;
    digit.for_each_match(piece, [&](size_t a, size_t b) {
      if (a > last) count(piece.substr(last, a - last));
      count(piece.substr(a, b - a));
      last = b;
    });
    if (last < piece.size()) count(piece.substr(last));
  };
  for (const std::string& text : texts) {
    for (size_t start = 0; start < text.size();) {
      const size_t nl = text.find('\n', start);
      const size_t end = nl == std::string::npos ? text.size() : nl + 1;
      const std::string_view line = std::string_view(text).substr(start, end - start);
      start = end;
      split_specials(line, o.special_tokens, count_piece);
    }
  }
  std::vector<std::pair<std::string, int64_t>> words(counts.begin(), counts.end());
  std::sort(words.begin(), words.end());
  return words;
}

// 2. The vocabulary being learnt: id -> byte-level spelling and raw bytes.
struct TrainVocab {
  std::vector<std::string> tokens;  // id -> byte-level spelling
  std::vector<std::string> raw;     // id -> raw bytes (empty for specials)
  std::unordered_map<std::string, int32_t> ids;
  std::array<int32_t, 256> byte_id{};  // id of each byte

  // Id of `spelling`, added with `bytes` when new (the same string reached by another
  // merge reuses its id).
  int32_t intern(const std::string& spelling, const std::string& bytes) {
    auto it = ids.find(spelling);
    if (it != ids.end()) return it->second;
    const auto id = static_cast<int32_t>(tokens.size());
    ids.emplace(spelling, id);
    tokens.push_back(spelling);
    raw.push_back(bytes);
    return id;
  }
};

// Specials, then the byte characters in code-point order.
TrainVocab initial_vocab(const BpeTrainOptions& o) {
  TrainVocab v;
  for (const std::string& s : o.special_tokens) v.intern(s, "");
  const auto& bl = ByteLevelMap::get();
  std::vector<int> bytes_by_cp(256);
  for (int b = 0; b < 256; ++b) bytes_by_cp[b] = b;
  auto cp_of = [&](int b) {
    size_t i = 0;
    return next_code_point(bl.byte_to_utf8[b], i);
  };
  std::sort(bytes_by_cp.begin(), bytes_by_cp.end(),
            [&](int x, int y) { return cp_of(x) < cp_of(y); });
  for (int b : bytes_by_cp) {
    const std::string byte(1, static_cast<char>(b));
    v.byte_id[b] = v.intern(bl.byte_to_utf8[b], byte);
    // A special token spelled like a byte character keeps its id and decodes to the byte.
    v.raw[v.byte_id[b]] = byte;
  }
  return v;
}

// 3. Words as symbol ids, pair counts, where each pair occurs, and a max-heap of pairs
// by count with lazy deletion.
class PairMerger {
 public:
  PairMerger(std::vector<std::pair<std::string, int64_t>> word_list,
             const std::array<int32_t, 256>& byte_id);

  // The most frequent pair (ties: the smaller ids) if it is seen at least min_frequency
  // times; false when there is none.
  bool next(int64_t min_frequency, uint64_t& pair);
  // Replaces every occurrence of `pair` with the symbol `m` and updates the counts.
  void merge(uint64_t pair, int32_t m);

 private:
  struct Cand {
    int64_t count;
    uint64_t pair;
    bool operator<(const Cand& o) const {  // max-heap: larger count, then smaller pair
      return count != o.count ? count < o.count : pair > o.pair;
    }
  };
  void merge_word(int32_t w, int32_t a, int32_t b, int32_t m);

  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> freq_;
  std::unordered_map<uint64_t, int64_t> pair_count_;
  std::unordered_map<uint64_t, std::vector<int32_t>> where_;  // pair -> words holding it
  std::unordered_map<uint64_t, int64_t> delta_;               // count changes of one merge
  std::priority_queue<Cand> heap_;
};

PairMerger::PairMerger(std::vector<std::pair<std::string, int64_t>> word_list,
                       const std::array<int32_t, 256>& byte_id)
    : words_(word_list.size()), freq_(word_list.size()) {
  for (size_t w = 0; w < word_list.size(); ++w) {
    freq_[w] = word_list[w].second;
    for (unsigned char c : word_list[w].first) words_[w].push_back(byte_id[c]);
    const auto& s = words_[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count_[k] += freq_[w];
      auto& v = where_[k];
      if (v.empty() || v.back() != static_cast<int32_t>(w)) v.push_back(static_cast<int32_t>(w));
    }
  }
  for (const auto& [k, c] : pair_count_) heap_.push({c, k});
}

bool PairMerger::next(int64_t min_frequency, uint64_t& pair) {
  while (!heap_.empty()) {
    const Cand top = heap_.top();
    heap_.pop();
    auto pc = pair_count_.find(top.pair);
    const int64_t actual = pc == pair_count_.end() ? 0 : pc->second;
    if (actual != top.count) {  // stale entry: requeue with the current count
      if (actual > 0) heap_.push({actual, top.pair});
      continue;
    }
    if (actual < min_frequency) return false;
    pair = top.pair;
    return true;
  }
  return false;
}

void PairMerger::merge(uint64_t pair, int32_t m) {
  const auto a = static_cast<int32_t>(pair >> 32);
  const auto b = static_cast<int32_t>(pair & 0xFFFFFFFFu);
  delta_.clear();
  std::vector<int32_t> holders = std::move(where_[pair]);
  where_.erase(pair);
  for (int32_t w : holders) merge_word(w, a, b, m);
  pair_count_.erase(pair);
  for (const auto& [k, d] : delta_) {
    if (k == pair || d == 0) continue;
    int64_t& c = pair_count_[k];
    c += d;
    if (d > 0) heap_.push({c, k});
    if (c <= 0) pair_count_.erase(k);
  }
}

// Merges (a, b) -> m in word `w`, collecting count changes in delta_ and indexing the
// new pairs in where_.
void PairMerger::merge_word(int32_t w, int32_t a, int32_t b, int32_t m) {
  auto& s = words_[w];
  const int64_t f = freq_[w];
  bool changed = false;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != a || s[i + 1] != b) continue;
    if (i > 0) {
      delta_[pair_key(s[i - 1], a)] -= f;
      delta_[pair_key(s[i - 1], m)] += f;
    }
    if (i + 2 < s.size()) {
      delta_[pair_key(b, s[i + 2])] -= f;
      delta_[pair_key(m, s[i + 2])] += f;
    }
    s[i] = m;
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    changed = true;
  }
  if (!changed) return;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == m || s[i + 1] == m) {
      auto& v = where_[pair_key(s[i], s[i + 1])];
      if (v.empty() || v.back() != w) v.push_back(w);
    }
  }
}

// 4. tokenizer.json (HF format; the key order follows what `tokenizers` writes).
std::string tokenizer_json(const TrainVocab& v, ojson merges, const BpeTrainOptions& o) {
  const ojson byte_level = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", true},
                            {"use_regex", true}};
  ojson pre_tokenizer = byte_level;
  if (o.split_digits)
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers",
                      {{{"type", "Split"},
                        {"pattern", {{"Regex", kSplitDigitPattern}}},
                        {"behavior", "Isolated"},
                        {"invert", false}},
                       byte_level}}};
  ojson added = ojson::array();
  for (size_t i = 0; i < o.special_tokens.size(); ++i)
    added.push_back({{"id", i},
                     {"content", o.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  ojson vocab = ojson::object();
  for (size_t id = 0; id < v.tokens.size(); ++id) vocab[v.tokens[id]] = id;
  ojson model = {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", nullptr},
                 {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr},
                 {"fuse_unk", false},
                 {"byte_fallback", false},
                 {"ignore_merges", false},
                 {"vocab", std::move(vocab)},
                 {"merges", std::move(merges)}};
  ojson root = {{"version", "1.0"},
                {"truncation", nullptr},
                {"padding", nullptr},
                {"added_tokens", std::move(added)},
                {"normalizer", nullptr},
                {"pre_tokenizer", std::move(pre_tokenizer)},
                {"post_processor", byte_level},
                {"decoder", byte_level},
                {"model", std::move(model)}};
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
}

}  // namespace

std::string train_bpe(std::span<const std::string> texts, const BpeTrainOptions& o) {
  check_inputs(texts, o);
  TrainVocab v = initial_vocab(o);
  PairMerger merger(count_words(texts, o), v.byte_id);
  ojson merges = ojson::array();
  const int target = o.vocab_size;
  int n_merges = 0;
  uint64_t pair = 0;
  while (static_cast<int>(v.tokens.size()) < target && merger.next(o.min_frequency, pair)) {
    const auto a = static_cast<int32_t>(pair >> 32);
    const auto b = static_cast<int32_t>(pair & 0xFFFFFFFFu);
    const int32_t m = v.intern(v.tokens[a] + v.tokens[b], v.raw[a] + v.raw[b]);
    merges.push_back({v.tokens[a], v.tokens[b]});
    merger.merge(pair, m);
    if (o.show_progress && ++n_merges % 100 == 0)
      std::fprintf(stderr, "\rtrain-tokenizer: %zu / %d tokens", v.tokens.size(), target);
  }
  if (o.show_progress)
    std::fprintf(stderr, "\rtrain-tokenizer: %zu / %d tokens\n", v.tokens.size(), target);
  return tokenizer_json(v, std::move(merges), o);
}

}  // namespace grpo::tok
