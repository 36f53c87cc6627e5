// models/tokenizer/tokenizer.cpp: loading tokenizer.json and the encode/decode pipeline.
//
// Encode, as Hugging Face `tokenizers` does it (facts from its documentation and its
// tokenizer.json format): (1) cut out added tokens that are not `normalized`, on the raw
// text (leftmost-longest, then the lstrip/rstrip/single_word rules); (2) normalise each
// remaining piece (NFC ...); (3) cut out the `normalized` added tokens; (4) pre-tokenise:
// each Split step runs its regex on every current piece and cuts it by `behavior`, and
// ByteLevel optionally prepends a space and splits by the GPT-2 regex; (5) BPE each
// pre-token from its bytes: repeatedly merge the adjacent pair with the lowest merge rank
// (leftmost first). Pre-token -> ids results are cached in a sharded, mutex-guarded map.
// Decode maps ids back to bytes (byte-level alphabet), added tokens to their content,
// and repairs invalid UTF-8 with U+FFFD.
#include "models/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/fs.h"
#include "models/tokenizer/regex.h"
#include "models/tokenizer/unicode.h"

namespace grpo {
namespace {

using json = nlohmann::json;
using tok::kGpt2Pattern;
using tok::NormForm;
using tok::Regex;

// ---------------------------------------------------------------------------------------
// Added tokens: a byte trie for leftmost-longest matching.

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

class AddedMatcher {
 public:
  AddedMatcher() : nodes_(1) { first_.fill(false); }
  void add(std::string_view s, int32_t token_index) {
    if (s.empty()) return;
    int32_t n = 0;
    for (unsigned char c : s) {
      int32_t nx = child(n, c);
      if (nx < 0) {
        nx = static_cast<int32_t>(nodes_.size());
        nodes_[n].next.emplace_back(c, nx);
        nodes_.emplace_back();
      }
      n = nx;
    }
    nodes_[n].token = token_index;
    first_[static_cast<unsigned char>(s[0])] = true;
  }
  bool empty() const { return nodes_.size() == 1; }
  bool may_start(unsigned char c) const { return first_[c]; }
  // Longest token starting at s[i]: returns its length (0: none) and sets `token_index`.
  size_t longest(std::string_view s, size_t i, int32_t& token_index) const {
    int32_t n = 0;
    size_t best = 0;
    for (size_t k = i; k < s.size(); ++k) {
      n = child(n, static_cast<unsigned char>(s[k]));
      if (n < 0) break;
      if (nodes_[n].token >= 0) {
        best = k + 1 - i;
        token_index = nodes_[n].token;
      }
    }
    return best;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t token = -1;
  };
  int32_t child(int32_t n, unsigned char c) const {
    for (const auto& [k, v] : nodes_[n].next)
      if (k == c) return v;
    return -1;
  }
  std::vector<Node> nodes_;
  std::array<bool, 256> first_;
};

// Start of the code point that ends just before byte `end` of valid UTF-8 `s`.
size_t prev_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// ---------------------------------------------------------------------------------------
// Merge table: open addressing over (left id, right id) -> (rank, merged id).

class MergeTable {
 public:
  struct Value {
    int32_t rank;
    int32_t id;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, {0, 0});
    mask_ = cap - 1;
  }
  void put(int32_t a, int32_t b, Value v) {
    const uint64_t k = key(a, b);
    size_t i = slot(k);
    while (keys_[i] != kEmpty && keys_[i] != k) i = (i + 1) & mask_;
    keys_[i] = k;
    vals_[i] = v;
  }
  const Value* find(int32_t a, int32_t b) const {
    const uint64_t k = key(a, b);
    size_t i = slot(k);
    while (true) {
      if (keys_[i] == k) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ULL;
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t k) const { return ((k * 0x9E3779B97F4A7C15ULL) >> 17) & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<Value> vals_;
  size_t mask_ = 0;
};

// ---------------------------------------------------------------------------------------

// Vocabulary: token spelling -> id in one open-addressing table whose keys live in a
// single byte arena (two cache misses a lookup instead of a node chase).
class FlatVocab {
 public:
  void reserve(size_t n, size_t bytes) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    arena_.reserve(bytes);
  }
  // Adds `key` -> id; false (and no change) if the key is already present.
  bool insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash(key);
    size_t i = h & mask_;
    for (; slots_[i].id >= 0; i = (i + 1) & mask_)
      if (slots_[i].hash == h && view(slots_[i]) == key) return false;
    slots_[i] = {h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
    arena_.append(key);
    ++size_;
    return true;
  }
  // Id of `key`, or -1.
  int32_t get(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(key);
    for (size_t i = h & mask_; slots_[i].id >= 0; i = (i + 1) & mask_)
      if (slots_[i].hash == h && view(slots_[i]) == key) return slots_[i].id;
    return -1;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t off = 0, len = 0;
    int32_t id = -1;
  };
  static uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  std::string_view view(const Slot& e) const {
    return std::string_view(arena_).substr(e.off, e.len);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, old.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& e : old) {
      if (e.id < 0) continue;
      size_t i = e.hash & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0, size_ = 0;
};

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreStep {
  enum Kind { kSplit, kPrefixSpace } kind = kSplit;
  std::unique_ptr<Regex> re;
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
constexpr size_t kCacheShards = 16;
constexpr size_t kCacheShardCapacity = 8192;  // entries; a full shard stops inserting
constexpr size_t kCacheMaxKey = 64;           // longer pre-tokens are not cached

}  // namespace

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

  void encode_text(std::string_view text, std::vector<int32_t>& out) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>& out) const;
  void encode_pretoken(std::string_view bytes, std::vector<int32_t>& out) const;
  void bpe(std::string_view bytes, std::vector<int32_t>& out) const;
  template <class F>
  void split_added(std::string_view s, const AddedMatcher& m, F&& f) const;
};

// ---------------------------------------------------------------------------------------
// Encode.

template <class F>
void Tokenizer::Impl::split_added(std::string_view s, const AddedMatcher& m, F&& f) const {
  if (m.empty()) {
    if (!s.empty()) f(s, -1);
    return;
  }
  size_t start_offset = 0, i = 0;
  while (i < s.size()) {
    if (!m.may_start(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    int32_t ti = -1;
    const size_t len = m.longest(s, i, ti);
    if (len == 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + len;
    const AddedToken& t = added[ti];
    if (t.single_word) {
      bool start_ok = true, stop_ok = true;
      if (start > 0) {
        size_t p = prev_char_start(s, start);
        start_ok = !tok::is_alphanumeric(tok::next_code_point(s, p));
      }
      if (stop < s.size()) {
        size_t p = stop;
        stop_ok = !tok::is_alphanumeric(tok::next_code_point(s, p));
      }
      if (!start_ok || !stop_ok) {
        i = stop;
        continue;
      }
    }
    if (t.lstrip) {
      size_t ns = start;
      while (ns > 0) {
        const size_t p = prev_char_start(s, ns);
        size_t q = p;
        if (!tok::is_whitespace(tok::next_code_point(s, q))) break;
        ns = p;
      }
      start = std::max(ns, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t q = stop;
        if (!tok::is_whitespace(tok::next_code_point(s, q))) break;
        stop = q;
      }
    }
    if (start > start_offset) f(s.substr(start_offset, start - start_offset), -1);
    f(s.substr(start, stop - start), t.id);
    start_offset = stop;
    i = stop;
  }
  if (start_offset < s.size()) f(s.substr(start_offset), -1);
}

void Tokenizer::Impl::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  split_added(text, raw_matcher, [&](std::string_view piece, int32_t id) {
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    std::string a, b;
    std::string_view s = piece;
    for (NormForm f : normalizers) {
      std::string& scratch = (s.data() == a.data()) ? b : a;
      s = tok::normalize(f, s, scratch);
    }
    split_added(s, norm_matcher, [&](std::string_view p2, int32_t id2) {
      if (id2 >= 0)
        out.push_back(id2);
      else
        encode_normalized(p2, out);
    });
  });
}

void Tokenizer::Impl::encode_normalized(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<std::string_view> cur{text}, next;
  std::deque<std::string> arena;  // pieces that gained a prefix space
  for (const PreStep& step : pre) {
    next.clear();
    if (step.kind == PreStep::kPrefixSpace) {
      for (std::string_view p : cur) {
        if (!p.empty() && p[0] == ' ') {
          next.push_back(p);
        } else {
          arena.emplace_back(" ").append(p);
          next.push_back(arena.back());
        }
      }
    } else {
      for (std::string_view p : cur) {
        // Segments covering p: (begin, end, is_match), matches flipped when invert.
        struct Seg {
          size_t a, b;
          bool m;
        };
        std::vector<Seg> segs;
        size_t prev = 0;
        step.re->for_each_match(p, [&](size_t a, size_t b) {
          if (a > prev) segs.push_back({prev, a, step.invert});
          segs.push_back({a, b, !step.invert});
          prev = b;
        });
        if (prev < p.size()) segs.push_back({prev, p.size(), step.invert});
        std::vector<Seg> keep;
        switch (step.behavior) {
          case Behavior::kIsolated:
            keep = std::move(segs);
            break;
          case Behavior::kRemoved:
            for (const Seg& s : segs)
              if (!s.m) keep.push_back(s);
            break;
          case Behavior::kMergedWithPrevious: {
            bool prev_match = false;
            for (const Seg& s : segs) {
              if (s.m && !prev_match && !keep.empty())
                keep.back().b = s.b;
              else
                keep.push_back(s);
              prev_match = s.m;
            }
            break;
          }
          case Behavior::kMergedWithNext: {
            bool prev_match = false;
            for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
              if (it->m && !prev_match && !keep.empty())
                keep.back().a = it->a;
              else
                keep.push_back(*it);
              prev_match = it->m;
            }
            std::reverse(keep.begin(), keep.end());
            break;
          }
          case Behavior::kContiguous: {
            bool prev_match = false;
            for (const Seg& s : segs) {
              if (s.m == prev_match && !keep.empty())
                keep.back().b = s.b;
              else
                keep.push_back(s);
              prev_match = s.m;
            }
            break;
          }
        }
        for (const Seg& s : keep)
          if (s.b > s.a) next.push_back(p.substr(s.a, s.b - s.a));
      }
    }
    std::swap(cur, next);
  }
  for (std::string_view p : cur)
    if (!p.empty()) encode_pretoken(p, out);
}

void Tokenizer::Impl::encode_pretoken(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.size() > kCacheMaxKey) {
    bpe(bytes, out);
    return;
  }
  CacheShard& sh = cache[StringHash{}(bytes) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.map.find(bytes);
    if (it != sh.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t at = out.size();
  bpe(bytes, out);
  std::lock_guard<std::mutex> lock(sh.mu);
  if (sh.map.size() < kCacheShardCapacity)
    sh.map.emplace(std::string(bytes), std::vector<int32_t>(out.begin() + at, out.end()));
}

void Tokenizer::Impl::bpe(std::string_view bytes, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    const int32_t id = vocab.get(tok::to_byte_level(bytes));
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Symbols: one per byte; a byte missing from the vocabulary becomes unk (or an error).
  std::vector<int32_t> w;
  w.reserve(bytes.size());
  for (unsigned char c : bytes) {
    const int32_t id = byte_id[c];
    if (id >= 0) {
      w.push_back(id);
    } else if (unk_id) {
      w.push_back(*unk_id);
    } else {
      throw Error(str(origin, ": byte 0x", std::hex, int(c),
                      " has no token in model.vocab "
                      "and there is no unk_token"));
    }
  }
  const size_t n = w.size();
  if (n <= 32) {
    // Short words: rescan for the lowest-rank pair (leftmost on ties) and merge it.
    size_t len = n;
    while (len > 1) {
      int32_t best_rank = INT32_MAX, best_id = -1;
      size_t best_i = 0;
      for (size_t i = 0; i + 1 < len; ++i) {
        const MergeTable::Value* v = merges.find(w[i], w[i + 1]);
        if (v && v->rank < best_rank) {
          best_rank = v->rank;
          best_id = v->id;
          best_i = i;
        }
      }
      if (best_id < 0) break;
      w[best_i] = best_id;
      std::copy(w.begin() + best_i + 2, w.begin() + len, w.begin() + best_i + 1);
      --len;
    }
    out.insert(out.end(), w.begin(), w.begin() + len);
    return;
  }
  // Long words: doubly linked symbols and a min-heap of (rank, position) candidates;
  // stale candidates are recognised by the ids they were made for.
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    int32_t rank, pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    const MergeTable::Value* v = merges.find(w[i], w[next[i]]);
    if (v) heap.push({v->rank, i, w[i], w[next[i]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  std::vector<uint8_t> dead(n, 0);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t i = c.pos;
    if (dead[i] || next[i] < 0 || w[i] != c.left || w[next[i]] != c.right) continue;
    const int32_t j = next[i];
    w[i] = merges.find(c.left, c.right)->id;
    dead[j] = 1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(w[i]);
}

// ---------------------------------------------------------------------------------------
// Loading.

namespace {

// Streams tokenizer.json: model.vocab and model.merges (the bulk of an 8-11 MB file) go
// straight into flat vectors; everything else becomes a small DOM. Avoids building a
// JSON tree of ~300k nodes, which is most of the load time of the DOM parser.
class TokenizerSax : public nlohmann::json_sax<json> {
 public:
  json root;
  bool has_vocab = false, has_merges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string error;  // the first structural error (field: what), or a parse error

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == kVocab) return vocab_entry(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == kVocab) return vocab_entry(v > INT64_MAX ? -1 : static_cast<int64_t>(v));
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == kMerges) {
      const size_t sp = v.find(' ');
      if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos)
        return fail_merge(str("\"", v, "\" must be two tokens separated by one space"));
      merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == kMergePair) {
      if (pair_.size() >= 2) return fail_merge("must be a string \"a b\" or a pair [\"a\", \"b\"]");
      pair_.push_back(std::move(v));
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return value(json()); }
  bool start_object(std::size_t) override {
    if (mode_ != kDom) return mode_ == kVocab ? vocab_entry(-1) : fail_merge_shape();
    if (model_ && !stack_.empty() && stack_.back() == model_ && key_ == "vocab") {
      mode_ = kVocab;
      has_vocab = true;
      return true;
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == kVocab) {
      mode_ = kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == kMerges) {
      mode_ = kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != kDom) return mode_ == kVocab ? vocab_entry(-1) : fail_merge_shape();
    if (model_ && !stack_.empty() && stack_.back() == model_ && key_ == "merges") {
      mode_ = kMerges;
      has_merges = true;
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == kMergePair) {
      if (pair_.size() != 2) return fail_merge_shape();
      merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = kMerges;
      return true;
    }
    if (mode_ == kMerges) {
      mode_ = kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = str("not valid JSON: ", e.what());
    return false;
  }

 private:
  enum Mode { kDom, kVocab, kMerges, kMergePair };
  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) {
      error = str("model.vocab[\"", key_, "\"]: must be a non-negative 32-bit integer id");
      return false;
    }
    vocab.emplace_back(std::move(key_), id);
    return true;
  }
  bool fail_merge(const std::string& what) {
    error = str("model.merges[", merges.size(), "]: ", what);
    return false;
  }
  bool fail_merge_shape() {
    return fail_merge("must be a string \"a b\" or a pair [\"a\", \"b\"]");
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      json& slot = top[key_];
      slot = std::move(v);
      return &slot;
    }
    top.push_back(std::move(v));
    return &top.back();
  }
  bool value(json&& v) {
    if (mode_ == kVocab) return vocab_entry(-1);
    if (mode_ != kDom) return fail_merge_shape();
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    const bool is_model = stack_.size() == 1 && key_ == "model" && container.is_object();
    json* p = place(std::move(container));
    if (is_model) model_ = p;
    stack_.push_back(p);
    return true;
  }
  Mode mode_ = kDom;
  std::vector<json*> stack_;
  json* model_ = nullptr;
  std::string key_;
  std::vector<std::string> pair_;
};

// Ids index dense tables, so a corrupt id must not size them: 16M is 60x the largest
// vocabularies in use.
constexpr int64_t kMaxId = int64_t{1} << 24;

struct Loader {
  std::string origin;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(str(origin, ": ", field, ": ", what));
  }
  const json* opt(const json& obj, const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& need(const json& obj, const char* key, const std::string& field) const {
    const json* v = opt(obj, key);
    if (!v) fail(field + "." + key, "missing");
    return *v;
  }
  bool boolean(const json& obj, const char* key, const std::string& field, bool def) const {
    const json* v = opt(obj, key);
    if (!v) return def;
    if (!v->is_boolean()) fail(field + "." + key, "must be true or false");
    return v->get<bool>();
  }
  std::string string(const json& obj, const char* key, const std::string& field) const {
    const json& v = need(obj, key, field);
    if (!v.is_string()) fail(field + "." + key, "must be a string");
    return v.get<std::string>();
  }
  int32_t id(const json& v, const std::string& field) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxId)
      fail(field, str("must be an integer id in [0, ", kMaxId, ")"));
    return static_cast<int32_t>(v.get<int64_t>());
  }
  std::string type(const json& v, const std::string& field) const {
    if (!v.is_object()) fail(field, "must be an object");
    return string(v, "type", field);
  }

