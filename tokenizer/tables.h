// tokenizer/tables.h: the flat lookup tables of a loaded tokenizer (internal to tokenizer/).
//
// Design: tables are filled once by the loader and only read afterwards, so const methods
// are safe from many threads. Each one trades generality for cache misses on the encode
// path: open addressing, keys packed into integers or one byte arena, no node chasing.
//  - FlatVocab: token spelling -> id.
//  - MergeTable: (left id, right id) -> (merge rank, merged id).
//  - AddedMatcher: a byte trie for the leftmost-longest match of added tokens.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpo::tok {

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
  // The merge of the pair (a, b), or nullptr if they do not merge. Needs reserve() first.
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

// Added tokens: a byte trie for leftmost-longest matching.
class AddedMatcher {
 public:
  AddedMatcher() : nodes_(1) { first_.fill(false); }
  // Adds `s` (non-empty) as the token with index `token_index` into the added-token list.
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

}  // namespace grpo::tok
