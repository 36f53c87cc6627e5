// tokenizer/encode.cpp: the encode pipeline of a loaded tokenizer (Tokenizer::Impl).
//
// As Hugging Face `tokenizers` does it (facts from its documentation and its
// tokenizer.json format): (1) cut out added tokens that are not `normalized`, on the raw
// text (leftmost-longest, then the lstrip/rstrip/single_word rules); (2) normalise each
// remaining piece (NFC ...); (3) cut out the `normalized` added tokens; (4) pre-tokenise:
// each Split step runs its regex on every current piece and cuts it by `behavior`, and
// ByteLevel optionally prepends a space and splits by the GPT-2 regex; (5) BPE each
// pre-token from its bytes: repeatedly merge the adjacent pair with the lowest merge rank
// (leftmost first). Pre-token -> ids results are cached in a sharded, mutex-guarded map.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <queue>

#include "core/error.h"
#include "tokenizer/impl.h"

namespace grpo::tok {
namespace {

// Start of the code point that ends just before byte `end` of valid UTF-8 `s`.
size_t prev_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// single_word: the match [start, stop) must not touch an alphanumeric character.
bool is_single_word(std::string_view s, size_t start, size_t stop) {
  if (start > 0) {
    size_t p = prev_char_start(s, start);
    if (is_alphanumeric(next_code_point(s, p))) return false;
  }
  if (stop < s.size()) {
    size_t p = stop;
    if (is_alphanumeric(next_code_point(s, p))) return false;
  }
  return true;
}

// lstrip: the match also takes the whitespace before `start`.
size_t strip_left(std::string_view s, size_t start) {
  while (start > 0) {
    const size_t p = prev_char_start(s, start);
    size_t q = p;
    if (!is_whitespace(next_code_point(s, q))) break;
    start = p;
  }
  return start;
}

// rstrip: the match also takes the whitespace after `stop`.
size_t strip_right(std::string_view s, size_t stop) {
  while (stop < s.size()) {
    size_t q = stop;
    if (!is_whitespace(next_code_point(s, q))) break;
    stop = q;
  }
  return stop;
}

// A stretch [a, b) of a piece being pre-tokenised; `m`: the step counts it as a match.
struct Seg {
  size_t a, b;
  bool m;
};

// The segments covering `p`: the regex's matches and the stretches between them, matches
// flipped when `invert`.
std::vector<Seg> segments(std::string_view p, const PreStep& step) {
  std::vector<Seg> segs;
  size_t prev = 0;
  step.re->for_each_match(p, [&](size_t a, size_t b) {
    if (a > prev) segs.push_back({prev, a, step.invert});
    segs.push_back({a, b, !step.invert});
    prev = b;
  });
  if (prev < p.size()) segs.push_back({prev, p.size(), step.invert});
  return segs;
}

// Joins matched segments with a neighbour, or drops them, as `behavior` says.
std::vector<Seg> apply_behavior(std::vector<Seg> segs, Behavior behavior) {
  std::vector<Seg> keep;
  bool prev_match = false;
  switch (behavior) {
    case Behavior::kIsolated:
      return segs;
    case Behavior::kRemoved:
      for (const Seg& s : segs)
        if (!s.m) keep.push_back(s);
      return keep;
    case Behavior::kMergedWithPrevious:
      for (const Seg& s : segs) {
        if (s.m && !prev_match && !keep.empty())
          keep.back().b = s.b;
        else
          keep.push_back(s);
        prev_match = s.m;
      }
      return keep;
    case Behavior::kMergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->m && !prev_match && !keep.empty())
          keep.back().a = it->a;
        else
          keep.push_back(*it);
        prev_match = it->m;
      }
      std::reverse(keep.begin(), keep.end());
      return keep;
    case Behavior::kContiguous:
      for (const Seg& s : segs) {
        if (s.m == prev_match && !keep.empty())
          keep.back().b = s.b;
        else
          keep.push_back(s);
        prev_match = s.m;
      }
      return keep;
  }
  return keep;
}