  void model(const json& root, const TokenizerSax& sax, Tokenizer::Impl& t) const {
    const json& m = need(root, "model", "tokenizer.json");
    if (!m.is_object()) fail("model", "must be an object");
    if (const json* ty = opt(m, "type")) {
      if (!ty->is_string() || ty->get<std::string>() != "BPE")
        fail("model.type", str("only BPE models are supported, got ", ty->dump()));
    }
    if (const json* d = opt(m, "dropout")) {
      if (!d->is_number() || d->get<double>() != 0.0)
        fail("model.dropout", "BPE dropout is not supported (must be null)");
    }
    if (boolean(m, "byte_fallback", "model", false))
      fail("model.byte_fallback", "byte_fallback BPE is not supported");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const json* v = opt(m, k);
      if (v && (!v->is_string() || !v->get<std::string>().empty()))
        fail(str("model.", k), "must be null or empty for a byte-level BPE");
    }
    t.ignore_merges = boolean(m, "ignore_merges", "model", false);

    if (!sax.has_vocab) {
      need(m, "vocab", "model");
      fail("model.vocab", "must be an object {token: id}");
    }
    if (!sax.has_merges) {
      if (opt(m, "merges")) fail("model.merges", "must be an array");
    }
    size_t total_bytes = 0;
    for (const auto& e : sax.vocab) total_bytes += e.first.size();
    t.vocab.reserve(sax.vocab.size(), total_bytes);
    int32_t max_id = -1;
    for (const auto& [tokstr, id64] : sax.vocab)
      max_id = std::max(max_id, static_cast<int32_t>(id64));
    if (max_id >= kMaxId)
      fail("model.vocab",
           str("id ", max_id, " is not below ", kMaxId, " (tables are sized by id)"));
    t.id_to_tok.assign(max_id + 1, std::string());
    t.id_in_vocab.assign(max_id + 1, 0);
    for (auto& [tokstr, id64] : sax.vocab) {
      const auto id = static_cast<int32_t>(id64);
      if (t.id_in_vocab[id])
        fail("model.vocab", str("id ", id, " is used by two tokens (\"", t.id_to_tok[id],
                                "\" and \"", tokstr, "\")"));
      t.id_in_vocab[id] = 1;
      t.vocab.insert(tokstr, id);
      t.id_to_tok[id] = std::move(tokstr);
    }
    auto lookup = [&](std::string_view s, auto&& field) {
      const int32_t id = t.vocab.get(s);
      if (id < 0) fail(field(), str("token \"", s, "\" is not in model.vocab"));
      return id;
    };
    if (const json* u = opt(m, "unk_token")) {
      if (!u->is_string()) fail("model.unk_token", "must be a string or null");
      t.unk_id = lookup(u->get<std::string>(), [] { return std::string("model.unk_token"); });
    }
    t.merges.reserve(sax.merges.size());
    std::string ab;
    for (size_t i = 0; i < sax.merges.size(); ++i) {
      const auto& [a, b] = sax.merges[i];
      auto field = [i] { return str("model.merges[", i, "]"); };
      ab.assign(a).append(b);
      const int32_t ia = lookup(a, field), ib = lookup(b, field), im = lookup(ab, field);
      t.merges.put(ia, ib, {static_cast<int32_t>(i), im});
    }
    const auto& bl = tok::ByteLevelMap::get();
    for (int c = 0; c < 256; ++c) {
      t.byte_id[c] = t.vocab.get(bl.byte_to_utf8[c]);
    }
  }

  void added_tokens(const json& root, Tokenizer::Impl& t) const {
    const json* arr = opt(root, "added_tokens");
    if (!arr) return;
    if (!arr->is_array()) fail("added_tokens", "must be an array");
    for (size_t i = 0; i < arr->size(); ++i) {
      const json& e = (*arr)[i];
      const std::string field = str("added_tokens[", i, "]");
      if (!e.is_object()) fail(field, "must be an object");
      AddedToken a;
      a.id = id(need(e, "id", field), field + ".id");
      a.content = string(e, "content", field);
      if (a.content.empty()) fail(field + ".content", "must not be empty");
      if (tok::find_invalid_utf8(a.content) != std::string_view::npos)
        fail(field + ".content", "is not valid UTF-8");
      a.single_word = boolean(e, "single_word", field, false);
      a.lstrip = boolean(e, "lstrip", field, false);
      a.rstrip = boolean(e, "rstrip", field, false);
      a.normalized = boolean(e, "normalized", field, !boolean(e, "special", field, false));
      a.special = boolean(e, "special", field, false);
      t.added.push_back(std::move(a));
    }
  }

  void normalizer(const json& n, const std::string& field, Tokenizer::Impl& t) const {
    const std::string ty = type(n, field);
    if (ty == "Sequence") {
      const json& list = need(n, "normalizers", field);
      if (!list.is_array()) fail(field + ".normalizers", "must be an array");
      for (size_t i = 0; i < list.size(); ++i)
        normalizer(list[i], str(field, ".normalizers[", i, "]"), t);
    } else if (ty == "NFC") {
      t.normalizers.push_back(NormForm::kNFC);
    } else if (ty == "NFD") {
      t.normalizers.push_back(NormForm::kNFD);
    } else if (ty == "NFKC") {
      t.normalizers.push_back(NormForm::kNFKC);
    } else if (ty == "NFKD") {
      t.normalizers.push_back(NormForm::kNFKD);
    } else {
      fail(field + ".type",
           str("unsupported normalizer \"", ty, "\" (supported: Sequence, NFC, NFD, NFKC, NFKD)"));
    }
  }

  static Behavior behavior(const std::string& s, const Loader& l, const std::string& field) {
    if (s == "Removed") return Behavior::kRemoved;
    if (s == "Isolated") return Behavior::kIsolated;
    if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
    if (s == "MergedWithNext") return Behavior::kMergedWithNext;
    if (s == "Contiguous") return Behavior::kContiguous;
    l.fail(field, str("unknown behavior \"", s, "\""));
  }

  void pre_tokenizer(const json& p, const std::string& field, Tokenizer::Impl& t,
                     bool& byte_level) const {
    const std::string ty = type(p, field);
    if (ty == "Sequence") {
      const json& list = need(p, "pretokenizers", field);
      if (!list.is_array()) fail(field + ".pretokenizers", "must be an array");
      for (size_t i = 0; i < list.size(); ++i)
        pre_tokenizer(list[i], str(field, ".pretokenizers[", i, "]"), t, byte_level);
    } else if (ty == "Split") {
      const json& pat = need(p, "pattern", field);
      const json* re = pat.is_object() ? opt(pat, "Regex") : nullptr;
      const json* lit = pat.is_object() ? opt(pat, "String") : nullptr;
      if (!(re && re->is_string()) && !(lit && lit->is_string()))
        fail(field + ".pattern", "must be {\"Regex\": \"...\"} or {\"String\": \"...\"}");
      PreStep s;
      s.re = std::make_unique<Regex>(re ? re->get<std::string>() : lit->get<std::string>(),
                                     re == nullptr, str(origin, ": ", field, ".pattern"));
      s.behavior = behavior(string(p, "behavior", field), *this, field + ".behavior");
      s.invert = boolean(p, "invert", field, false);
      t.pre.push_back(std::move(s));
    } else if (ty == "ByteLevel") {
      byte_level = true;
      if (boolean(p, "add_prefix_space", field, true)) {
        PreStep s;
        s.kind = PreStep::kPrefixSpace;
        t.pre.push_back(std::move(s));
      }
      if (boolean(p, "use_regex", field, true)) {
        PreStep s;
        s.re = std::make_unique<Regex>(kGpt2Pattern, false, str(origin, ": ", field));
        t.pre.push_back(std::move(s));
      }
    } else {
      fail(field + ".type",
           str("unsupported pre_tokenizer \"", ty, "\" (supported: Sequence, Split, ByteLevel)"));
    }
  }

  // Appends the ids a post-processor adds around a single sequence.
  void post_processor(const json& p, const std::string& field, Tokenizer::Impl& t) const {
    const std::string ty = type(p, field);
    if (ty == "ByteLevel") return;  // offsets only
    if (ty == "Sequence") {
      const json& list = need(p, "processors", field);
      if (!list.is_array()) fail(field + ".processors", "must be an array");
      for (size_t i = 0; i < list.size(); ++i)
        post_processor(list[i], str(field, ".processors[", i, "]"), t);
      return;
    }
    if (ty == "TemplateProcessing") {
      const json& single = need(p, "single", field);
      const json& specials = need(p, "special_tokens", field);
      if (!single.is_array()) fail(field + ".single", "must be an array");
      bool seen_a = false;
      for (size_t i = 0; i < single.size(); ++i) {
        const std::string f = str(field, ".single[", i, "]");
        const json& item = single[i];
        if (item.is_object() && item.contains("Sequence")) {
          seen_a = true;
        } else if (item.is_object() && item.contains("SpecialToken")) {
          const std::string name = string(item["SpecialToken"], "id", f + ".SpecialToken");
          const json* sp = opt(specials, name.c_str());
          if (!sp) fail(field + ".special_tokens", str("has no entry \"", name, "\""));
          const json& ids = need(*sp, "ids", field + ".special_tokens." + name);
          for (const json& v : ids) (seen_a ? t.suffix_ids : t.prefix_ids).push_back(id(v, f));
        } else {
          fail(f, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        }
      }
      return;
    }
    if (ty == "RobertaProcessing" || ty == "BertProcessing") {
      const json& cls = need(p, "cls", field);
      const json& sep = need(p, "sep", field);
      if (!cls.is_array() || cls.size() != 2 || !sep.is_array() || sep.size() != 2)
        fail(field, "cls and sep must be [token, id] pairs");
      t.prefix_ids.push_back(id(cls[1], field + ".cls"));
      t.suffix_ids.push_back(id(sep[1], field + ".sep"));
      return;
    }
    fail(field + ".type", str("unsupported post_processor \"", ty, "\""));
  }

  void decoder(const json& d, const std::string& field, Tokenizer::Impl& t) const {
    const std::string ty = type(d, field);
    if (ty == "ByteLevel") return;
    if (ty == "Sequence") {
      const json& list = need(d, "decoders", field);
      if (!list.is_array() || list.size() != 1)
        fail(field + ".decoders", "only a Sequence holding one ByteLevel decoder is supported");
      decoder(list[0], field + ".decoders[0]", t);
      return;
    }
    fail(field + ".type", str("unsupported decoder \"", ty, "\" (supported: ByteLevel)"));
  }
};

