// models/tokenizer/bpe_trainer.cpp: learns a byte-level BPE and writes tokenizer.json.
//
// The classic algorithm (Sennrich et al. 2016, "Neural Machine Translation of Rare Words
// with Subword Units"), byte-level as in GPT-2: count pre-tokens (GPT-2 regex, line by
// line, special tokens cut out first; optionally digits split first), start from the 256
// byte symbols, and repeatedly
// merge the most frequent adjacent pair. Pair counts are updated incrementally: only the words
// holding the merged pair are touched (an index pair -> words), and a max-heap with lazy deletion
// picks the next pair. Ids: special tokens first, then the 256 byte characters in
// code-point order, then one id per new token string (like HF's BpeTrainer).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "models/tokenizer/regex.h"
#include "models/tokenizer/tokenizer.h"
#include "models/tokenizer/unicode.h"

namespace grpo {
namespace {

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

}  // namespace

std::string train_bpe(std::span<const std::string> texts, const BpeTrainOptions& o) {
  const int n_special = static_cast<int>(o.special_tokens.size());
  GRPO_ENSURE(o.vocab_size >= 256 + n_special, "train-tokenizer: vocab_size ", o.vocab_size,
              " is too small: it must hold the 256 byte tokens and ", n_special,
              " special tokens (at least ", 256 + n_special, ")");
  GRPO_ENSURE(o.min_frequency >= 1, "train-tokenizer: min_frequency must be at least 1");
  std::unordered_set<std::string> seen_special;
  for (const std::string& s : o.special_tokens) {
    GRPO_ENSURE(!s.empty(), "train-tokenizer: a special token is empty");
    GRPO_ENSURE(tok::find_invalid_utf8(s) == std::string_view::npos,
                "train-tokenizer: special token is not valid UTF-8: ", s);
    GRPO_ENSURE(seen_special.insert(s).second, "train-tokenizer: special token ", s,
                " is given twice");
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t bad = tok::find_invalid_utf8(texts[i]);
    GRPO_ENSURE(bad == std::string_view::npos, "train-tokenizer: input ", i,
                " is not valid UTF-8 at byte ", bad);
  }

  // 1. Pre-token counts, line by line (each line keeps its '\n'), as HF's trainer reads
  // files; so without special tokens the result equals HF BpeTrainer's (tested).
  const tok::Regex gpt2(tok::kGpt2Pattern, false, "train-tokenizer");
  const tok::Regex digit(kSplitDigitPattern, false, "train-tokenizer");
  std::unordered_map<std::string, int64_t> counts;
  auto count = [&](std::string_view piece) {
    gpt2.for_each_match(piece, [&](size_t a, size_t b) { ++counts[std::string(piece.substr(a, b - a))]; });
  };
  for (const std::string& text : texts) {
    for (size_t start = 0; start < text.size();) {
      const size_t nl = text.find('\n', start);
      const size_t end = nl == std::string::npos ? text.size() : nl + 1;
      const std::string_view line = std::string_view(text).substr(start, end - start);
      start = end;
      split_specials(line, o.special_tokens, [&](std::string_view piece) {
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
      });
    }
  }
  // Sorted so that everything below is deterministic whatever the hash order.
  std::vector<std::pair<std::string, int64_t>> word_list(counts.begin(), counts.end());
  std::sort(word_list.begin(), word_list.end());
  counts.clear();

  // 2. Initial vocabulary: specials, then the byte characters in code-point order.
  std::vector<std::string> tokens;  // id -> byte-level spelling
  std::vector<std::string> raw;     // id -> raw bytes (empty for specials)
  std::unordered_map<std::string, int32_t> ids;
  for (const std::string& s : o.special_tokens) {
    ids.emplace(s, static_cast<int32_t>(tokens.size()));
    tokens.push_back(s);
    raw.emplace_back();
  }
  const auto& bl = tok::ByteLevelMap::get();
  std::vector<int> bytes_by_cp(256);
  for (int b = 0; b < 256; ++b) bytes_by_cp[b] = b;
  auto cp_of = [&](int b) {
    size_t i = 0;
    return tok::next_code_point(bl.byte_to_utf8[b], i);
  };
  std::sort(bytes_by_cp.begin(), bytes_by_cp.end(),
            [&](int x, int y) { return cp_of(x) < cp_of(y); });
  std::array<int32_t, 256> byte_id{};
  for (int b : bytes_by_cp) {
    const std::string& spelling = bl.byte_to_utf8[b];
    auto it = ids.find(spelling);
    if (it != ids.end()) {  // a special token spelled like a byte character
      byte_id[b] = it->second;
      raw[it->second] = std::string(1, static_cast<char>(b));
      continue;
    }
    byte_id[b] = static_cast<int32_t>(tokens.size());
    ids.emplace(spelling, byte_id[b]);
    tokens.push_back(spelling);
    raw.emplace_back(1, static_cast<char>(b));
  }

  // 3. Words as symbol ids, pair counts and where each pair occurs.
  std::vector<std::vector<int32_t>> words(word_list.size());
  std::vector<int64_t> freq(word_list.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t w = 0; w < word_list.size(); ++w) {
    freq[w] = word_list[w].second;
    for (unsigned char c : word_list[w].first) words[w].push_back(byte_id[c]);
    const auto& s = words[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += freq[w];
      auto& v = where[k];
      if (v.empty() || v.back() != static_cast<int32_t>(w)) v.push_back(static_cast<int32_t>(w));
    }
  }
  word_list.clear();

  struct Cand {
    int64_t count;
    uint64_t pair;
    bool operator<(const Cand& o) const {  // max-heap: larger count, then smaller pair
      return count != o.count ? count < o.count : pair > o.pair;
    }
  };
  std::priority_queue<Cand> heap;
  for (const auto& [k, c] : pair_count) heap.push({c, k});

  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  std::unordered_map<uint64_t, int64_t> delta;
  const int target = o.vocab_size;
  int n_merges = 0;
  while (static_cast<int>(tokens.size()) < target && !heap.empty()) {
    const Cand top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.pair);
    const int64_t actual = pc == pair_count.end() ? 0 : pc->second;
    if (actual != top.count) {  // stale entry: requeue with the current count
      if (actual > 0) heap.push({actual, top.pair});
      continue;
    }
    if (actual < o.min_frequency) break;
    const auto a = static_cast<int32_t>(top.pair >> 32);
    const auto b = static_cast<int32_t>(top.pair & 0xFFFFFFFFu);
    const std::string new_raw = raw[a] + raw[b];
    const std::string spelling = tokens[a] + tokens[b];
    int32_t m;
    auto it = ids.find(spelling);
    if (it != ids.end()) {
      m = it->second;  // the same string reached by another merge: reuse its id
    } else {
      m = static_cast<int32_t>(tokens.size());
      ids.emplace(spelling, m);
      tokens.push_back(spelling);
      raw.push_back(new_raw);
    }
    merges.push_back({tokens[a], tokens[b]});
    ++n_merges;

    // Merge every occurrence in the words that hold the pair; collect count changes.
    delta.clear();
    std::vector<int32_t> holders = std::move(where[top.pair]);
    where.erase(top.pair);
    for (int32_t w : holders) {
      auto& s = words[w];
      const int64_t f = freq[w];
      bool changed = false;
      for (size_t i = 0; i + 1 < s.size();) {
        if (s[i] == a && s[i + 1] == b) {
          if (i > 0) {
            delta[pair_key(s[i - 1], a)] -= f;
            delta[pair_key(s[i - 1], m)] += f;
          }
          if (i + 2 < s.size()) {
            delta[pair_key(b, s[i + 2])] -= f;
            delta[pair_key(m, s[i + 2])] += f;
          }
          s[i] = m;
          s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
          changed = true;
        }
        ++i;
      }
      if (!changed) continue;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] == m || s[i + 1] == m) {
          auto& v = where[pair_key(s[i], s[i + 1])];
          if (v.empty() || v.back() != w) v.push_back(w);
        }
      }
    }
    pair_count.erase(top.pair);
    for (const auto& [k, d] : delta) {
      if (k == top.pair || d == 0) continue;
      int64_t& c = pair_count[k];
      c += d;
      if (d > 0) heap.push({c, k});
      if (c <= 0) pair_count.erase(k);
    }
    if (o.show_progress && n_merges % 100 == 0)
      std::fprintf(stderr, "\rtrain-tokenizer: %zu / %d tokens", tokens.size(), target);
  }
  if (o.show_progress)
    std::fprintf(stderr, "\rtrain-tokenizer: %zu / %d tokens\n", tokens.size(), target);

  // 4. tokenizer.json (HF format; the key order follows what `tokenizers` writes).
  using ojson = nlohmann::ordered_json;
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
  for (int i = 0; i < n_special; ++i)
    added.push_back({{"id", i},
                     {"content", o.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  ojson vocab = ojson::object();
  for (size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
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

}  // namespace grpo