// One pre-tokeniser step over every current piece; pieces that gain a prefix space are
// stored in `arena` (a deque: views into it stay valid).
void run_step(const PreStep& step, const std::vector<std::string_view>& cur,
              std::vector<std::string_view>& next, std::deque<std::string>& arena) {
  next.clear();
  for (std::string_view p : cur) {
    if (step.kind == PreStep::kPrefixSpace) {
      if (!p.empty() && p[0] == ' ') {
        next.push_back(p);
      } else {
        arena.emplace_back(" ").append(p);
        next.push_back(arena.back());
      }
      continue;
    }
    for (const Seg& s : apply_behavior(segments(p, step), step.behavior))
      if (s.b > s.a) next.push_back(p.substr(s.a, s.b - s.a));
  }
}

}  // namespace

// Calls f(piece, -1) for each stretch of `s` between added tokens and f(match, id) for each
// added token found by `m` (leftmost-longest, then single_word/lstrip/rstrip as in HF).
template <class F>
void Tokenizer::Impl::split_added(std::string_view s, const AddedMatcher& m, F&& f) const {
  if (m.empty()) {
    if (!s.empty()) f(s, -1);
    return;
  }
  size_t start_offset = 0, i = 0;
  while (i < s.size()) {
    int32_t ti = -1;
    const size_t len =
        m.may_start(static_cast<unsigned char>(s[i])) ? m.longest(s, i, ti) : size_t{0};
    if (len == 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + len;
    const AddedToken& t = added[ti];
    if (t.single_word && !is_single_word(s, start, stop)) {
      i = stop;
      continue;
    }
    if (t.lstrip) start = std::max(strip_left(s, start), start_offset);
    if (t.rstrip) stop = strip_right(s, stop);
    if (start > start_offset) f(s.substr(start_offset, start - start_offset), -1);
    f(s.substr(start, stop - start), t.id);
    start_offset = stop;
    i = stop;
  }
  if (start_offset < s.size()) f(s.substr(start_offset), -1);
}

void Tokenizer::Impl::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  split_added(text, raw_matcher, [&](std::string_view piece, int32_t id) {
    if (id >= 0)
      out.push_back(id);
    else
      encode_piece(piece, out);
  });
}

// A stretch between raw added tokens: normalise, then cut out the normalized added tokens.
void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::string a, b;
  std::string_view s = piece;
  for (NormForm f : normalizers) {
    std::string& scratch = (s.data() == a.data()) ? b : a;
    s = normalize(f, s, scratch);
  }
  split_added(s, norm_matcher, [&](std::string_view p, int32_t id) {
    if (id >= 0)
      out.push_back(id);
    else
      encode_normalized(p, out);
  });
}

void Tokenizer::Impl::encode_normalized(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<std::string_view> cur{text}, next;
  std::deque<std::string> arena;  // pieces that gained a prefix space
  for (const PreStep& step : pre) {
    run_step(step, cur, next, arena);
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
    const int32_t id = vocab.get(to_byte_level(bytes));
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<int32_t> w = byte_symbols(bytes);
  if (w.size() <= 32) {
    const size_t len = merge_short(w);
    out.insert(out.end(), w.begin(), w.begin() + len);
  } else {
    merge_long(w, out);
  }
}

// One symbol per byte; a byte missing from the vocabulary becomes unk (or an error).
std::vector<int32_t> Tokenizer::Impl::byte_symbols(std::string_view bytes) const {
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
                      " has no token in model.vocab and there is no unk_token"));
    }
  }
  return w;
}

// Short words: rescan for the lowest-rank pair (leftmost on ties) and merge it, in place.
// Returns the number of symbols left at the front of `w`.
size_t Tokenizer::Impl::merge_short(std::vector<int32_t>& w) const {
  size_t len = w.size();
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
  return len;
}

// Long words: doubly linked symbols and a min-heap of (rank, position) candidates; stale
// candidates are recognised by the ids they were made for. Appends the result to `out`.
void Tokenizer::Impl::merge_long(std::vector<int32_t>& w, std::vector<int32_t>& out) const {
  const size_t n = w.size();
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

}  // namespace grpo::tok