// A token named in tokenizer_config.json: "text", {"content": "text"} or null.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, const std::string& origin,
                               std::string_view tokenizer_config_json) {
  Loader L{origin};
  TokenizerSax sax;
  const bool parsed = json::sax_parse(tokenizer_json.begin(), tokenizer_json.end(), &sax);
  if (!parsed || !sax.error.empty())
    throw Error(str(origin, ": ", sax.error.empty() ? "not valid JSON" : sax.error));
  const json& root = sax.root;
  if (!root.is_object()) throw Error(str(origin, ": must hold a JSON object"));
  auto t = std::make_shared<Impl>();
  t->origin = origin;
  L.model(root, sax, *t);
  L.added_tokens(root, *t);

  if (const json* n = L.opt(root, "normalizer")) L.normalizer(*n, "normalizer", *t);
  bool byte_level = false;
  if (const json* p = L.opt(root, "pre_tokenizer"))
    L.pre_tokenizer(*p, "pre_tokenizer", *t, byte_level);
  if (!byte_level)
    L.fail("pre_tokenizer", "no ByteLevel pre-tokenizer: only byte-level BPE is supported");
  if (const json* p = L.opt(root, "post_processor")) L.post_processor(*p, "post_processor", *t);
  if (const json* d = L.opt(root, "decoder"))
    L.decoder(*d, "decoder", *t);
  else
    t->byte_level_decoder = false;

  // Sizes and the id -> added token index.
  int32_t size = static_cast<int32_t>(t->id_to_tok.size());
  for (const AddedToken& a : t->added) size = std::max(size, a.id + 1);
  t->size = size;
  t->id_to_tok.resize(size);
  t->id_in_vocab.resize(size, 0);
  t->added_index.assign(size, -1);
  for (size_t i = 0; i < t->added.size(); ++i) {
    AddedToken& a = t->added[i];
    t->added_index[a.id] = static_cast<int32_t>(i);
    t->added_by_content[a.content] = a.id;
    if (a.normalized) {
      std::string content = a.content, scratch;
      for (NormForm f : t->normalizers) content = std::string(tok::normalize(f, content, scratch));
      t->norm_matcher.add(content, static_cast<int32_t>(i));
    } else {
      t->raw_matcher.add(a.content, static_cast<int32_t>(i));
    }
  }
  for (int32_t id : t->prefix_ids)
    if (id >= size) L.fail("post_processor", str("special token id ", id, " is out of range"));
  for (int32_t id : t->suffix_ids)
    if (id >= size) L.fail("post_processor", str("special token id ", id, " is out of range"));
  t->id_bytes.resize(size);
  for (int32_t id = 0; id < size; ++id) {
    if (t->added_index[id] >= 0)
      t->id_bytes[id] = t->added[t->added_index[id]].content;
    else if (t->id_in_vocab[id])
      t->id_bytes[id] =
          t->byte_level_decoder ? tok::from_byte_level(t->id_to_tok[id]) : t->id_to_tok[id];
  }

  // tokenizer_config.json: special ids and the bos/eos policy of add_special_tokens.
  if (!tokenizer_config_json.empty()) {
    json cfg;
    const std::string cfg_origin = origin + " (tokenizer_config.json)";
    try {
      cfg = json::parse(tokenizer_config_json);
    } catch (const json::parse_error& e) {
      throw Error(str(cfg_origin, ": not valid JSON: ", e.what()));
    }
    if (!cfg.is_object()) throw Error(str(cfg_origin, ": must hold a JSON object"));
    Tokenizer probe(t);
    auto resolve = [&](const char* key) -> std::optional<int32_t> {
      auto s = config_token(cfg, key);
      return s ? probe.token_to_id(*s) : std::nullopt;
    };
    t->bos = resolve("bos_token");
    t->eos = resolve("eos_token");
    t->pad = resolve("pad_token");
    Loader C{cfg_origin};
    if (cfg.contains("add_bos_token") || cfg.contains("add_eos_token")) {
      t->prefix_ids.clear();
      t->suffix_ids.clear();
      if (C.boolean(cfg, "add_bos_token", "tokenizer_config", false)) {
        if (!t->bos) C.fail("add_bos_token", "is true but bos_token is not in the vocabulary");
        t->prefix_ids.push_back(*t->bos);
      }
      if (C.boolean(cfg, "add_eos_token", "tokenizer_config", false)) {
        if (!t->eos) C.fail("add_eos_token", "is true but eos_token is not in the vocabulary");
        t->suffix_ids.push_back(*t->eos);
      }
    }
  }
  return Tokenizer(std::move(t));
}

Tokenizer Tokenizer::from_file(const std::string& path_or_dir) {
  namespace stdfs = std::filesystem;
  stdfs::path p(path_or_dir);
  std::error_code ec;
  if (stdfs::is_directory(p, ec)) p /= "tokenizer.json";
  if (!stdfs::exists(p, ec))
    throw Error(str("tokenizer: ", p.string(),
                    " does not exist (give a tokenizer.json or the "
                    "folder holding it)"));
  const std::string text = fs::read_file(p.string());
  std::string cfg;
  const stdfs::path cfg_path = p.parent_path() / "tokenizer_config.json";
  if (stdfs::exists(cfg_path, ec)) cfg = fs::read_file(cfg_path.string());
  return from_json(text, p.string(), cfg);
}

// ---------------------------------------------------------------------------------------
// Public methods.

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const size_t bad = tok::find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw Error(str("tokenizer: encode: input is not valid UTF-8 at byte ", bad));
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special_tokens) out.insert(out.end(), impl_->prefix_ids.begin(), impl_->prefix_ids.end());
  impl_->encode_text(text, out);
  if (add_special_tokens) out.insert(out.end(), impl_->suffix_ids.begin(), impl_->suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::string bytes;
  bool first = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= t.size || (t.added_index[id] < 0 && !t.id_in_vocab[id]))
      throw Error(str("tokenizer: decode: id ", id, " at position ", i,
                      " is not in the "
                      "vocabulary of ",
                      t.origin, " (size ", t.size, ")"));
    const int32_t ai = t.added_index[id];
    if (ai >= 0 && skip_special_tokens && t.added[ai].special) continue;
    if (!t.byte_level_decoder && !first) bytes.push_back(' ');
    bytes += t.id_bytes[id];
    first = false;
  }
  return tok::utf8_lossy(bytes);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto a = impl_->added_by_content.find(token);
  if (a != impl_->added_by_content.end()) return a->second;
  const int32_t id = impl_->vocab.get(token);
  if (id >= 0) return id;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const Impl& t = *impl_;
  if (id < 0 || id >= t.size) return std::nullopt;
  if (t.added_index[id] >= 0) return t.added[t.added_index[id]].content;
  if (t.id_in_vocab[id]) return t.id_to_tok[id];
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return impl_->size; }

bool Tokenizer::is_special(int32_t id) const {
  const Impl& t = *impl_;
  return id >= 0 && id < t.size && t.added_index[id] >= 0 && t.added[t.added_index[id]].special;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl_->pad; }
const std::string& Tokenizer::origin() const { return impl_->origin; }

}  // namespace grpo
